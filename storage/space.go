package storage

import (
	"context"
	"os"

	bolt "go.etcd.io/bbolt"
)

// Space is where a store file's bytes go, for measuring the layout
// (keyden-fill --space).
type Space struct {
	File int64 // the file's size
	Keys int
	// Buckets in the file's order: each one's entries, the bytes of their
	// keys and values, and the bytes of the pages holding them (the rest
	// of those pages is empty room left by splits).
	Buckets []BucketSpace
	Free    int64 // pages free for reuse (freed by earlier transactions)
	Unused  int64 // the file's tail past its last page (room bbolt grew it by)
	Other   int64 // the rest: meta pages, the free list, the root page
}

// BucketSpace is one bucket's share of a store file.
type BucketSpace struct {
	Name    string
	Entries int
	Data    int64 // keys and values
	Pages   int64 // bytes of the pages they take
}

// Space reads where the file's bytes go, in one read.
func (b *Bolt) Space(ctx context.Context) (Space, error) {
	var sp Space
	err := b.fb.preloading().rawView(ctx, func(tx *bolt.Tx) error {
		st, err := os.Stat(b.fb.path)
		if err != nil {
			return err
		}
		sp.File = st.Size()
		page := int64(tx.DB().Info().PageSize)
		sp.Free = int64(tx.DB().Stats().FreePageN+tx.DB().Stats().PendingPageN) * page
		sp.Unused = sp.File - tx.Size()
		used := sp.Free
		err = tx.ForEach(func(name []byte, bk *bolt.Bucket) error {
			s := bk.Stats()
			bs := BucketSpace{Name: string(name), Entries: s.KeyN, Pages: int64(s.BranchAlloc + s.LeafAlloc)}
			if s.LeafAlloc == 0 { // inline in its parent's page
				bs.Pages = int64(s.InlineBucketInuse)
			}
			_ = bk.ForEach(func(k, v []byte) error { bs.Data += int64(len(k) + len(v)); return nil })
			used += bs.Pages
			sp.Buckets = append(sp.Buckets, bs)
			return nil
		})
		sp.Other = tx.Size() - used
		sp.Keys = int(getUint(boltKV{tx}.Bucket(bucketMeta), metaKeyCount))
		return err
	})
	return sp, err
}
