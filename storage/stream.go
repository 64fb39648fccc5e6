package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"
	"sort"
	"strings"

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

// EachKey calls fn with every key f matches, oldest first (ties by id),
// as ListKeys finds them, without holding them all: a first pass keeps
// only each match's creation time and id (~20 bytes a key), sorts those,
// and a second reads the records again in that order, a part at a time.
// measure, when set, sees every key of the first pass (to size a table's
// columns). A key deleted between the passes is left out, one changed
// shows as it is in the second; a key given to measure or fn is valid only
// during the call.
func (b *core) EachKey(ctx context.Context, f Filter, measure, fn func(*model.Key) error) error {
	if _, remote := b.be.(external); remote {
		// On etcd a record read by id is a request of its own: a million
		// of them would take minutes, so the keys are held and sorted.
		return b.eachKeyHeld(ctx, f, measure, fn)
	}
	var order keyOrder
	err := b.eachKey(ctx, f, func(k *model.Key) error {
		order.add(k)
		if measure != nil {
			return measure(k)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Sort(&order)
	return b.eachKeyOf(ctx, f, &order, fn)
}

func (b *core) eachKeyHeld(ctx context.Context, f Filter, measure, fn func(*model.Key) error) error {
	keys, err := b.ListKeys(ctx, f)
	if err != nil {
		return err
	}
	SortOldestFirst(keys)
	for _, pass := range []func(*model.Key) error{measure, fn} {
		for i := range keys {
			if pass == nil {
				break
			}
			if err := pass(&keys[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// SortOldestFirst sorts keys in EachKey's order: by creation, ties by id.
func SortOldestFirst(keys []model.Key) {
	slices.SortFunc(keys, func(a, b model.Key) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// keyOrder is the first pass's result: creation times and ids, the ids
// packed into one buffer so a million keys cost no million strings.
type keyOrder struct {
	created []int64
	ends    []uint32 // ids[ends[i-1]:ends[i]] is the i-th id
	ids     []byte
	perm    []uint32 // the sorted order, as indexes
}

func (o *keyOrder) add(k *model.Key) {
	o.created = append(o.created, k.CreatedAt.UnixNano())
	o.ids = append(o.ids, k.ID...)
	o.ends = append(o.ends, uint32(len(o.ids)))
	o.perm = append(o.perm, uint32(len(o.perm)))
}

func (o *keyOrder) id(i uint32) []byte {
	start := uint32(0)
	if i > 0 {
		start = o.ends[i-1]
	}
	return o.ids[start:o.ends[i]]
}

func (o *keyOrder) Len() int      { return len(o.perm) }
func (o *keyOrder) Swap(i, j int) { o.perm[i], o.perm[j] = o.perm[j], o.perm[i] }
func (o *keyOrder) Less(i, j int) bool {
	a, b := o.perm[i], o.perm[j]
	if o.created[a] != o.created[b] {
		return o.created[a] < o.created[b]
	}
	return bytes.Compare(o.id(a), o.id(b)) < 0
}

// eachKeyOf reads the keys o names, in o's order, a part per read
// transaction, and gives fn those f still matches.
func (b *core) eachKeyOf(ctx context.Context, f Filter, o *keyOrder, fn func(*model.Key) error) error {
	part := make([]model.Key, 0, streamPart)
	for next := 0; next < len(o.perm); {
		err := b.view(ctx, func(tx kv) error {
			envName, err := b.checkFilter(tx, f)
			if err != nil {
				return err
			}
			now := b.now()
			part = part[:0]
			bk := tx.Bucket(bucketKeys)
			for read := 0; read < streamPart && next < len(o.perm); read++ {
				id := o.id(o.perm[next])
				next++
				v := bk.Get(id)
				if v == nil {
					continue // deleted since the first pass
				}
				part = append(part, model.Key{})
				k := &part[len(part)-1]
				if err := model.DecodeKey(string(id), v, k); err != nil {
					return b.damagedKey(id)
				}
				if !f.match(k, envName, now) {
					part = part[:len(part)-1]
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := range part {
			if err := fn(&part[i]); err != nil {
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
			return tx.Bucket(bucketKeys).ForEachFrom(from, func(id, v []byte) error {
				if n == streamPart {
					from, more = append(from[:0], id...), true // where the next part starts
					return errStop
				}
				n++
				part = append(part, model.Key{})
				k := &part[len(part)-1]
				// DecodeKey copies: the record outlives the transaction.
				if err := model.DecodeKey(string(id), v, k); err != nil {
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
		for i := range part {
			if err := fn(&part[i]); err != nil {
				return err
			}
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
	if _, whole := b.be.(external); whole { // etcd, the one backend outside
		evs, err := b.Audit(ctx, f)
		if err != nil {
			return err
		}
		for i := range evs {
			if err := fn(&evs[i]); err != nil {
				return err
			}
		}
		return nil
	}
	var next uint64 // the next sequence to read, downwards
	first, n := true, 0
	part := make([]model.Event, 0, streamPart)
	for done := false; !done; {
		// The part is written out after its transaction: a slow reader of
		// the output must not hold the file from writers.
		part = part[:0]
		err := b.view(ctx, func(tx kv) error {
			part = part[:0]
			bk := tx.Bucket(bucketAudit)
			if first {
				next, first = bk.Sequence(), false
			}
			var key [8]byte
			for read := 0; read < streamPart; read++ {
				if next == 0 {
					done = true
					return nil
				}
				binary.BigEndian.PutUint64(key[:], next)
				next--
				v := bk.Get(key[:])
				if v == nil {
					continue
				}
				var ev model.Event
				if err := decodeEvent(key[:], v, &ev); err != nil {
					return err
				}
				if !f.Since.IsZero() && ev.Time.Before(f.Since) {
					done = true
					return nil
				}
				if f.KeyID != "" && ev.KeyID != f.KeyID {
					continue
				}
				part = append(part, ev)
				if n++; f.Limit > 0 && n == f.Limit {
					done = true
					return nil
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for i := range part {
			if err := fn(&part[i]); err != nil {
				return err
			}
		}
	}
	return nil
}
