package tui

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"keyden/model"
	"keyden/storage"
)

var testNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// newTestBolt is a real store over a temporary bbolt file on clock, with a
// seeded random source so that its ids, hints and secrets, and the goldens
// that show them, are the same on every run. alice made it (its super
// admin); bob is an admin, and mobile-app a second channel.
func newTestBolt(t *testing.T, clock func() time.Time) *storage.Bolt {
	t.Helper()
	ctx := context.Background()
	st, err := storage.OpenBolt(filepath.Join(t.TempDir(), "k.db"),
		storage.Options{Actor: "alice", Now: clock, Rand: rand.NewChaCha8([32]byte{'k', 'e', 'y', 'd', 'e', 'n'})})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddMember(ctx, "bob", model.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddChannel(ctx, model.Channel{Name: "mobile-app", Description: "iOS and Android"}); err != nil {
		t.Fatal(err)
	}
	return st
}

// emptyBolt is a test store with no keys, at testNow.
func emptyBolt(t *testing.T) *storage.Bolt {
	return newTestBolt(t, func() time.Time { return testNow })
}

// sampleKeys has one key of each kind a reviewer should notice.
func sampleKeys() []model.Key {
	var keys []model.Key
	day := 24 * time.Hour
	add := func(name, ch, env string, created, used, expires time.Duration, scopes ...string) {
		k := model.Key{Name: name, Channel: ch, Environment: env, Type: model.TypeBearer, Scopes: scopes, CreatedAt: testNow.Add(-created)}
		if used > 0 {
			k.LastUsedAt, k.UseCount, k.LastUsedFrom = testNow.Add(-used), 12, "203.0.113.7"
		}
		if expires != 0 {
			k.ExpiresAt = testNow.Add(expires)
		}
		keys = append(keys, k)
	}
	add("web checkout", "default", "prod", 40*day, 2*time.Minute, 0, "orders:*")
	add("partner feed", "mobile-app", "staging", 200*day, 120*day, 0, "feed:read")
	add("ios build", "mobile-app", "dev", 30*day, 0, 0)
	add("billing sync", "default", "prod", 60*day, 3*day, 5*day, "billing:read", "billing:write")
	add("old export", "default", "dev", 400*day, 300*day, -2*day)
	add("fresh key", "default", "staging", time.Hour, 0, 90*day)
	return keys
}

// sampleBolt is a test store holding sampleKeys.
func sampleBolt(t *testing.T) *storage.Bolt {
	t.Helper()
	return boltWith(t, sampleKeys())
}

// boltWith is a test store holding keys, each made and used at its time
// through the store's clock, which is at testNow when it returns.
func boltWith(t *testing.T, keys []model.Key) *storage.Bolt {
	t.Helper()
	ctx := context.Background()
	var at atomic.Int64
	at.Store(testNow.UnixNano())
	st := newTestBolt(t, func() time.Time { return time.Unix(0, at.Load()).UTC() })
	for _, k := range keys {
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

func (b *busyStore) SnapshotEach(ctx context.Context, size func(int), fn func(*model.Key) error) (storage.Position, error) {
	if b.busy.Load() {
		return storage.Position{}, errBusy
	}
	return b.Bolt.SnapshotEach(ctx, size, fn)
}

func (b *busyStore) Updates(ctx context.Context, from storage.Position) (storage.Changes, error) {
	if b.busy.Load() {
		return storage.Changes{}, errBusy
	}
	return b.Bolt.Updates(ctx, from)
}
