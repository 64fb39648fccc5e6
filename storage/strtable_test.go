package storage

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"keyden/model"
)

func storedRecord(t *testing.T, st *Bolt, id string) []byte {
	t.Helper()
	var raw []byte
	if err := st.view(ctx, func(tx kv) error {
		raw = append(raw, tx.Bucket(bucketKeys).Get([]byte(id))...)
		return nil
	}); err != nil || raw == nil {
		t.Fatal(id, err)
	}
	return raw
}

// A new record (version 3) refers to its channel, environment, creator
// and hint prefix by number in the store's table: at least 20 bytes less
// than the same key's record of version 2; a second key with the same
// strings adds nothing to the table, and another store handle (with a
// table copy of its own) reads both.
func TestRecordsReferToTheStoreTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyden.db")
	st, err := OpenBolt(path, Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	a := mustCreate(t, st, CreateRequest{Name: "a"})
	seq := func() (n uint64) {
		_ = st.view(ctx, func(tx kv) error { n = getUint(tx.Bucket(bucketMeta), metaStrSeq); return nil })
		return n
	}
	first := seq()
	b := mustCreate(t, st, CreateRequest{Name: "b"})
	if first == 0 || seq() != first {
		t.Fatalf("table numbers: %d after one key, %d after two", first, seq())
	}
	if len(st.strs.mine) != 0 || len(st.strs.made) != 0 {
		t.Fatalf("numbers of transactions that are over still held back: %v %v", st.strs.mine, st.strs.made)
	}
	raw := storedRecord(t, st, a.Key.ID)
	if v2 := model.EncodeKey(nil, &a.Key); raw[0] != 3 || len(v2)-len(raw) < 20 {
		t.Fatalf("record of version %d, %d bytes (version 2: %d)", raw[0], len(raw), len(v2))
	}
	// Another process: its table starts empty.
	again, err := OpenBolt(path, Options{Actor: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []Created{a, b} {
		got, err := again.GetKey(ctx, c.Key.ID)
		if err != nil || !sameKey(got, c.Key) {
			t.Fatalf("read again:\n got %+v %v\nwant %+v", got, err, c.Key)
		}
	}
	if in, _ := again.Info(ctx); in.Schema != 3 {
		t.Fatalf("schema %d", in.Schema)
	}
}

// A key whose record is of version 2 reads as it is, and is written as
// version 3 when it changes.
func TestVersion2RecordIsRewrittenWhenItChanges(t *testing.T) {
	st := newStore(t, Options{})
	c := mustCreate(t, st, CreateRequest{Name: "old"})
	if err := st.update(ctx, func(tx kv) error {
		return tx.Bucket(bucketKeys).Put([]byte(c.Key.ID), model.EncodeKey(nil, &c.Key))
	}); err != nil {
		t.Fatal(err)
	}
	if raw := storedRecord(t, st, c.Key.ID); raw[0] != 2 {
		t.Fatalf("version %d", raw[0])
	}
	if got, err := st.GetKey(ctx, c.Key.ID); err != nil || !sameKey(got, c.Key) {
		t.Fatalf("%+v %v", got, err)
	}
	if res, err := st.Verify(ctx, VerifyRequest{Secret: c.Secret}); err != nil || !res.OK {
		t.Fatalf("verify: %+v %v", res, err)
	}
	if _, err := st.SetDisabled(ctx, c.Key.ID, true); err != nil {
		t.Fatal(err)
	}
	if raw := storedRecord(t, st, c.Key.ID); raw[0] != 3 {
		t.Fatalf("version %d after a change", raw[0])
	}
	if rep, err := st.Check(ctx); err != nil || len(rep.Problems) != 0 {
		t.Fatalf("check: %+v %v", rep, err)
	}
}

// A table number given in a transaction that fails is not remembered: the
// next transaction may give it to another string.
func TestFailedTableNumberIsNotKept(t *testing.T) {
	st := newStore(t, Options{})
	boom := errors.New("boom")
	var n uint64
	err := st.update(ctx, func(tx kv) error {
		var err error
		if n, err = st.ref(tx, "first"); err != nil {
			return err
		}
		if s, ok := st.lookup(tx)(n - 1); !ok || s != "first" {
			t.Fatalf("in its transaction: %q %v", s, ok)
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	var m uint64
	if err := st.update(ctx, func(tx kv) (err error) { m, err = st.ref(tx, "second"); return err }); err != nil || m != n {
		t.Fatalf("number %d %v, want %d", m, err, n)
	}
	if err := st.view(ctx, func(tx kv) error {
		if s, ok := st.lookup(tx)(n - 1); s != "second" || !ok {
			t.Fatalf("number %d reads %q %v", n-1, s, ok)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// sameKey compares what a record holds (version 2 holds every field as text).
func sameKey(a, b model.Key) bool {
	return a.ID == b.ID && string(model.EncodeKey(nil, &a)) == string(model.EncodeKey(nil, &b))
}

// The count of the table's numbers is a number in the file: one that a
// damaged or crafted store set back to a number already given must not
// give it again. The string of that number would be rewritten, and every
// record holding it would say something else: here a dev key read as a
// prod key and passed verify --env prod. A new string is refused as
// damage instead, and check says what is wrong.
func TestTableNumberAlreadyGivenIsNotGivenAgain(t *testing.T) {
	st := newStore(t, Options{})
	dev := mustCreate(t, st, CreateRequest{Name: "dev key", Environment: "dev"})
	var devNum []byte
	if err := st.update(ctx, func(tx kv) error {
		meta := tx.Bucket(bucketMeta)
		devNum = bytes.Clone(meta.Get([]byte(metaStrnPfx + "dev")))
		return meta.Put(metaStrSeq, devNum) // the count set back to dev's number
	}); err != nil || len(devNum) != 8 {
		t.Fatalf("dev's number %x: %v", devNum, err)
	}
	other, err := OpenBolt(st.Path(), Options{Actor: "alice"}) // no numbers cached
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.CreateKey(ctx, CreateRequest{Name: "prod key", Channel: "default", Environment: "prod"}); !errors.Is(err, ErrDamaged) {
		t.Errorf("a create that needs a new number: %v, want damage", err)
	}
	if k, err := other.GetKey(ctx, dev.Key.ID); err != nil || k.Environment != "dev" {
		t.Errorf("the dev key reads as %q: %v", k.Environment, err)
	}
	if res, err := other.Verify(ctx, VerifyRequest{Secret: dev.Secret, Environment: "prod"}); err != nil || res.OK {
		t.Errorf("the dev key verified for prod: %+v %v", res, err)
	}
	rep, err := other.Check(ctx)
	if err != nil || !strings.Contains(strings.Join(rep.Problems, "\n"), "table of strings") {
		t.Fatalf("check: %q %v", rep.Problems, err)
	}
}
