package storage

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unsafe"

	"keyden/model"
)

// The change feed: a reader that keeps keys in memory (serve's verifier,
// the TUI) reads every key once (Snapshot), then only what changed since
// (Updates), and confirms it is current with one small read (FeedHead).
// Every change to a key's rules writes an audit event in the same
// transaction, and every last-used write notes its keys in the usage
// journal, so the two are a complete feed.

// Position is how far a reader has followed a store: its audit log (every
// change to a key's rules) and its usage journal (every last-used write).
type Position struct {
	Audit, Usage uint64
	// RulesOnly: the reader follows changes to keys' rules, not last-used
	// news (a verifier keeps its own), so Updates neither reads the usage
	// journal nor resets when the reader falls behind it.
	RulesOnly bool
}

// Changes are what changed in a store after a Position.
type Changes struct {
	Seq     uint64      // the audit sequence these bring the reader up to
	Keys    []model.Key // keys created or changed (their current state)
	Removed []string    // ids of keys that are gone
	Usage   uint64      // the usage journal sequence they reflect
	// Reset says the store's history does not continue from the reader's
	// position (a restored or replaced file, or a reader away longer than
	// the usage journal keeps): read a Snapshot instead.
	Reset bool
	// Rev is the etcd revision these were read at (0 for a file).
	Rev int64

	rulesOnly bool
}

// Position is where these changes bring their reader.
func (ch Changes) Position() Position {
	return Position{Audit: ch.Seq, Usage: ch.Usage, RulesOnly: ch.rulesOnly}
}

// Use is the last-used news one verifier gathered for one key.
type Use struct {
	ID    string
	At    time.Time
	From  string
	Count uint64
	// Days is Count split by UTC day, for news gathered across midnight;
	// when it is empty, all Count uses are counted on At's day.
	Days model.DailyUses
	// Expired says the key was refused as expired: the store writes its
	// expire audit event if it has not yet.
	Expired bool
}

// Snapshot reads every key and the position they reflect, in one transaction.
func (b *core) Snapshot(ctx context.Context) ([]model.Key, Position, error) {
	var keys []model.Key
	var pos Position
	err := b.view(ctx, func(tx kv) error {
		pos = Position{Audit: tx.Bucket(bucketAudit).Sequence(), Usage: getUint(tx.Bucket(bucketMeta), metaUsageSeq)}
		var err error
		keys, err = b.readKeys(tx, nil)
		return err
	})
	return keys, pos, err
}

// SnapshotEach is Snapshot a key at a time, for a reader that keeps less
// than every key whole (serve's verifier): size, if not nil, is told how
// many keys there are before the first; fn sees each key in turn and must
// not keep it, nor any string or slice of it, once it returns (they point
// into the store's pages, or into a key the next call overwrites). So the
// load never holds every record decoded at once. A kept string (k.ID to
// act on later) points into the file's memory map, which is gone when
// SnapshotEach returns: read later it faults (inside a later transaction
// that is reported as a damaged store) or, once a later transaction maps
// the file at the same place, silently reads whatever that page holds
// then. Copy what is kept (strings.Clone).
func (b *core) SnapshotEach(ctx context.Context, size func(int), fn func(*model.Key) error) (Position, error) {
	var pos Position
	err := b.view(ctx, func(tx kv) error {
		pos = Position{Audit: tx.Bucket(bucketAudit).Sequence(), Usage: getUint(tx.Bucket(bucketMeta), metaUsageSeq)}
		if size != nil {
			size(keyCountHint(tx))
		}
		var k model.Key
		read := releasing(tx)
		lookup := b.lookup(tx)
		return tx.Bucket(bucketKeys).ForEach(func(id, v []byte) error {
			read()
			if err := model.DecodeKeyWith(unsafe.String(unsafe.SliceData(id), len(id)), unsafe.String(unsafe.SliceData(v), len(v)), &k, lookup); err != nil {
				return fail(ErrDamaged, "the key record %s in %s is damaged: restore the store from a backup", model.Quote(string(id)), b.be.location())
			}
			return fn(&k)
		})
	})
	return pos, err
}

