package storage

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"keyden/model"
)

// tamper changes a store file behind keyden's back, as anyone who may
// write it could.
func tamper(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// A prefix or tag written into the store by other means is never put into
// a key: create, rotate and env add refuse it as a damaged store, and
// check names it. On the old code create and rotate made keys holding
// live escapes (or that could never verify) and env add succeeded.
func TestTamperedPrefixAndTagAreNotUsed(t *testing.T) {
	setMeta := func(v string) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			if v == "" {
				return tx.Bucket(bucketMeta).Delete(metaPrefix)
			}
			return tx.Bucket(bucketMeta).Put(metaPrefix, []byte(v))
		}
	}
	setTag := func(tag string) func(tx *bolt.Tx) error {
		return func(tx *bolt.Tx) error {
			return tx.Bucket(bucketEnvs).Put([]byte("dev"), []byte(`{"name":"dev","tag":"`+tag+`","order":1}`))
		}
	}
	for _, tc := range []struct {
		name, want string
		change     func(tx *bolt.Tx) error
		envAddOK   bool
	}{
		{"escapes in the prefix", "key prefix is not valid", setMeta("\x1b]0;PREFIX\x07\u009b7m"), false},
		{"upper-case prefix", "key prefix is not valid", setMeta("KD"), false},
		{"missing prefix", "key prefix is not valid", setMeta(""), false},
		{"escape in a tag", `environment "dev" is not valid`, setTag(`\u001b]0;TAG\u0007`), true},
		{"empty tag", `environment "dev" is not valid`, setTag(""), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := newStore(t, Options{})
			old := mustCreate(t, st, CreateRequest{Name: "old", Environment: "dev"})
			tamper(t, st.Path(), tc.change)
			_, err := st.CreateKey(ctx, CreateRequest{Name: "new", Channel: model.DefaultChannel, Environment: "dev"})
			if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "keyden check") {
				t.Errorf("create: %v", err)
			}
			if _, err := st.RotateKey(ctx, RotateRequest{ID: old.Key.ID, Grace: time.Hour}); !errors.Is(err, ErrDamaged) {
				t.Errorf("rotate: %v", err)
			}
			_, err = st.AddEnvironment(ctx, model.Environment{Name: "qa"})
			if tc.envAddOK != (err == nil) {
				t.Errorf("env add: %v", err)
			}
			rep, err := st.Check(ctx)
			if err != nil || !strings.Contains(strings.Join(rep.Problems, "\n"), "not allowed") {
				t.Errorf("check: %v %q", err, rep.Problems)
			}
			if info, _ := st.Info(ctx); info.Keys != 1 {
				t.Errorf("%d keys after the refusals, want 1", info.Keys)
			}
		})
	}
}

// Neither migrate's copy nor a backup copies a damaged store: each
// refuses with one ErrDamaged sentence and leaves no file behind, so a
// retry is not told the destination is "not empty". On the old code the
// copies failed half-way with bbolt's "key too large", leaving a partial
// file, or succeeded, and every backup was written.
func TestDamagedStoreIsNotCopied(t *testing.T) {
	_, raw, _ := filledStore(t)
	dir := t.TempDir()
	cases := damagedCopies(raw)
	cases["a key record of garbage"] = nil
	for name, bytes := range cases {
		t.Run(name, func(t *testing.T) {
			base := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
			src := base + ".db"
			if bytes == nil {
				st := newStore(t, Options{})
				mustCreate(t, st, CreateRequest{Name: "k"})
				tamper(t, st.Path(), func(tx *bolt.Tx) error { return tx.Bucket(bucketKeys).Put([]byte("kjunk123"), []byte("\xff\x00junk")) })
				src = st.Path()
			} else if err := os.WriteFile(src, bytes, 0o600); err != nil {
				t.Fatal(err)
			}
			from, _ := OpenBolt(src, Options{Actor: "alice", NoCreate: true})
			rep, _ := from.Check(ctx)
			damaged := len(rep.Problems) > 0
			to, _ := OpenBolt(base+"-copy.db", Options{Actor: "alice"})
			_, err := Copy(ctx, from, to)
			if damaged != errors.Is(err, ErrDamaged) || (err != nil && !isStoreErr(err)) {
				t.Errorf("copy: %v (check found %q)", err, rep.Problems)
			}
			if _, serr := os.Stat(base + "-copy.db"); err != nil && serr == nil {
				t.Errorf("the failed copy left its file: %v", err)
			}
			err = from.Backup(ctx, base+"-backup.db")
			if damaged != errors.Is(err, ErrDamaged) {
				t.Errorf("backup: %v (check found %q)", err, rep.Problems)
			}
			if _, serr := os.Stat(base + "-backup.db"); err != nil && serr == nil {
				t.Errorf("the failed backup left its file: %v", err)
			}
		})
	}
}

func isStoreErr(err error) bool {
	var se *storeError
	return errors.As(err, &se)
}

// A store that could not be made leaves none of the folders made for it.
// On the old code they stayed, empty (init on a full disk).
func TestFailedCreateRemovesItsFolders(t *testing.T) {
	base := t.TempDir()
	// A name too long for the file system: the folders are made, the file is not.
	path := filepath.Join(base, "a", "b", strings.Repeat("x", 300)+".db")
	st, err := OpenBolt(path, Options{Actor: "alice", MakeFolders: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Init(ctx); err == nil || !isStoreErr(err) {
		t.Fatalf("init: %v", err)
	}
	if _, err := os.Stat(filepath.Join(base, "a")); !os.IsNotExist(err) {
		t.Errorf("the folders made for the store are left: %v", err)
	}
}

// NoCreate refuses a missing file and an unused etcd prefix alike, for
// reads and writes, and makes nothing; a handle that may create makes the
// store, which the NoCreate handle then reads. On the old code an unused
// prefix (a mistyped one) became a new, empty store on the first read.
func TestNoCreateRefusesAMissingStore(t *testing.T) {
	for _, backend := range []string{"bolt", "etcd"} {
		t.Run(backend, func(t *testing.T) {
			var st, maker testStore
			if backend == "etcd" {
				e := newEtcdStore(t, Options{NoCreate: true})
				st, maker = e, reopenEtcd(t, e, Options{Actor: "alice"})
			} else {
				b := newStore(t, Options{NoCreate: true})
				st = b
				maker = reopen(t, b, Options{Actor: "alice"})
			}
			for what, call := range map[string]func() error{
				"list":    func() error { _, err := st.ListKeys(ctx, Filter{}); return err },
				"info":    func() error { _, err := st.Info(ctx); return err },
				"disable": func() error { _, err := st.SetDisabled(ctx, "k1234567", true); return err },
			} {
				if err := call(); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "there is no key store at") {
					t.Errorf("%s: %v", what, err)
				}
			}
			if err := maker.(interface{ Init(context.Context) error }).Init(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Info(ctx); err != nil {
				t.Errorf("after init: %v", err)
			}
		})
	}
}
