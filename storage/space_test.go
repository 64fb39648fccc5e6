package storage

import (
	"os"
	"testing"

	bolt "go.etcd.io/bbolt"

	"keyden/keygen"
	"keyden/model"
)

// A key made since schema 2 is stored under the id its hash gives, so it
// needs no hash index entry: it verifies, rotates and deletes without one.
func TestNewKeysNeedNoHashIndex(t *testing.T) {
	st := newStore(t, Options{})
	a := mustCreate(t, st, CreateRequest{Name: "a"})
	if a.Key.ID != idFor(a.Key.Hash) || len(a.Key.ID) != 8 || a.Key.ID[0] != 'k' {
		t.Fatalf("id %q, want %q", a.Key.ID, idFor(a.Key.Hash))
	}
	rot, err := st.RotateKey(ctx, RotateRequest{ID: a.Key.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		secret string
		ok     bool
	}{{a.Secret, false}, {rot.New.Secret, true}} {
		res, err := st.Verify(ctx, VerifyRequest{Secret: c.secret})
		if err != nil || res.OK != c.ok {
			t.Fatalf("verify: %+v %v", res, err)
		}
	}
	if _, err := st.DeleteKey(ctx, rot.New.Key.ID); err != nil {
		t.Fatal(err)
	}
	if res, _ := st.Verify(ctx, VerifyRequest{Secret: rot.New.Secret}); res.Reason != model.ReasonUnknown {
		t.Fatalf("a deleted key: %+v", res)
	}
	found, err := st.LookupHashes(ctx, []keygen.Hash{a.Key.Hash, rot.New.Key.Hash})
	if err != nil || len(found) != 1 || found[a.Key.Hash].ID != a.Key.ID {
		t.Fatalf("lookup by hash: %v %v", found, err)
	}
	db, err := bolt.Open(st.Path(), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.View(func(tx *bolt.Tx) error {
		if n := tx.Bucket(bucketHashes).Stats().KeyN; n != 0 {
			t.Errorf("%d hash index entries", n)
		}
		return nil
	})
	if rep, err := st.Check(ctx); err != nil || len(rep.Problems) > 0 {
		t.Fatalf("check: %+v %v", rep, err)
	}
}

// Where a filled store's bytes go, per key: at 100k keys the file took
// 1,199 bytes a key in schema 1 (JSON events in half-full pages, a hash
// index, 10,000 keys a transaction); BENCHMARKS.md has the breakdown.
func TestStoreBytesPerKey(t *testing.T) {
	if testing.Short() {
		t.Skip("fills 100k keys")
	}
	st := newStore(t, Options{})
	const n = 100_000
	fill(t, st, n, 0)
	sp, err := st.Space(ctx)
	if err != nil || sp.Keys != n {
		t.Fatalf("%+v %v", sp, err)
	}
	for _, b := range sp.Buckets {
		t.Logf("%-12s %8d entries %6.1f B/key data %6.1f B/key pages", b.Name, b.Entries, float64(b.Data)/n, float64(b.Pages)/n)
	}
	t.Logf("free %.1f, unused tail %.1f, file %.1f B/key", float64(sp.Free)/n, float64(sp.Unused)/n, float64(sp.File)/n)
	if perKey := sp.File / n; perKey > 350 {
		t.Errorf("the file takes %d bytes a key, want at most 350", perKey)
	}
	for _, b := range sp.Buckets {
		// bbolt adds 16 bytes a entry; an append-only bucket fills its pages.
		if b.Name == "audit" && b.Pages > (b.Data+16*int64(b.Entries))*11/10 {
			t.Errorf("audit pages %d for %d bytes of events: pages are left part empty", b.Pages, b.Data)
		}
		// Records name their channel, environment, creator and hint prefix
		// by number (schema 3): 167 B a key here, 207 before.
		if b.Name == "keys" && b.Pages/n > 180 {
			t.Errorf("records take %d bytes a key in pages, want at most 180", b.Pages/n)
		}
	}
	// bbolt grows the file AllocSize (1 MiB) at a time; full runs saw the
	// tail at 1 MiB and one page, so that is the bound.
	if sp.Unused > 1<<20+int64(os.Getpagesize()) {
		t.Errorf("the file runs %d bytes past its last page", sp.Unused)
	}
}
