package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
)

// Copy copies a whole store into an empty one: every bucket as it is
// (ids, hashes, records, members, audit log and its sequence), in
// batches, with the meta bucket (the schema mark) last, so a copy cut
// short is never taken for a store. It then reads both back and compares
// them. Writers to the source should pause: the copy reads one moment of it.
func Copy(ctx context.Context, from, to Store) (int, error) {
	src, dst := coreOf(from), coreOf(to)
	if src == nil || dst == nil {
		return 0, fail(ErrInvalid, "copying needs two keyden stores")
	}
	var snapshot map[string][][2][]byte
	var seqs map[string]uint64
	rep := CheckReport{Location: src.be.location()}
	err := src.view(ctx, func(tx kv) error {
		var err error
		if snapshot, seqs, err = readAllBuckets(tx); err != nil {
			return err
		}
		// A damaged source would be copied as it is, or fail half-way in
		// the copy with bbolt's own words.
		return src.checkAll(tx, &rep)
	})
	if err = damageAsProblem(err, &rep); err != nil {
		return 0, err
	}
	if len(rep.Problems) > 0 {
		return 0, fail(ErrDamaged, "the store to copy, %s, is damaged, so nothing was copied: run `keyden --db %s check` to see what is wrong, and restore it from a backup", rep.Location, rep.Location)
	}
	empty := false
	if err := dst.be.view(ctx, func(tx kv) error { empty = tx.Empty(); return nil }); err != nil {
		return 0, err
	}
	if !empty {
		return 0, fail(ErrExists, "%s is not empty: copy into a new file or an unused etcd prefix", dst.be.location())
	}
	n, err := copyInto(ctx, dst, snapshot, seqs)
	if err != nil {
		dst.discard(context.WithoutCancel(ctx), snapshot) // also after an interrupt
	}
	return n, err
}

// copyInto writes the snapshot into dst and compares what it reads back.
func copyInto(ctx context.Context, dst *core, snapshot map[string][][2][]byte, seqs map[string]uint64) (int, error) {
	order := append(append([][]byte{}, allBuckets[1:]...), bucketMeta)
	for _, name := range order {
		pairs := snapshot[string(name)]
		step := dst.be.batch() * 4
		for {
			n := min(len(pairs), step)
			chunk := pairs[:n]
			pairs = pairs[n:]
			last := len(pairs) == 0
			err := dst.be.write(ctx, func(tx kv) error {
				if !tx.HasBucket(name) {
					if err := tx.CreateBucket(name); err != nil {
						return err
					}
				}
				bk := tx.Bucket(name)
				for _, p := range chunk {
					if err := bk.Put(p[0], p[1]); err != nil {
						return err
					}
				}
				if last {
					return bk.SetSequence(seqs[string(name)])
				}
				return nil
			})
			if err != nil {
				return 0, err
			}
			if last {
				break
			}
		}
	}
	// Check the copy: every bucket and sequence the same.
	var got map[string][][2][]byte
	var gotSeqs map[string]uint64
	if err := dst.view(ctx, func(tx kv) error {
		var err error
		got, gotSeqs, err = readAllBuckets(tx)
		return err
	}); err != nil {
		return 0, err
	}
	for _, name := range allBuckets {
		if digest(snapshot[string(name)]) != digest(got[string(name)]) || seqs[string(name)] != gotSeqs[string(name)] {
			return 0, fail(ErrUnavailable, "the copy's %s differ from the source's, so the copy was removed: try again, and run `keyden check` on both stores if it happens again", name)
		}
	}
	return len(snapshot[string(bucketKeys)]), nil
}

// discard removes what a failed copy wrote, so a retry finds the
// destination empty: a file keyden made is removed, an etcd prefix emptied.
func (b *core) discard(ctx context.Context, snapshot map[string][][2][]byte) {
	if fb, ok := b.be.(*boltBackend); ok {
		os.Remove(fb.path)
		return
	}
	for _, name := range allBuckets {
		pairs := snapshot[string(name)]
		for len(pairs) > 0 {
			chunk := pairs[:min(len(pairs), b.be.batch())]
			pairs = pairs[len(chunk):]
			_ = b.be.write(ctx, func(tx kv) error {
				for _, p := range chunk {
					if err := tx.Bucket(name).Delete(p[0]); err != nil {
						return err
					}
				}
				return nil
			})
		}
	}
}

// coreOf is the logic under a store: Bolt's and Etcd's, or that of a
// store that wraps one of them.
func coreOf(s Store) *core {
	if c, ok := s.(interface{ base() *core }); ok {
		return c.base()
	}
	return nil
}

func readAllBuckets(tx kv) (map[string][][2][]byte, map[string]uint64, error) {
	out := map[string][][2][]byte{}
	seqs := map[string]uint64{}
	for _, name := range allBuckets {
		bk := tx.Bucket(name)
		seqs[string(name)] = bk.Sequence()
		err := bk.ForEach(func(k, v []byte) error {
			out[string(name)] = append(out[string(name)], [2][]byte{bytes.Clone(k), bytes.Clone(v)})
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return out, seqs, nil
}

func digest(pairs [][2][]byte) [32]byte {
	h := sha256.New()
	for _, p := range pairs {
		fmt.Fprintf(h, "%d:%x=%d:%x;", len(p[0]), p[0], len(p[1]), p[1])
	}
	var d [32]byte
	copy(d[:], h.Sum(nil))
	return d
}
