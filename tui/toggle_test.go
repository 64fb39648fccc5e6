package tui

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"keyden/model"
	"keyden/storage"
)

// boltStore is a real store over a temporary bbolt file, acting as alice,
// its creator and super admin, on the tests' clock.
func boltStore(t *testing.T) *storage.Bolt {
	t.Helper()
	st, err := storage.OpenBolt(filepath.Join(t.TempDir(), "k.db"), storage.Options{Actor: "alice", Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// gatedToggles holds every SetDisabled until the test opens the gate, as a
// store slow to answer would.
type gatedToggles struct {
	*storage.Bolt
	gate chan struct{}
}

func (g gatedToggles) SetDisabled(ctx context.Context, id string, disabled bool) (model.Key, error) {
	<-g.gate
	return g.Bolt.SetDisabled(ctx, id, disabled)
}

// x twice before the store answers the first is a round trip: disabled,
// then enabled again. The old code sent "disable" twice (its row still
// said enabled) and left the key disabled.
func TestDisableTwiceBeforeTheStoreAnswersTogglesBack(t *testing.T) {
	st := boltStore(t)
	c, err := st.CreateKey(context.Background(), storage.CreateRequest{Name: "web checkout", Channel: "default", Environment: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	g := gatedToggles{Bolt: st, gate: make(chan struct{})}
	h := start(t, setup{store: g})
	h.waitFor(t, "1 key · ")
	h.press("x", "x", "?")
	h.waitFor(t, "Key bindings") // both presses of x were handled
	h.press("esc")
	close(g.gate)
	h.waitFor(t, "Enabled web checkout")
	h.final(t)
	k, err := st.GetKey(context.Background(), c.Key.ID)
	if err != nil || k.Disabled {
		t.Fatalf("after x twice: disabled %v, %v", k.Disabled, err)
	}
}
