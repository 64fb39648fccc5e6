package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

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

// A decoy someone used shows as tripped, first in the table, above keys
// used since.
func TestTrippedDecoyIsOnTop(t *testing.T) {
	st := sampleBolt(t)
	ctx := context.Background()
	d, err := st.CreateKey(ctx, storage.CreateRequest{Name: "zz bait", Channel: "default", Environment: "prod", Decoy: true})
	if err != nil {
		t.Fatal(err)
	}
	// Used long ago: by last use alone it would sort below every used key.
	if err := st.RecordDecoyUse(ctx, storage.DecoyUse{Hash: d.Key.Hash, At: testNow.Add(-400 * 24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h := start(t, setup{store: st})
	h.waitFor(t, "7 keys", "tripped")
	a := h.final(t)
	lines := strings.Split(ansi.Strip(a.View()), "\n")
	first := ""
	for i, l := range lines {
		if strings.Contains(l, "NAME") && i+1 < len(lines) {
			first = lines[i+1]
			break
		}
	}
	if !strings.Contains(first, "zz bait") || !strings.Contains(first, "tripped") {
		t.Fatalf("first row %q, want the tripped decoy:\n%s", first, strings.Join(lines, "\n"))
	}
}