// keyCountHintMax bounds the key count a reader is told to size its
// memory by: the count is a number in the file, which a damaged or crafted
// store may set to a trillion (the TUI then died out of memory before it
// drew anything). Past it, a reader's lists grow as keys come.
const keyCountHintMax = 1 << 22

// keyCountHint is the store's key count as a size hint, bounded.
func keyCountHint(tx kv) int {
	return int(min(getUint(tx.Bucket(bucketMeta), metaKeyCount), keyCountHintMax))
}

// releaseEvery is how many keys a reader of every key (SnapshotEach,
// readKeys) reads between letting go of the file's mapped pages: about
// 30 MB of pages, and a madvise call of about a millisecond over a million
// keys' file.
var releaseEvery = 1 << 15

// releasing is called once per record by a reader of every key that copies
// what it keeps: every releaseEvery records it lets go of the file's pages
// read so far (boltKV.releaseMapped), so they do not pile up in the
// process's resident size. Each record's page is read once.
func releasing(tx kv) func() { return releasingEvery(tx, releaseEvery) }

// releaseScatteredEvery is releaseEvery for a reader of keys here and
// there (Updates): each record may be on a page of its own, so 4,096 of
// them are up to 16 MB of pages.
var releaseScatteredEvery = 1 << 12

// releasingEvery is releasing, letting go every `every` records.
func releasingEvery(tx kv, every int) func() {
	r, ok := tx.(interface{ releaseMapped() })
	if !ok {
		return func() {}
	}
	n := 0
	return func() {
		if n++; n%every == 0 {
			r.releaseMapped()
		}
	}
}

// Updates reads what changed after from: keys created, changed, used (unless
// from.RulesOnly) or removed, each once in its current state. A reader
// follows a big store with it instead of re-reading every key.
func (b *core) Updates(ctx context.Context, from Position) (Changes, error) {
	ch := Changes{rulesOnly: from.RulesOnly, Usage: from.Usage}
	err := b.view(ctx, func(tx kv) error {
		if r, ok := tx.(interface{ Revision() int64 }); ok {
			ch.Rev = r.Revision()
		}
		meta := tx.Bucket(bucketMeta)
		ch.Seq = tx.Bucket(bucketAudit).Sequence()
		if !from.RulesOnly {
			ch.Usage = getUint(meta, metaUsageSeq)
		}
		if ch.Seq < from.Audit || ch.Usage < from.Usage || ch.Usage-from.Usage > usageJournalLen {
			ch.Reset = true
			return nil
		}
		f := b.newFeed(tx, &ch)
		if err := f.audit(from.Audit); err != nil {
			return err
		}
		for seq := from.Usage + 1; seq <= ch.Usage; seq++ {
			ids := meta.Get(usageEntry(seq))
			for len(ids) > 0 {
				id, rest, _ := bytes.Cut(ids, []byte{'\n'})
				if err := f.add(string(id)); err != nil {
					return err
				}
				ids = rest
			}
		}
		return nil
	})
	return ch, err
}

// FeedHead reads only where the feed of rules stands: the audit sequence
// and, on etcd, the revision read. A verifier that finds the sequence it
// applied knows it is current, at the cost of one small read instead of a
// whole Updates (whose store check counts every key on etcd).
func (b *core) FeedHead(ctx context.Context) (seq uint64, rev int64, err error) {
	err = b.be.view(ctx, func(tx kv) error {
		if r, ok := tx.(interface{ Revision() int64 }); ok {
			rev = r.Revision()
		}
		seq = tx.Bucket(bucketAudit).Sequence()
		return nil
	})
	return seq, rev, err
}

// feed gathers the current state of each key named once.
type feed struct {
	tx     kv
	lookup func(uint64) (string, bool)
	ch     *Changes
	seen   map[string]bool
	read   func() // the changed keys are copied: their pages may go
}

func (b *core) newFeed(tx kv, ch *Changes) *feed {
	return &feed{tx: tx, lookup: b.lookup(tx), ch: ch, seen: map[string]bool{}, read: releasingEvery(tx, releaseScatteredEvery)}
}

