package tui

import (
	"context"
	"testing"
	"time"

	"keyden/storage"
)

// With a verifier running, a disable in the TUI says how it landed, as
// the command line does.
func TestDisableSaysHowItLandedOnTheVerifiers(t *testing.T) {
	st := boltStore(t)
	ctx := context.Background()
	if _, err := st.CreateKey(ctx, storage.CreateRequest{Name: "web checkout", Channel: "default", Environment: "dev"}); err != nil {
		t.Fatal(err)
	}
	// A verifier that has applied every change there will be.
	if err := st.Heartbeat(ctx, storage.Verifier{ID: "v", Host: "web1", PID: 7, Listen: "127.0.0.1:8080", Applied: 1 << 40, Beat: time.Now()}); err != nil {
		t.Fatal(err)
	}
	h := start(t, setup{store: st})
	h.waitFor(t, "1 key · ")
	h.press("x")
	h.waitFor(t, "Refused by 1/1")
	h.final(t)
}
