package storage

import (
	"bytes"
	"errors"
)

// kv is one transaction over a store's buckets. The store's logic is
// written once against it; bbolt and etcd each provide one.
type kv interface {
	Bucket(name []byte) bucket
	// HasBucket says whether a bucket exists (a bbolt file may lack them;
	// etcd's prefixes always exist).
	HasBucket(name []byte) bool
	CreateBucket(name []byte) error
	// Empty says the store holds nothing at all: a new file or prefix.
	Empty() bool
}

// bucket is a sorted map of byte keys to byte values. Values given to Put
// must not change until the transaction ends.
type bucket interface {
	Get(key []byte) []byte
	Put(key, value []byte) error
	Delete(key []byte) error
	ForEach(fn func(k, v []byte) error) error
	// ForEachFrom visits keys ≥ from in order; ForEachReverseFrom keys
	// below `below` (nil: every key) in reverse. Returning errStop from fn
	// ends the walk without an error.
	ForEachFrom(from []byte, fn func(k, v []byte) error) error
	ForEachReverseFrom(below []byte, fn func(k, v []byte) error) error
	NextSequence() (uint64, error)
	Sequence() uint64
	SetSequence(n uint64) error
}

// eachWithPrefix visits b's keys that start with prefix, in order: the
// records of one kind that share the meta bucket (verifiers, leak reports).
func eachWithPrefix(b bucket, prefix []byte, fn func(k, v []byte) error) error {
	return b.ForEachFrom(prefix, func(k, v []byte) error {
		if !bytes.HasPrefix(k, prefix) {
			return errStop
		}
		return fn(k, v)
	})
}

// errStop ends a walk early.
var errStop = errors.New("stop")

func stopped(err error) error {
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}
