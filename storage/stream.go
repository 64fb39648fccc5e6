package storage

import (
	"context"
	"encoding/binary"

	"keyden/model"
)

// Streaming reads: `keyden list` and `audit --json` write a store's
// records as they read them, so their memory does not grow with the
// store. The records are read a part at a time, each part in a read
// transaction of its own, and handed out after it: on a file that closes
// the file between parts, which lets go of the pages of the memory map
// already read and never holds writers back from a slow reader of the
// output. A listing is then not one snapshot: a key changed while it runs
// shows as it was when its part was read.

// streamPart is how many records one read transaction of a stream holds.
// A record's page lands anywhere in the file, and the kernel maps the
// pages around each one it faults in (fault-around, 64 KiB), so a part
// maps up to 64 KiB a page of records it reads: 2,048 records, ~170
// pages, keep that to about 10 MiB, at ~0.4 ms a part to open the file.
const streamPart = 2048

// EachKey calls fn with every key f matches, in the store's order (by id),
// as ListKeys finds them, without holding them all. measure, when set,
// first sees every key that will be listed (to size a table's columns) in
// a pass of its own; a key made between the two passes is listed without
// having been measured. A key given to measure or fn is valid only during
// the call.
func (b *core) EachKey(ctx context.Context, f Filter, measure, fn func(*model.Key) error) error {
	for _, pass := range []func(*model.Key) error{measure, fn} {
		if pass != nil { // measure may be nil
			if err := b.eachKey(ctx, f, pass); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *core) eachKey(ctx context.Context, f Filter, fn func(*model.Key) error) error {
	part := make([]model.Key, 0, streamPart)
	var from []byte
	for more := true; more; {
		err := b.view(ctx, func(tx kv) error {
			envName, err := b.checkFilter(tx, f)
			if err != nil {
				return err
			}
			now := b.now()
			part, more = part[:0], false
			n := 0
			lookup := b.lookup(tx)
			return tx.Bucket(bucketKeys).ForEachFrom(from, func(id, v []byte) error {
				if n == streamPart {
					from, more = append(from[:0], id...), true // where the next part starts
					return errStop
				}
				n++
				part = append(part, model.Key{})
				k := &part[len(part)-1]
				// string(v) copies: the record outlives the transaction.
				if err := model.DecodeKeyWith(string(id), string(v), k, lookup); err != nil {
					return b.damagedKey(id)
				}
				if !f.match(k, envName, now) {
					part = part[:len(part)-1]
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		if err := handOut(part, fn); err != nil {
			return err
		}
	}
	return nil
}

func (b *core) damagedKey(id []byte) error {
	return fail(ErrDamaged, "the key record %s in %s is damaged: restore the store from a backup", model.Quote(string(id)), b.be.location())
}

// EachEvent calls fn with every audit event f matches, newest first, as
// Audit finds them, without holding them.
func (b *core) EachEvent(ctx context.Context, f AuditFilter, fn func(*model.Event) error) error {
	if _, ranged := b.be.(external); ranged { // etcd, the one backend outside
		return b.eachEventRanged(ctx, f, fn)
	}
	// The log is walked by its keys, not by counting sequence numbers
	// down from the bucket's sequence: that number is in the file, and a
	// crafted one (2^62) made audit --json count for ever.
	var below []byte // the oldest event handed out so far; nil: none yet
	n := 0
	part := make([]model.Event, 0, streamPart)
	for done := false; !done; {
		// The part is written out after its transaction: a slow reader of
		// the output must not hold the file from writers.
		part = part[:0]
		err := b.view(ctx, func(tx kv) error {
			part, done = part[:0], true
			read := 0
			return tx.Bucket(bucketAudit).ForEachReverseFrom(below, func(k, v []byte) error {
				if read == streamPart {
					done = false
					return errStop
				}
				read++
				below = append(below[:0], k...)
				var ev model.Event
				if err := decodeEvent(k, v, &ev); err != nil {
					return err
				}
				if !f.Since.IsZero() && ev.Time.Before(f.Since) {
					return errStop
				}
				if f.KeyID != "" && ev.KeyID != f.KeyID {
					return nil
				}
				part = append(part, ev)
				if n++; f.Limit > 0 && n == f.Limit {
					return errStop
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		if err := handOut(part, fn); err != nil {
			return err
		}
	}
	return nil
}

// rangeBucket is a bucket read by ranges with an end (etcd's).
type rangeBucket interface {
	ForEachRange(from, to []byte, fn func(k, v []byte) error) error
}

// eachEventRanged is EachEvent for etcd, where a read is a round trip:
// each part is streamPart sequences read in one range, oldest first, in a
// read of its own, and handed out newest first. The range has an end: one
// open to the end of the log makes etcd count the rest of the log for
// each part.
func (b *core) eachEventRanged(ctx context.Context, f AuditFilter, fn func(*model.Event) error) error {
	var hi uint64 // the newest sequence yet to read
	first, n := true, 0
	part := make([]model.Event, 0, streamPart)
	for hi > 0 || first {
		err := b.view(ctx, func(tx kv) error {
			part = part[:0]
			bk := tx.Bucket(bucketAudit)
			if first {
				hi, first = bk.Sequence(), false
			}
			lo := uint64(1)
			if hi > streamPart {
				lo = hi - streamPart + 1
			}
			var from, to [8]byte
			binary.BigEndian.PutUint64(from[:], lo)
			binary.BigEndian.PutUint64(to[:], hi+1)
			err := bk.(rangeBucket).ForEachRange(from[:], to[:], func(k, v []byte) error {
				part = append(part, model.Event{})
				return decodeEvent(k, v, &part[len(part)-1])
			})
			hi = lo - 1
			if err == nil && len(part) == 0 && hi > 0 {
				// A part with no event: the sequence is past the log (a
				// crafted 2^62 made this count down a part at a time for
				// ever). Go on from the newest event below, in one read.
				hi = 0
				err = bk.ForEachReverseFrom(from[:], func(k, _ []byte) error {
					if len(k) != 8 {
						return errBadEvent
					}
					hi = binary.BigEndian.Uint64(k)
					return errStop
				})
			}
			return err
		})
		if err != nil {
			return err
		}
		for i := len(part) - 1; i >= 0; i-- {
			ev := &part[i]
			if !f.Since.IsZero() && ev.Time.Before(f.Since) {
				return nil
			}
			if f.KeyID != "" && ev.KeyID != f.KeyID {
				continue
			}
			if err := fn(ev); err != nil {
				return err
			}
			if n++; f.Limit > 0 && n == f.Limit {
				return nil
			}
		}
	}
	return nil
}

// handOut gives fn each record of a part, after its read transaction.
func handOut[T any](part []T, fn func(*T) error) error {
	for i := range part {
		if err := fn(&part[i]); err != nil {
			return err
		}
	}
	return nil
}
