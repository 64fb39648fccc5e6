package tui

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keyden/internal/fixture"
	"keyden/keyindex"
	"keyden/model"
	"keyden/storage"
)

// A store damaged while the TUI shows it: the status line says so in a
// sentence and the app keeps working; the old code crashed the process
// (bbolt's panic, or SIGBUS on the cut-short map) at the next poll.
func TestStoreDamagedUnderTheTUI(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	st, err := storage.OpenBolt(path, storage.Options{Actor: "alice", Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fixture.Fill(context.Background(), st, 300, 0); err != nil {
		t.Fatal(err)
	}
	keys, _, err := st.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	set := keyindex.Build(keys)
	third := set.Key(set.Order(keyindex.Query{}.Sort)[2]).Name // where two downs put the cursor
	h := start(t, setup{store: st, poll: 50 * time.Millisecond, w: 250, h: 30})
	h.waitFor(t, "300 keys")
	if err := os.Truncate(path, 20000); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, "is damaged: run `keyden check`")
	// Still working: the cursor moves, the sentence stays.
	h.press("down", "down")
	h.waitFor(t, "▸"+third+" ", "is damaged")
	h.final(t)
}

// failingAudit is a store whose audit log cannot be read.
type failingAudit struct{ *storage.Bolt }

func (failingAudit) Audit(context.Context, storage.AuditFilter) ([]model.Event, error) {
	return nil, errors.New("the key store /tmp/k.db is damaged: run `keyden check`")
}

// A key's details whose events cannot be read say so, not "Loading…" for
// ever (a store damaged under the app did that).
func TestDetailsSayTheirEventsCouldNotBeRead(t *testing.T) {
	h := start(t, setup{store: failingAudit{sampleBolt(t)}, w: 100, h: 40})
	h.waitFor(t, "6 keys")
	h.press("enter")
	h.waitFor(t, "Audit events", "They could not be read: the key store /tmp/k.db is damaged")
	h.final(t)
}

// The audit view of a log that cannot be read says so, not "No events
// match." beside the error.
func TestAuditViewSaysTheLogCouldNotBeRead(t *testing.T) {
	h := start(t, setup{store: failingAudit{sampleBolt(t)}, w: 100, h: 30})
	h.waitFor(t, "6 keys")
	h.press("a")
	h.waitFor(t, "Audit log", "The audit log could not be read: the key store /tmp/k.db is damaged")
	if strings.Contains(*h.rec.last.Load(), "No events match") {
		t.Errorf("it still says no events match:\n%s", *h.rec.last.Load())
	}
	h.final(t)
}
