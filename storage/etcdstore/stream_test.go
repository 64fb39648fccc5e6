package etcdstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"keyden/internal/etcdtest"
	"keyden/model"
	"keyden/storage"
)

// The audit log streams on etcd too: it is read a part at a time as it is
// handed out, not whole before the first event, so a read that fails
// after the first part is EachEvent's error.
func TestAuditStreamsInParts(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd in -short")
	}
	ms := etcdtest.Start(t, 1, t.TempDir(), false)
	stop := sync.OnceFunc(ms[0].Stop)
	t.Cleanup(stop)
	cfg, err := storage.ParseEtcdURL(etcdtest.URL(ms, "/stream"), nil)
	if err != nil {
		t.Fatal(err)
	}
	// The keys are made with the usual timeout: 2,100 of them took more
	// than 300 ms on a loaded machine. Only the read waits that little.
	filler, err := Open(cfg, storage.Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	defer filler.Close()
	ctx := context.Background()
	seeds := make([]storage.KeySeed, 2100) // more than one part (2,048 events)
	for i := range seeds {
		seeds[i] = storage.KeySeed{CreateRequest: storage.CreateRequest{Name: "k", Channel: "default", Environment: "dev"}}
	}
	if _, err := filler.CreateKeys(ctx, seeds); err != nil {
		t.Fatal(err)
	}
	st, err := Open(cfg, storage.Options{Actor: "alice", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := 0
	err = st.EachEvent(ctx, storage.AuditFilter{}, func(*model.Event) error {
		if n == 0 {
			stop()
		}
		n++
		return nil
	})
	if err == nil || n >= len(seeds) {
		t.Fatalf("%d of %d+ events handed out, then %v: the log was read whole before the first", n, len(seeds), err)
	}
}
