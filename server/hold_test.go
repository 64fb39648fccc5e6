package server

import (
	"testing"

	bolt "go.etcd.io/bbolt"
)

// holdStore takes the store's write lock, as another keyden mid-write would.
func holdStore(t *testing.T, path string) (release func()) {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	return func() { db.Close() }
}
