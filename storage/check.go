package storage

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"keyden/keygen"
	"keyden/model"
)

// CheckReport is what a check of a whole store found.
type CheckReport struct {
	Location string
	Keys     int
	Events   int
	// Problems, one sentence each; none means the store is sound.
	Problems []string
}

// maxProblems bounds a report: a store damaged throughout says so in the
// first hundred.
const maxProblems = 100

func (r *CheckReport) add(format string, args ...any) {
	if len(r.Problems) < maxProblems {
		r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
	} else if len(r.Problems) == maxProblems {
		r.Problems = append(r.Problems, "and more problems beyond these")
	}
}

// Check reads the whole store and reports what is wrong with it: the
// schema and buckets, every record decoding, every key's environment and
// channel, and each key found by its hash (under the id its hash gives, or
// through the hash index for keys made before schema 2) and back.
func (b *core) Check(ctx context.Context) (CheckReport, error) {
	rep := CheckReport{Location: b.be.location()}
	err := b.be.view(ctx, func(tx kv) error { return b.checkAll(tx, &rep) })
	return rep, damageAsProblem(err, &rep)
}

// Check is core's check over the file, reading every page of it. bbolt's
// own page check is PageCheck, run apart.
func (b *Bolt) Check(ctx context.Context) (CheckReport, error) {
	rep := CheckReport{Location: b.fb.path}
	if !b.Exists() {
		return rep, fail(ErrNotFound, "there is no key store at %s to check: check --db or KEYDEN_DB", b.fb.path)
	}
	err := b.fb.preloading().rawView(ctx, func(tx *bolt.Tx) error {
		if err := b.checkAll(boltKV{tx}, &rep); err != nil {
			return err
		}
		_ = tx.ForEach(func(_ []byte, bk *bolt.Bucket) error { readWhole(bk); return nil })
		return nil
	})
	return rep, damageAsProblem(err, &rep)
}

// PageCheck runs bbolt's consistency check (every page reachable once,
// free pages not in use, keys in order) and returns what it found. bbolt
// checks in a goroutine of its own, where a panic or a fault on a damaged
// page cannot be caught: run this in a process of its own.
func (b *Bolt) PageCheck(ctx context.Context) ([]string, error) {
	var found []string
	err := b.fb.preloading().rawView(ctx, func(tx *bolt.Tx) error {
		if bad := overrunPage(tx); bad != "" {
			found = append(found, bad)
			return nil // bbolt's check would walk past the file's end
		}
		for err := range tx.Check() {
			found = append(found, "bbolt: "+err.Error())
		}
		return nil
	})
	return found, err
}

// overrunPage names the first page whose header says it runs on past the
// file's last page (a flipped overflow count), or is "". bbolt's check marks
// every page of such a run as reachable, one map entry each, and a flipped
// high byte makes that billions: it ran out of memory instead of answering.
// Every page below the high-water mark is free (listed one by one) or starts
// a run of pages, so walking them in order reads each header once.
func overrunPage(tx *bolt.Tx) string {
	hwm := int(tx.Size() / int64(tx.DB().Info().PageSize))
	for id := 2; id < hwm; {
		p, err := tx.Page(id)
		if err != nil || p == nil {
			return ""
		}
		if p.Type == "free" {
			id++
			continue
		}
		if p.OverflowCount >= hwm-id {
			return fmt.Sprintf("bbolt: page %d: its header says it runs on over %d more pages, past the file's last page (%d)", id, p.OverflowCount, hwm-1)
		}
		id += 1 + p.OverflowCount
	}
	return ""
}

// damageAsProblem turns damage that stopped the check into a problem found.
func damageAsProblem(err error, rep *CheckReport) error {
	if !errors.Is(err, ErrDamaged) {
		return err
	}
	if d := DamageDetail(err); d != "" {
		rep.add("the file cannot be read: %s", d)
	} else {
		rep.add("%v", err)
	}
	return nil
}

