package storage

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"keyden/model"
)

// testdata/schema1.db was made by keyden at 242a55a (schema 1: records of
// version 1 holding their id, JSON audit events, a hash index entry for
// every key): three keys made on 2026-11-20, one used from 203.0.113.7,
// one rotated (the old one on a day's grace), one deleted.
const (
	schema1Used      = "kd_prod_E4QGkAB8cyDKEsAe440KLVgf4MEKiZe6poxpQauHKNttjEFiIC0C1lG9"
	schema1Rotated   = "kd_dev_hqA1W8AZk6B6ZbHer1W8ZXo8c8b316n2FRWSzf4xAEKq9aPcFy72PO8tO"
	schema1Successor = "kd_dev_CFGbNjcgvYS1gwuNdAX8PmOo0H709GxyYr9YSPyY6anjQpS6aMq4f36Io"
)

func schema1Copy(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "schema1.db"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "old.db")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A store written by the keyden before schema 2 opens: reads leave it as
// it is, its keys verify, and its first write marks it schema 3, after
// which old and new records, events and keys all work together.
func TestAStoreOfSchema1KeepsWorking(t *testing.T) {
	path := schema1Copy(t)
	clk := &clock{t: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
	st, err := OpenBolt(path, Options{Actor: "alice", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	before := fileSum(t, path)
	usedID := schema1Reads(t, st, clk)
	if fileSum(t, path) != before {
		t.Fatal("reading changed the store")
	}
	schema1Writes(t, st, clk, usedID, func() {
		if rec := rawRecord(t, path, usedID); rec[0] != 3 {
			t.Fatalf("the verified key's record is still of version %d", rec[0])
		}
	})
}

// The same store copied as it is onto etcd (keyden migrate) works the same.
func TestAStoreOfSchema1KeepsWorkingOnEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("etcd servers in -short")
	}
	clk := &clock{t: time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)}
	src, err := OpenBolt(schema1Copy(t), Options{Actor: "alice", Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	dst := newEtcdStore(t, Options{Actor: "alice", Now: clk.Now})
	if _, err := Copy(ctx, src, dst); err != nil {
		t.Fatal(err)
	}
	schema1Writes(t, dst, clk, schema1Reads(t, dst, clk), func() {})
}

// schema1Reads reads the old store and returns the used key's id.
func schema1Reads(t *testing.T, st Store, clk *clock) string {
	t.Helper()
	keys, err := st.ListKeys(ctx, Filter{})
	if err != nil || len(keys) != 3 {
		t.Fatalf("list: %d keys, %v", len(keys), err)
	}
	byName := map[string]model.Key{}
	for _, k := range keys {
		byName[k.Name] = k
	}
	used, ci := byName["web checkout"], byName["ci deploy"]
	if used.ID != "kfwjxyu0" || used.UseCount != 1 || used.LastUsedFrom != "203.0.113.7" || len(used.AllowedIPs) != 1 ||
		ci.Type != model.TypeXAPIKey || ci.RotatedTo == "" || ci.ExpiresAt.IsZero() || !used.CreatedAt.Equal(time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)) {
		t.Fatalf("old records read wrong: %+v\n%+v", used, ci)
	}
	if used.Uses30d(clk.Now()) != [model.UseDays]uint32{} {
		t.Fatal("an old record has daily uses")
	}
	evs, err := st.Audit(ctx, AuditFilter{})
	if err != nil || len(evs) != 7 {
		t.Fatalf("audit: %d events, %v", len(evs), err)
	}
	if in, err := st.Info(ctx); err != nil || in.Schema != 1 {
		t.Fatalf("reading changed the schema: %d, %v", in.Schema, err)
	}
	return used.ID
}

// schema1Writes writes to the old store: a verify (its first write, after
// which rewritten runs), a new key, a delete, and checks it.
func schema1Writes(t *testing.T, st Store, clk *clock, usedID string, rewritten func()) {
	t.Helper()
	for _, s := range []string{schema1Used, schema1Rotated, schema1Successor} {
		if res, err := st.Verify(ctx, VerifyRequest{Secret: s, ClientIP: mustAddr("203.0.113.9")}); err != nil || !res.OK {
			t.Fatalf("an old key does not verify: %+v %v", res, err)
		}
	}
	if in, _ := st.Info(ctx); in.Schema != SchemaVersion {
		t.Fatalf("schema after a write: %d", in.Schema)
	}
	got, _ := st.GetKey(ctx, usedID)
	want := [model.UseDays]uint32{}
	want[29] = 1
	if got.UseCount != 2 || got.Uses30d(clk.Now()) != want || got.ID != usedID {
		t.Fatalf("after a verify: %+v", got)
	}
	rewritten()

	// New keys beside old ones; deleting an old key removes it from the index.
	fresh := mustCreate(t, st, CreateRequest{Name: "fresh"})
	if res, _ := st.Verify(ctx, VerifyRequest{Secret: fresh.Secret}); !res.OK {
		t.Fatalf("a new key in an old store: %+v", res)
	}
	if _, err := st.DeleteKey(ctx, usedID); err != nil {
		t.Fatal(err)
	}
	if res, _ := st.Verify(ctx, VerifyRequest{Secret: schema1Used}); res.OK || res.Reason != model.ReasonUnknown {
		t.Fatalf("a deleted old key: %+v", res)
	}
	rep, err := st.(interface {
		Check(context.Context) (CheckReport, error)
	}).Check(ctx)
	if err != nil || len(rep.Problems) > 0 || rep.Keys != 3 {
		t.Fatalf("check: %+v %v", rep, err)
	}
	if evs, _ := st.Audit(ctx, AuditFilter{}); len(evs) != 9 || evs[0].Action != model.ActionDelete || evs[8].Action != model.ActionInit {
		t.Fatalf("audit of old and new events: %+v", evs)
	}
}

// rawRecord is a key's stored bytes.
func rawRecord(t *testing.T, path, id string) []byte {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rec []byte
	db.View(func(tx *bolt.Tx) error {
		rec = append(rec, tx.Bucket(bucketKeys).Get([]byte(id))...)
		return nil
	})
	return rec
}
