package etcdstore

import (
	"context"
	"errors"
	"sync"
	"testing"

	"keyden/internal/etcdtest"
	"keyden/storage"
)

// A read that fails inside a view returns nothing; the caller's reading of
// that nothing ("there is no such key", "the record is damaged") must not
// reach the user: etcd's own error does.
func TestAFailedReadIsTheViewsError(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd in -short")
	}
	ms := etcdtest.Start(t, 1, t.TempDir(), false)
	stop := sync.OnceFunc(ms[0].Stop)
	t.Cleanup(stop)
	cfg, err := storage.ParseEtcdURL(etcdtest.URL(ms, "/view"), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Open(cfg, storage.Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), storage.DefaultTimeout)
	defer cancel()
	err = st.eb.View(ctx, func(tx storage.KV) error {
		stop()
		if tx.Bucket([]byte("keys")).Get([]byte("kabcdefg")) == nil {
			return storage.ErrNotFound
		}
		return nil
	})
	if err == nil || errors.Is(err, storage.ErrNotFound) || !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("a view whose read failed: %v; want etcd's error, not the caller's", err)
	}
}
