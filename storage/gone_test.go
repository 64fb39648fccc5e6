package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// A store deleted or moved away under a process that had it open is gone,
// not a new store to make: a TUI polling a store moved away made a new,
// empty one at its old path (and a test's cleanup raced it, "directory not
// empty"), and would have done the same in a wiped etcd prefix.
func TestAStoreGoneUnderAnOpenHandleIsNotMadeAgain(t *testing.T) {
	ctx := context.Background()
	check := func(t *testing.T, st Store) {
		t.Helper()
		_, err := st.ListKeys(ctx, Filter{})
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "is gone") {
			t.Fatalf("reading a store gone: %v", err)
		}
		if _, err := st.CreateKey(ctx, CreateRequest{Name: "after", Channel: "default", Environment: "dev"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("writing to a store gone: %v", err)
		}
	}
	t.Run("file", func(t *testing.T) {
		db := filepath.Join(t.TempDir(), "k.db")
		st, err := OpenBolt(db, Options{Actor: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.CreateKey(ctx, CreateRequest{Name: "before", Channel: "default", Environment: "dev"}); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(db, db+".moved"); err != nil {
			t.Fatal(err)
		}
		check(t, st)
		if _, err := os.Stat(db); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("a store was made again at the old path: %v", err)
		}
		if left, _ := filepath.Glob(filepath.Join(filepath.Dir(db), ".k.db.new-*")); len(left) != 0 {
			t.Fatalf("left behind: %v", left)
		}
	})
	t.Run("etcd", func(t *testing.T) {
		st := newEtcdStore(t, Options{})
		if _, err := st.CreateKey(ctx, CreateRequest{Name: "before", Channel: "default", Environment: "dev"}); err != nil {
			t.Fatal(err)
		}
		cfg, err := ParseEtcdURL(st.Location(), func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Client().Delete(ctx, cfg.Prefix+"/", clientv3.WithPrefix()); err != nil {
			t.Fatal(err)
		}
		check(t, st)
		if resp, err := st.Client().Get(ctx, cfg.Prefix+"/", clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil || resp.Count != 0 {
			t.Fatalf("a store was made again in the prefix: %v %v", resp, err)
		}
	})
}
