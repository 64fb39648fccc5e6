package storage

import (
	"encoding/binary"
	"math"
	"strconv"
	"sync"

	"keyden/model"
)

// A store's table of strings numbers the strings that repeat across its
// key records (channel, environment, created_by, the hint's prefix_tag_),
// so a record of version 3 holds a small number instead of the text (about
// 28 bytes a record; see BENCHMARKS.md). It lives in the meta bucket:
// "str/N" is the string of number N, "strn/TEXT" its number (8 bytes) and
// "str_seq" the numbers given so far. A number is given in the same
// transaction as the first record that needs it and never changes.
var (
	metaStrSeq  = []byte("str_seq")
	metaStrPfx  = "str/"
	metaStrnPfx = "strn/"
)

// maxTableString bounds what goes into the table: longer text is written
// in the record (a name so long is not worth a number, and the meta bucket
// keeps its keys short).
const maxTableString = 128

// strTable is this process's copy of the table entries it has read. A
// number given by a transaction still running (made, by transaction) is
// not copied: the transaction may yet fail, and then another writer may
// give that number to another string.
type strTable struct {
	mu    sync.RWMutex
	byNum map[uint64]string
	byStr map[string]uint64
	mine  map[uint64]int
	made  map[kv][]uint64
}

// ended forgets the numbers given by the transactions txs, which are over.
func (t *strTable) ended(txs []kv) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tx := range txs {
		for _, n := range t.made[tx] {
			if t.mine[n]--; t.mine[n] == 0 {
				delete(t.mine, n)
			}
		}
		delete(t.made, tx)
	}
}

func (t *strTable) cached(n uint64) (string, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s, ok := t.byNum[n]
	return s, ok
}

func (t *strTable) keep(n uint64, s string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.mine[n] > 0 {
		return
	}
	if t.byNum == nil {
		t.byNum, t.byStr = map[uint64]string{}, map[string]uint64{}
	}
	t.byNum[n], t.byStr[s] = s, n
}

// lookup gives the strings of table numbers as tx sees them.
func (b *core) lookup(tx kv) func(uint64) (string, bool) {
	return func(n uint64) (string, bool) {
		if s, ok := b.strs.cached(n); ok {
			return s, true
		}
		raw := tx.Bucket(bucketMeta).Get([]byte(metaStrPfx + strconv.FormatUint(n, 10)))
		if raw == nil {
			return "", false
		}
		s := string(raw)
		b.strs.keep(n, s)
		return s, true
	}
}

// ref is the table reference (number + 1) for s, giving s a number in tx
// if it has none; 0 for a string the table does not take.
func (b *core) ref(tx kv, s string) (uint64, error) {
	if s == "" || len(s) > maxTableString {
		return 0, nil
	}
	b.strs.mu.RLock()
	n, ok := b.strs.byStr[s]
	b.strs.mu.RUnlock()
	if ok {
		return n + 1, nil
	}
	meta := tx.Bucket(bucketMeta)
	if raw := meta.Get([]byte(metaStrnPfx + s)); len(raw) == 8 {
		n = binary.BigEndian.Uint64(raw)
		b.strs.keep(n, s)
		return n + 1, nil
	}
	n = getUint(meta, metaStrSeq)
	// The count is a number in the file. Set back (damaged, or crafted)
	// it would give a number already given, whose string this rewrites:
	// every record holding the number would then say something else (a
	// dev key read as a prod key).
	if n == math.MaxUint64 || meta.Get([]byte(metaStrPfx+strconv.FormatUint(n, 10))) != nil {
		return 0, fail(ErrDamaged, "the store's table of strings is damaged (its count gives a number already given), so it may have been tampered with: run `keyden check`")
	}
	b.strs.mu.Lock()
	if b.strs.mine == nil {
		b.strs.mine, b.strs.made = map[uint64]int{}, map[kv][]uint64{}
	}
	b.strs.mine[n]++
	b.strs.made[tx] = append(b.strs.made[tx], n)
	b.strs.mu.Unlock()
	var num [8]byte
	binary.BigEndian.PutUint64(num[:], n)
	if err := meta.Put([]byte(metaStrPfx+strconv.FormatUint(n, 10)), []byte(s)); err != nil {
		return 0, err
	}
	if err := meta.Put([]byte(metaStrnPfx+s), num[:]); err != nil {
		return 0, err
	}
	if err := bumpUint(meta, metaStrSeq, 1); err != nil {
		return 0, err
	}
	return n + 1, nil
}

// putKey writes a key's record, of version 3; bbolt keeps the value until
// commit, so each record gets a buffer of its own.
func (b *core) putKey(tx kv, k *model.Key) error {
	var r model.Refs
	prefix, _, _ := model.HintParts(k.Hint)
	for _, f := range []struct {
		ref *uint64
		s   string
	}{{&r.Channel, k.Channel}, {&r.Environment, k.Environment}, {&r.CreatedBy, k.CreatedBy}, {&r.HintPrefix, prefix}} {
		var err error
		if *f.ref, err = b.ref(tx, f.s); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketKeys).Put([]byte(k.ID), model.EncodeKeyRefs(nil, k, r))
}

// decode reads a key record stored under id, as tx sees the table.
func (b *core) decode(tx kv, id, raw string, k *model.Key) error {
	return model.DecodeKeyWith(id, raw, k, b.lookup(tx))
}
