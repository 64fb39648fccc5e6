package etcdstore

import (
	"context"
	"sort"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"keyden/storage"
)

// etcdKV reads at one revision and buffers writes until commit.
type etcdKV struct {
	be       *etcdBackend
	s        *session
	cli      *clientv3.Client
	ctx      context.Context
	rev      int64
	guardRev int64
	txnRev   int64
	writable bool
	writes   map[string]*[]byte // nil value: delete
	order    []string
	err      error
}

func (t *etcdKV) Revision() int64 { return t.rev }

func (t *etcdKV) Bucket(name []byte) storage.Bucket {
	return &etcdBucket{t: t, pfx: t.be.prefix + string(name) + "/"}
}
func (t *etcdKV) HasBucket([]byte) bool     { return true }
func (t *etcdKV) CreateBucket([]byte) error { return nil }

// Empty: nothing under the prefix but, perhaps, txnKey (a settled write's fence).
func (t *etcdKV) Empty() bool {
	if len(t.writes) > 0 {
		return false
	}
	resp, err := t.cli.Get(t.ctx, t.be.prefix, clientv3.WithPrefix(), clientv3.WithRev(t.rev), clientv3.WithKeysOnly(), clientv3.WithLimit(2))
	if err != nil {
		t.err = err
		return false
	}
	return resp.Count == 0 || (resp.Count == 1 && string(resp.Kvs[0].Key) == t.be.prefix+txnKey)
}

func (t *etcdKV) set(k string, v *[]byte) {
	if _, ok := t.writes[k]; !ok {
		t.order = append(t.order, k)
	}
	t.writes[k] = v
}

type etcdBucket struct {
	t   *etcdKV
	pfx string
}

func (b *etcdBucket) Get(key []byte) []byte {
	k := b.pfx + string(key)
	if v, ok := b.t.writes[k]; ok {
		if v == nil {
			return nil
		}
		return *v
	}
	resp, err := b.t.cli.Get(b.t.ctx, k, clientv3.WithRev(b.t.rev))
	if err != nil {
		b.t.err = err
		return nil
	}
	if len(resp.Kvs) == 0 {
		return nil
	}
	return resp.Kvs[0].Value
}

func (b *etcdBucket) Put(key, value []byte) error {
	if !b.t.writable {
		return storage.Fail(storage.ErrInvalid, "a write in a read transaction")
	}
	v := append([]byte(nil), value...)
	b.t.set(b.pfx+string(key), &v)
	return nil
}

func (b *etcdBucket) Delete(key []byte) error {
	b.t.set(b.pfx+string(key), nil)
	return nil
}

const etcdPage = 2000

// walk visits the bucket's keys in order (or reverse) from from, up to
// (not including) to when it is set, merging this transaction's own
// writes over what etcd holds at its revision.
func (b *etcdBucket) walk(from, to []byte, reverse bool, fn func(k, v []byte) error) error {
	end := clientv3.GetPrefixRangeEnd(b.pfx)
	if to != nil {
		end = b.pfx + string(to)
	}
	var mine []string
	for k := range b.t.writes {
		if strings.HasPrefix(k, b.pfx) && (reverse || k >= b.pfx+string(from)) && k < end {
			mine = append(mine, k)
		}
	}
	sort.Strings(mine)
	if reverse {
		for i, j := 0, len(mine)-1; i < j; i, j = i+1, j-1 {
			mine[i], mine[j] = mine[j], mine[i]
		}
	}
	emitMine := func(upTo string, inclusive bool) error {
		for len(mine) > 0 {
			k := mine[0]
			if upTo != "" && ((!reverse && (k > upTo || (k == upTo && !inclusive))) || (reverse && (k < upTo || (k == upTo && !inclusive)))) {
				return nil
			}
			mine = mine[1:]
			if v := b.t.writes[k]; v != nil {
				if err := fn([]byte(k[len(b.pfx):]), *v); err != nil {
					return err
				}
			}
		}
		return nil
	}
	start := b.pfx + string(from)
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithRev(b.t.rev), clientv3.WithLimit(etcdPage)}
		if reverse {
			opts = append(opts, clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
		}
		resp, err := b.t.cli.Get(b.t.ctx, start, opts...)
		if err != nil {
			b.t.err = err
			return b.t.be.err(err)
		}
		for _, kv := range resp.Kvs {
			k := string(kv.Key)
			if err := emitMine(k, false); err != nil {
				return storage.Stopped(err)
			}
			if _, mineToo := b.t.writes[k]; mineToo {
				if len(mine) > 0 && mine[0] == k {
					mine = mine[1:]
				}
				if v := b.t.writes[k]; v != nil {
					if err := fn(kv.Key[len(b.pfx):], *v); err != nil {
						return storage.Stopped(err)
					}
				}
				continue
			}
			if err := fn(kv.Key[len(b.pfx):], kv.Value); err != nil {
				return storage.Stopped(err)
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		last := string(resp.Kvs[len(resp.Kvs)-1].Key)
		if reverse {
			end = last // the range end is exclusive
		} else {
			start = last + "\x00"
		}
	}
	return storage.Stopped(emitMine("", false))
}

func (b *etcdBucket) ForEach(fn func(k, v []byte) error) error { return b.walk(nil, nil, false, fn) }
func (b *etcdBucket) ForEachFrom(from []byte, fn func(k, v []byte) error) error {
	return b.walk(from, nil, false, fn)
}

// ForEachReverseFrom visits the keys below `below` (nil: every key) in
// reverse order.
func (b *etcdBucket) ForEachReverseFrom(below []byte, fn func(k, v []byte) error) error {
	return b.walk(nil, below, true, fn)
}

// ForEachRange visits the keys from from up to (not including) to, in
// order. A range with an end is what keeps a part of a long bucket cheap
// on etcd: a read's answer counts every key up to its range's end.
func (b *etcdBucket) ForEachRange(from, to []byte, fn func(k, v []byte) error) error {
	return b.walk(from, to, false, fn)
}

// Sequences live beside the buckets: prefix/seq/<bucket>.
func (b *etcdBucket) seqKey() []byte {
	name := strings.TrimSuffix(strings.TrimPrefix(b.pfx, b.t.be.prefix), "/")
	return []byte(name)
}

func (b *etcdBucket) Sequence() uint64 {
	return storage.Uint(b.t.Bucket([]byte("seq")), b.seqKey())
}

func (b *etcdBucket) NextSequence() (uint64, error) {
	seqs := b.t.Bucket([]byte("seq"))
	n := storage.Uint(seqs, b.seqKey()) + 1
	return n, storage.AddUint(seqs, b.seqKey(), 1)
}

func (b *etcdBucket) SetSequence(n uint64) error {
	seqs := b.t.Bucket([]byte("seq"))
	return storage.AddUint(seqs, b.seqKey(), int64(n)-int64(storage.Uint(seqs, b.seqKey())))
}
