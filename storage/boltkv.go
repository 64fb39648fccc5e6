package storage

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
)

// boltKV is a bbolt transaction.
type boltKV struct{ tx *bolt.Tx }

func (t boltKV) Bucket(name []byte) bucket {
	b := t.tx.Bucket(name)
	if b != nil && bytes.Equal(name, bucketAudit) {
		// The audit log only ever appends: a page split at bbolt's default
		// of half full would stay half empty for ever.
		b.FillPercent = 1
	}
	return boltBucket{b}
}
func (t boltKV) HasBucket(name []byte) bool { return t.tx.Bucket(name) != nil }
func (t boltKV) CreateBucket(name []byte) error {
	_, err := t.tx.CreateBucket(name)
	return err
}
func (t boltKV) Empty() bool {
	empty := true
	_ = t.tx.ForEach(func([]byte, *bolt.Bucket) error { empty = false; return errStop })
	return empty
}

type boltBucket struct{ b *bolt.Bucket }

func (b boltBucket) Get(k []byte) []byte                      { return b.b.Get(k) }
func (b boltBucket) Put(k, v []byte) error                    { return b.b.Put(k, v) }
func (b boltBucket) Delete(k []byte) error                    { return b.b.Delete(k) }
func (b boltBucket) ForEach(fn func(k, v []byte) error) error { return b.b.ForEach(fn) }
func (b boltBucket) NextSequence() (uint64, error)            { return b.b.NextSequence() }
func (b boltBucket) Sequence() uint64                         { return b.b.Sequence() }
func (b boltBucket) SetSequence(n uint64) error               { return b.b.SetSequence(n) }

func (b boltBucket) ForEachFrom(from []byte, fn func(k, v []byte) error) error {
	c := b.b.Cursor()
	for k, v := c.Seek(from); k != nil; k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return stopped(err)
		}
	}
	return nil
}

// ForEachReverseFrom visits the keys below `below` (nil: every key) in
// reverse order.
func (b boltBucket) ForEachReverseFrom(below []byte, fn func(k, v []byte) error) error {
	c := b.b.Cursor()
	k, v := c.Last()
	if below != nil {
		if k, _ = c.Seek(below); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	for ; k != nil; k, v = c.Prev() {
		if err := fn(k, v); err != nil {
			return stopped(err)
		}
	}
	return nil
}

// releaseMapped lets go of the pages of the file's memory map this process
// has touched so far. A reader of every key in one transaction
// (SnapshotEach) would otherwise count the whole file in its resident size
// until the file closes; the pages are the page cache's, and one read again
// is mapped again, as it was. Only a read transaction may call it.
func (t boltKV) releaseMapped() {
	if t.tx.Writable() {
		return
	}
	releaseMapped(t.tx.DB().Info().Data, int(t.tx.Size()))
}
