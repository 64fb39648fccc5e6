package tui

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"keyden/model"
	"keyden/storage"
)

// sampleBolt is sampleStore's keys in a real store over a temporary bbolt
// file, made by alice (its super admin) with bob as an admin, each key
// made and used at its time through the store's clock. The store picks
// its own ids, hints and secrets, so the goldens stay on sampleStore.
func sampleBolt(t *testing.T) *storage.Bolt {
	t.Helper()
	ctx := context.Background()
	var at atomic.Int64
	at.Store(testNow.UnixNano())
	clock := func() time.Time { return time.Unix(0, at.Load()).UTC() }
	st, err := storage.OpenBolt(filepath.Join(t.TempDir(), "k.db"), storage.Options{Actor: "alice", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddMember(ctx, "bob", model.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddChannel(ctx, model.Channel{Name: "mobile-app", Description: "iOS and Android"}); err != nil {
		t.Fatal(err)
	}
	for _, k := range sampleStore().keys {
		at.Store(k.CreatedAt.UnixNano())
		c, err := st.CreateKey(ctx, storage.CreateRequest{Name: k.Name, Channel: k.Channel, Environment: k.Environment,
			Type: k.Type, Scopes: k.Scopes, ExpiresAt: k.ExpiresAt})
		if err != nil {
			t.Fatal(err)
		}
		if !k.LastUsedAt.IsZero() {
			if err := st.RecordUses(ctx, []storage.Use{{ID: c.Key.ID, At: k.LastUsedAt, From: k.LastUsedFrom, Count: k.UseCount}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	at.Store(testNow.UnixNano())
	return st
}

// as opens the same store as another OS user.
func as(t *testing.T, st *storage.Bolt, user string) *storage.Bolt {
	t.Helper()
	other, err := storage.OpenBolt(st.Path(), storage.Options{Actor: user, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return other
}

// keysIn lists a store's keys, failing the test on an error.
func keysIn(t *testing.T, st storage.Store) []model.Key {
	t.Helper()
	keys, err := st.ListKeys(context.Background(), storage.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

// named finds a key by name.
func named(keys []model.Key, name string) (model.Key, bool) {
	for _, k := range keys {
		if k.Name == name {
			return k, true
		}
	}
	return model.Key{}, false
}

// busyStore is a fault: while busy, every read the app's feed makes is
// refused as another keyden holding the lock would have it.
type busyStore struct {
	*storage.Bolt
	busy atomic.Bool
}

var errBusy = fmt.Errorf("the key store is busy (another keyden is writing); try again: %w", storage.ErrBusy)

func (b *busyStore) Generation(ctx context.Context) (storage.Generation, error) {
	if b.busy.Load() {
		return storage.Generation{}, errBusy
	}
	return b.Bolt.Generation(ctx)
}

func (b *busyStore) Snapshot(ctx context.Context) ([]model.Key, storage.Position, error) {
	if b.busy.Load() {
		return nil, storage.Position{}, errBusy
	}
	return b.Bolt.Snapshot(ctx)
}

func (b *busyStore) Updates(ctx context.Context, from storage.Position) (storage.Changes, error) {
	if b.busy.Load() {
		return storage.Changes{}, errBusy
	}
	return b.Bolt.Updates(ctx, from)
}
