package tui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"keyden/internal/hostile"
	"keyden/internal/verifiertest"
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

// Disable, delete and rotate on marked keys say how they landed on the
// running verifiers, as on one key: refused (in force) by all, or who has
// not confirmed.
func TestBulkChangesSayHowTheyLandedOnTheVerifiers(t *testing.T) {
	st := reviewBolt(t)
	verifiertest.Start(t, st, "v1")
	h := start(t, setup{store: st, w: 200, h: 40})
	h.waitFor(t, "9 keys")
	h.press("r", "A", "x")
	h.waitFor(t, "Disable 4 keys?")
	h.press("right", "4", "enter")
	h.waitFor(t, "Disabled 4 keys. Refused by 1/1 verifier in ")
	h.final(t)

	h = start(t, setup{store: st, w: 200, h: 40})
	h.waitFor(t, "9 keys")
	h.press("/", "fresh", "enter", " ", "esc", "/", "ios", "enter", " ")
	h.waitFor(t, "2 marked")
	h.press("R")
	h.waitFor(t, "Rotate 2 keys?")
	h.press("y")
	h.waitFor(t, "Rotated 2 keys. In force on 1/1 verifier in ")
	h.final(t)

	// A verifier that stopped applying changes (alive, but behind) is
	// named once the wait is over.
	h = start(t, setup{store: st, w: 200, h: 40, wait: 300 * time.Millisecond})
	h.waitFor(t, "11 keys") // two new from the rotation
	h.press("/", "by:bob", "enter", "A")
	h.waitFor(t, "3 marked")
	h.press("d")
	h.waitFor(t, "Delete 3 keys?")
	if err := st.Heartbeat(context.Background(), storage.Verifier{ID: "v2", Host: "web2", PID: 8, Listen: "127.0.0.1:8081", Applied: 1, Beat: time.Now()}); err != nil {
		t.Fatal(err)
	}
	h.press("right", "3", "enter")
	h.waitFor(t, "Deleted 3 keys. Refused by 1/2 verifiers after ", "not confirmed by web2 pid 8 on 127.0.0.1:8081")
	h.final(t)
}

// A rotation of one key says how it landed, as a delete does.
func TestRotateSaysHowItLandedOnTheVerifiers(t *testing.T) {
	st := reviewBolt(t)
	verifiertest.Start(t, st, "v1")
	h := start(t, setup{store: st, w: 200, h: 40})
	h.waitFor(t, "9 keys")
	h.press("/", "partner", "enter", "R")
	h.waitFor(t, "Rotate this key?")
	h.press("y")
	h.waitFor(t, "Rotated partner feed; the old key works until ", "In force on 1/1 verifier in ")
	h.final(t)
}

// A verifier's record is text from the store (its host and address, as a
// crafted or restored store holds them): the results screen of a bulk
// change that names it as not confirmed shows it escaped, as the status
// line does.
func TestBulkResultsEscapeAVerifiersStoredText(t *testing.T) {
	st := reviewBolt(t)
	if err := st.Heartbeat(context.Background(), storage.Verifier{ID: "v2", Host: hostile.Text, PID: 8, Listen: hostile.Text, Applied: 1, Beat: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	h := start(t, setup{store: st, w: 200, h: 40, wait: 100 * time.Millisecond})
	h.waitFor(t, "9 keys")
	h.press("/", "by:bob", "enter", "A", "x")
	h.waitFor(t, "Disable 3 keys?")
	h.press("right", "3", "enter")
	h.waitFor(t, "Disabled 3 keys. Refused by 0/1 verifiers after ", `not confirmed by \x1b]52;c;`)
	frame := *h.rec.last.Load()
	if bad, ok := hostile.Clean(strings.NewReplacer("\x1b[7m", "", "\x1b[0m", "").Replace(frame)); !ok {
		t.Errorf("the frame holds %U:\n%q", bad, frame)
	}
	h.final(t)
}
