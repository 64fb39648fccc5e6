package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"keyden/keygen"
	"keyden/model"
)

var benchMu sync.Mutex

// benchStore returns a store of n synthetic keys and a sample of their
// secrets, kept in the temp folder across runs.
func benchStore(tb testing.TB, n int) (*Bolt, []string) {
	tb.Helper()
	benchMu.Lock()
	defer benchMu.Unlock()
	return filled(tb, filepath.Join(os.TempDir(), fmt.Sprintf("keyden-bench-%d.db", n)), n, 1000)
}

// SHA-256 of a presented key and finding its record (keyByHash: the
// record under the id its hash gives, decoded), with the store open.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			st, secrets := benchStore(b, n)
			db, err := bolt.Open(st.Path(), 0o600, &bolt.Options{ReadOnly: true})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			tx, err := db.Begin(false)
			if err != nil {
				b.Fatal(err)
			}
			defer tx.Rollback()
			b.ResetTimer()
			i := 0
			for b.Loop() {
				h := keygen.HashKey(secrets[i%len(secrets)])
				if _, found, err := st.keyByHash(boltKV{tx}, h); !found || err != nil {
					b.Fatal("key not found", err)
				}
				i++
			}
		})
	}
}

// Decoding every stored record, as listing does; reported per key.
func BenchmarkListKeys(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			st, _ := benchStore(b, n)
			for b.Loop() {
				keys, err := st.ListKeys(ctx, Filter{})
				if err != nil || len(keys) != n {
					b.Fatal(len(keys), err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/key")
		})
	}
}

// Decoding alone, over the records of a 100k store in memory.
func BenchmarkDecodeStoredRecords(b *testing.B) {
	st, _ := benchStore(b, 100_000)
	var recs [][]byte
	db, err := bolt.Open(st.Path(), 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	table := map[uint64]string{} // the store's table of strings
	db.View(func(tx *bolt.Tx) error {
		_ = tx.Bucket(bucketMeta).ForEach(func(k, v []byte) error {
			if n, err := strconv.ParseUint(strings.TrimPrefix(string(k), metaStrPfx), 10, 64); err == nil && strings.HasPrefix(string(k), metaStrPfx) {
				table[n] = string(v)
			}
			return nil
		})
		return tx.Bucket(bucketKeys).ForEach(func(_, v []byte) error {
			recs = append(recs, append([]byte(nil), v...))
			return nil
		})
	})
	db.Close()
	lookup := func(n uint64) (string, bool) { s, ok := table[n]; return s, ok }
	out := make([]model.Key, len(recs))
	b.ResetTimer()
	for b.Loop() {
		var a arena
		for i, r := range recs {
			if err := model.DecodeKeyWith("k1", a.string(r), &out[i], lookup); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(recs)), "ns/key")
}

// A whole create: open, one durable transaction (key, hash index, audit), close.
func BenchmarkCreateKey(b *testing.B) {
	st := newStore(b, Options{})
	mustCreate(b, st, CreateRequest{})
	for b.Loop() {
		mustCreate(b, st, CreateRequest{})
	}
}

// A whole verify through the Store with last-used written: open, one
// durable transaction, close.
func BenchmarkVerify(b *testing.B) {
	st, secrets := benchStore(b, 100_000)
	i := 0
	for b.Loop() {
		res, err := st.Verify(ctx, VerifyRequest{Secret: secrets[i%len(secrets)]})
		if err != nil || !res.OK {
			b.Fatal(res, err)
		}
		i++
	}
}

// A backup of 100,000 keys, keyden's check of the same moment included.
func BenchmarkBackup(b *testing.B) {
	st, _ := benchStore(b, 100_000)
	dir := b.TempDir()
	b.ResetTimer()
	for i := range b.N {
		if err := st.Backup(ctx, filepath.Join(dir, fmt.Sprint(i)+".db")); err != nil {
			b.Fatal(err)
		}
	}
}
