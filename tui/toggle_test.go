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

// gatedUpdates answers every read of what changed from the store as it
// was when asked, but holds the answer until the test lets it go.
type gatedUpdates struct {
	*storage.Bolt
	asked chan struct{}
	let   chan struct{}
}

func (g gatedUpdates) Updates(ctx context.Context, from storage.Position) (storage.Changes, error) {
	ch, err := g.Bolt.Updates(ctx, from)
	g.asked <- struct{}{}
	<-g.let
	return ch, err
}

// A load that read the store before a toggle landed and answers after it
// does not put the key back as it was: x then toggles from what the store
// answered. The previous commit showed the key enabled again for the
// length of a load, and x then disabled it a second time.
func TestALoadOlderThanAToggleDoesNotUndoIt(t *testing.T) {
	ctx := context.Background()
	st := boltStore(t)
	if _, err := st.CreateKey(ctx, storage.CreateRequest{Name: "web checkout", Channel: "default", Environment: "dev"}); err != nil {
		t.Fatal(err)
	}
	g := gatedUpdates{Bolt: st, asked: make(chan struct{}), let: make(chan struct{})}
	h := start(t, setup{store: g, poll: 20 * time.Millisecond})
	h.waitFor(t, "1 key · ")
	if _, err := as(t, st, "alice").CreateKey(ctx, storage.CreateRequest{Name: "from a shell", Channel: "default", Environment: "dev"}); err != nil {
		t.Fatal(err)
	}
	<-g.asked // a load has read the store, before the toggle
	h.press("x")
	h.waitFor(t, "Disabled web checkout")
	g.let <- struct{}{} // its answer lands after the toggle's
	<-g.asked           // the next load has read the store; hold it
	h.press("x")
	g.let <- struct{}{}
	h.waitFor(t, "Enabled web checkout")
	go func() { // later loads pass
		for range g.asked {
			g.let <- struct{}{}
		}
	}()
	h.final(t)
	keys := keysIn(t, st)
	if k, _ := named(keys, "web checkout"); k.Disabled || len(keys) != 2 {
		t.Fatalf("after x twice: %+v", keys)
	}
}
