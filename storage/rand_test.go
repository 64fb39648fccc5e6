package storage

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"
)

// Two stores given the same Rand (and clock) make the same ids and
// secrets; without one each store draws its own from crypto/rand.
func TestRandMakesAStoreReproducible(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	mk := func(seeded bool) Created {
		opt := Options{Actor: "alice", Now: func() time.Time { return at }}
		if seeded {
			opt.Rand = rand.NewChaCha8([32]byte{1})
		}
		st, err := OpenBolt(filepath.Join(t.TempDir(), "k.db"), opt)
		if err != nil {
			t.Fatal(err)
		}
		c, err := st.CreateKey(context.Background(), CreateRequest{Name: "a", Channel: "default", Environment: "dev"})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := mk(true), mk(true)
	if a.Key.ID != b.Key.ID || a.Secret != b.Secret || a.Key.Hint != b.Key.Hint {
		t.Fatalf("same reader, different keys: %s %s, %s %s", a.Key.ID, b.Key.ID, a.Key.Hint, b.Key.Hint)
	}
	if c := mk(false); c.Key.ID == a.Key.ID || c.Secret == a.Secret {
		t.Fatal("a store without Rand drew the seeded key")
	}
}
