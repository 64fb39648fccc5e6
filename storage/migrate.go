package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
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
	if err := src.view(ctx, func(tx kv) error {
		var err error
		snapshot, seqs, err = readAllBuckets(tx)
		return err
	}); err != nil {
		return 0, err
	}
	empty := false
	if err := dst.be.view(ctx, func(tx kv) error { empty = tx.Empty(); return nil }); err != nil {
		return 0, err
	}
	if !empty {
		return 0, fail(ErrExists, "%s is not empty: copy into a new file or an unused etcd prefix", dst.be.location())
	}
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
			return 0, fail(ErrDamaged, "the copy's %s differ from the source's: remove the copy and try again", name)
		}
	}
	return len(snapshot[string(bucketKeys)]), nil
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