// audit adds every key named by an audit event after seq.
func (f *feed) audit(seq uint64) error {
	if f.ch.Seq == seq {
		return nil
	}
	var from [8]byte
	binary.BigEndian.PutUint64(from[:], seq+1)
	return f.tx.Bucket(bucketAudit).ForEachFrom(from[:], func(k, v []byte) error {
		var ev model.Event
		if err := decodeEvent(k, v, &ev); err != nil {
			return err
		}
		return f.add(ev.KeyID)
	})
}

func (f *feed) add(id string) error {
	if id == "" || f.seen[id] {
		return nil
	}
	f.seen[id] = true
	f.read()
	raw := f.tx.Bucket(bucketKeys).Get([]byte(id))
	if raw == nil {
		f.ch.Removed = append(f.ch.Removed, id)
		return nil
	}
	var key model.Key
	if err := model.DecodeKeyWith(id, string(raw), &key, f.lookup); err != nil {
		return fail(ErrDamaged, "the key record %s is damaged: restore the store from a backup", model.Quote(id))
	}
	f.ch.Keys = append(f.ch.Keys, key)
	return nil
}

// usageJournalLen is how many last-used writes the journal keeps: a view
// polling twice a second keeps up with a verifier flushing every second
// with a minute to spare; one further behind reads a Snapshot.
const usageJournalLen = 120

// journalUses notes in the meta bucket which keys a last-used write
// touched, under the next usage sequence, and drops the entry that falls
// out of the journal. It runs in the write's own transaction.
func journalUses(tx kv, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	meta := tx.Bucket(bucketMeta)
	if err := bumpUint(meta, metaUsageSeq, 1); err != nil {
		return err
	}
	seq := getUint(meta, metaUsageSeq)
	if err := meta.Put(usageEntry(seq), []byte(strings.Join(ids, "\n"))); err != nil {
		return err
	}
	if seq > usageJournalLen {
		return meta.Delete(usageEntry(seq - usageJournalLen))
	}
	return nil
}

// usageEntry names one journal entry; the zero-padded decimal keeps them
// in order and readable in both backends.
func usageEntry(seq uint64) []byte { return fmt.Appendf(nil, "uses/%020d", seq) }

// RecordUses writes a batch of last-used news in one transaction: the
// latest time wins and counts add, so verifiers never undo each other.
func (b *core) RecordUses(ctx context.Context, uses []Use) error {
	for len(uses) > 0 {
		n := min(len(uses), b.be.batch())
		if err := b.recordUses(ctx, uses[:n]); err != nil {
			return err
		}
		uses = uses[n:]
	}
	return nil
}

func (b *core) recordUses(ctx context.Context, uses []Use) error {
	return b.usageUpdate(ctx, func(tx kv) error {
		ids := make([]string, 0, len(uses))
		for _, u := range uses {
			raw := tx.Bucket(bucketKeys).Get([]byte(u.ID))
			if raw == nil {
				continue // deleted meanwhile: its uses go with it
			}
			var k model.Key
			if err := b.decode(tx, u.ID, string(raw), &k); err != nil {
				return fail(ErrDamaged, "the key record %s is damaged: restore the store from a backup", model.Quote(u.ID))
			}
			mergeUse(&k, u)
			if u.Expired {
				if err := b.logExpiry(tx, &k); err != nil {
					return err
				}
			}
			if err := b.putKey(tx, &k); err != nil {
				return err
			}
			ids = append(ids, u.ID)
		}
		return journalUses(tx, ids)
	})
}

// mergeUse folds one verifier's news into a key: latest time wins, counts
// add, the day's counts too.
func mergeUse(k *model.Key, u Use) {
	if u.Count > 0 && u.At.After(k.LastUsedAt) {
		k.LastUsedAt, k.LastUsedFrom = u.At.UTC(), u.From
	}
	k.UseCount += u.Count
	if u.Days.Empty() {
		k.AddUses(u.At, u.Count)
		return
	}
	d := k.DailyUses()
	d.Merge(u.Days)
	k.SetDailyUses(d)
}
