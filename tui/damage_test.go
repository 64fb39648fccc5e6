package tui

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"keyden/internal/fixture"
	"keyden/keyindex"
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
