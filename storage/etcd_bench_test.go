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

// What a verifier's confirming read costs each second on an idle store of
// 100k keys: the feed's head alone, against a whole Updates with
// nothing new (whose store check counts every key).
func BenchmarkEtcdIdleConfirm(b *testing.B) {
	st := newEtcdStore(b, Options{Timeout: time.Minute})
	fill(b, st, 100000, 0)
	_, pos, err := st.Snapshot(ctx)
	if err != nil {
		b.Fatal(err)
	}
	pos.RulesOnly = true
	b.Run("FeedHead", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := st.FeedHead(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Updates", func(b *testing.B) {
		for b.Loop() {
			if _, err := st.Updates(ctx, pos); err != nil {
				b.Fatal(err)
			}
		}
	})
}
