package server

import (
	"context"
	"errors"
	"log"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"keyden/internal/testutil"
	"keyden/model"
	"keyden/storage"
)

// logLines is a log's lines, the last one's newline dropped.
func logLines(logs *testutil.SyncBuffer) []string {
	return strings.Split(strings.TrimSpace(logs.String()), "\n")
}

// swappedStore is a store whose file was damaged in the way the attack's
// dd did (noise over meta 1 and the pages after it): bbolt falls back to
// the older meta, whose audit sequence is behind the verifier's, so the
// history seems replaced, and the full read that follows meets the noise.
type swappedStore struct {
	good, damaged *storage.Bolt
	bad           atomic.Bool
}

func (s *swappedStore) Snapshot(ctx context.Context) ([]model.Key, storage.Position, error) {
	if s.bad.Load() {
		return s.damaged.Snapshot(ctx)
	}
	return s.good.Snapshot(ctx)
}

// FeedHead of the damaged file reads the older meta: a sequence behind.
func (s *swappedStore) SnapshotEach(ctx context.Context, size func(int), fn func(*model.Key) error) (storage.Position, error) {
	if s.bad.Load() {
		return s.damaged.SnapshotEach(ctx, size, fn)
	}
	return s.good.SnapshotEach(ctx, size, fn)
}

func (s *swappedStore) FeedHead(ctx context.Context) (uint64, int64, error) {
	if s.bad.Load() {
		return 0, 0, nil
	}
	return s.good.FeedHead(ctx)
}

func (s *swappedStore) Updates(ctx context.Context, from storage.Position) (storage.Changes, error) {
	if s.bad.Load() {
		return storage.Changes{Reset: true}, nil
	}
	return s.good.Updates(ctx, from)
}

func (s *swappedStore) RecordUses(ctx context.Context, uses []storage.Use) error {
	return s.good.RecordUses(ctx, uses)
}

// TestDamageUnderServeIsLoggedOnce: a store damaged under a running
// verifier is logged once, however many times the follower tries again,
// and its recovery once (it logged "the store's history changed …
// reloading" at every retry: 52 in 10 s).
func TestDamageUnderServeIsLoggedOnce(t *testing.T) {
	dir := t.TempDir()
	good, err := storage.OpenBolt(filepath.Join(dir, "live.db"), storage.Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	for range 30 {
		if _, err := good.CreateKey(ctx, storage.CreateRequest{Name: "k", Channel: "default", Environment: "prod"}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(good.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cut.db"), raw[:3*4096], 0o600); err != nil {
		t.Fatal(err)
	}
	damaged, err := storage.OpenBolt(filepath.Join(dir, "cut.db"), storage.Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := damaged.Snapshot(ctx); !errors.Is(err, storage.ErrDamaged) {
		t.Fatalf("the cut copy reads: %v", err)
	}
	st := &swappedStore{good: good, damaged: damaged}
	logs := &testutil.SyncBuffer{}
	srv := New(st, Options{PollEvery: 5 * time.Millisecond, Log: log.New(logs, "", 0)})
	if err := srv.Load(ctx); err != nil {
		t.Fatal(err)
	}
	fctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { srv.Follow(fctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })

	st.bad.Store(true)
	waitUntil(t, 30*time.Second, "the damage noticed", func() bool { return srv.Health().Damaged })
	from := srv.m.syncErrors.Load()
	waitUntil(t, 60*time.Second, "20 more failed reads", func() bool { return srv.m.syncErrors.Load() >= from+20 })
	during := logLines(logs)[1:] // after "loaded 30 keys"
	if len(during) != 1 || !strings.Contains(during[0], "is damaged") {
		t.Fatalf("%d lines logged while damaged, want the one damage line:\n%s", len(during), strings.Join(during, "\n"))
	}
	if srv.Keys() != 30 {
		t.Errorf("%d keys answered from memory, want 30", srv.Keys())
	}

	st.bad.Store(false)
	waitUntil(t, 30*time.Second, "following again", func() bool { h := srv.Health(); return !h.Damaged && h.Error == "" })
	after := logLines(logs)[2:]
	if len(after) != 1 || after[0] != "following the store again" {
		t.Fatalf("recovery logged %d lines, want one:\n%s", len(after), strings.Join(after, "\n"))
	}
}