func (b *core) checkAll(tx kv, rep *CheckReport) error {
	if err := b.checkSchema(tx); err != nil {
		if errors.Is(err, ErrDamaged) {
			rep.add("%v", err)
			return nil
		}
		return err
	}
	meta := tx.Bucket(bucketMeta)
	if err := model.ValidatePrefix(string(meta.Get(metaPrefix))); err != nil {
		rep.add("the store's key prefix is unreadable: %v", err)
	}
	envs := map[string]bool{}
	if all, err := readAll[model.Environment](tx, bucketEnvs); err != nil {
		rep.add("%v", err)
	} else {
		for _, e := range all {
			envs[e.Name] = true
			// Written by other means if keyden's input checks refuse it.
			if err := model.ValidateEnvName(e.Name); err != nil {
				rep.add("%v", err)
			}
			if err := model.ValidateTag(e.Tag); err != nil {
				rep.add("the environment %s: %v", model.Quote(e.Name), err)
			}
		}
	}
	chans := map[string]bool{}
	if all, err := readAll[model.Channel](tx, bucketChannels); err != nil {
		rep.add("%v", err)
	} else {
		for _, c := range all {
			chans[c.Name] = true
			if err := model.ValidateChannelName(c.Name); err != nil {
				rep.add("%v", err)
			}
		}
	}
	if _, err := readAll[model.Member](tx, bucketMembers); err != nil {
		rep.add("%v", err)
	}

	hashes := tx.Bucket(bucketHashes)
	hashOf := map[string]keygen.Hash{}
	lookup := b.lookup(tx)
	_ = tx.Bucket(bucketKeys).ForEach(func(id, v []byte) error {
		rep.Keys++
		var k model.Key
		if err := model.DecodeKeyWith(string(id), string(v), &k, lookup); err != nil {
			rep.add("the key record %s does not decode: %v", model.Quote(string(id)), err)
			return nil
		}
		if k.ID != string(id) {
			rep.add("the key record %s names itself %s", model.Quote(string(id)), model.Quote(k.ID))
		}
		hashOf[string(id)] = k.Hash
		if got := hashes.Get(k.Hash[:]); string(got) != string(id) && idFor(k.Hash) != string(id) {
			rep.add("the key %s is neither under the id its hash gives nor in the hash index, so it cannot be verified", model.Quote(string(id)))
		}
		if !envs[k.Environment] {
			rep.add("the key %s is in the environment %s, which does not exist", model.Quote(string(id)), model.Quote(k.Environment))
		}
		if !chans[k.Channel] {
			rep.add("the key %s is in the channel %s, which does not exist", model.Quote(string(id)), model.Quote(k.Channel))
		}
		return nil
	})
	_ = hashes.ForEach(func(h, id []byte) error {
		got, ok := hashOf[string(id)]
		switch {
		case !ok && tx.Bucket(bucketKeys).Get(id) == nil:
			rep.add("a hash index entry points to the key %s, which does not exist", model.Quote(string(id)))
		case ok && string(got[:]) != string(h):
			rep.add("a hash index entry points to the key %s, whose hash differs", model.Quote(string(id)))
		}
		return nil
	})
	// A number at or past the table's count would be given again.
	count := getUint(meta, metaStrSeq)
	_ = eachWithPrefix(meta, []byte(metaStrPfx), func(k, _ []byte) error {
		if n, err := strconv.ParseUint(string(k[len(metaStrPfx):]), 10, 64); err != nil || n >= count {
			rep.add("the table of strings holds %s but counts %d numbers, so a new string would take a number already given", model.Quote(string(k)), count)
		}
		return nil
	})
	if n := getUint(meta, metaKeyCount); n != uint64(rep.Keys) {
		rep.add("the store counts %d keys but holds %d", n, rep.Keys)
	}
	_ = tx.Bucket(bucketAudit).ForEach(func(seq, v []byte) error {
		rep.Events++
		var ev model.Event
		if err := decodeEvent(seq, v, &ev); err != nil {
			rep.add("the audit entry %x does not decode", seq)
		}
		return nil
	})
	return nil
}

// readWhole reads every key and value of a bucket and the buckets in it,
// so every page of the file is touched here, where a fault is caught. The
// sum of the bytes read is returned so the reads are not optimised away.
func readWhole(bk *bolt.Bucket) byte {
	var sum byte
	c := bk.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if v == nil {
			if child := bk.Bucket(k); child != nil {
				sum ^= readWhole(child)
			}
			continue
		}
		for _, x := range v {
			sum ^= x
		}
	}
	return sum
}

// preloading is the backend reading the free list at open, where a damaged
// one is found (bbolt's own check would read it in a goroutine of its own).
func (f *boltBackend) preloading() *boltBackend {
	return &boltBackend{path: f.path, opt: f.opt, preload: true}
}
