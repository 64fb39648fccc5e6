package storage

import (
	"testing"
	"time"

	"keyden/internal/etcdtest"
)

// A whole create on a local three-member cluster with fsync on: one
// guarded transaction (key, hash index, audit event, counters).
func BenchmarkEtcdCreateThreeMembers(b *testing.B) {
	ms := etcdtest.Start(b, 3, b.TempDir(), true)
	defer func() {
		for _, m := range ms {
			m.Stop()
		}
	}()
	st := openEtcdAt(b, etcdtest.URL(ms, "/bench"), Options{Actor: "bench", Timeout: 10 * time.Second})
	mustCreate(b, st, CreateRequest{})
	for b.Loop() {
		mustCreate(b, st, CreateRequest{})
	}
}
