package server

import (
	"hash/maphash"
	"sync"
	"time"

	"keyden/storage"
)

const usageShards = 32

// usage gathers last-used news in memory between flushes: per key the
// latest time and address and how many checks passed.
type usage struct {
	seed   maphash.Seed
	shards [usageShards]usageShard
}

type usageShard struct {
	mu sync.Mutex
	m  map[string]*storage.Use
}

func newUsage() *usage {
	u := &usage{seed: maphash.MakeSeed()}
	for i := range u.shards {
		u.shards[i].m = map[string]*storage.Use{}
	}
	return u
}

func (u *usage) shard(id string) *usageShard {
	return &u.shards[maphash.String(u.seed, id)%usageShards]
}

// update changes id's news under its shard's lock.
func (u *usage) update(id string, fn func(*storage.Use)) {
	s := u.shard(id)
	s.mu.Lock()
	e := s.m[id]
	if e == nil {
		e = &storage.Use{ID: id}
		s.m[id] = e
	}
	fn(e)
	s.mu.Unlock()
}

// used records one accepted check.
func (u *usage) used(id string, at time.Time, from string) {
	u.update(id, func(e *storage.Use) {
		if at.After(e.At) {
			e.At, e.From = at, from
		}
		e.Count++
		e.Days.Add(at, 1)
	})
}

// expired records a refusal as expired, so the store can log the expiry.
func (u *usage) expired(id string) {
	u.update(id, func(e *storage.Use) { e.Expired = true })
}

// take removes and returns everything gathered.
func (u *usage) take() []storage.Use {
	var out []storage.Use
	for i := range u.shards {
		s := &u.shards[i]
		s.mu.Lock()
		for _, e := range s.m {
			out = append(out, *e)
		}
		s.m = map[string]*storage.Use{}
		s.mu.Unlock()
	}
	return out
}

// giveBack returns a batch that could not be written, merging it with what
// arrived meanwhile, so a busy store loses nothing.
func (u *usage) giveBack(batch []storage.Use) {
	for _, b := range batch {
		u.update(b.ID, func(e *storage.Use) {
			if b.At.After(e.At) {
				e.At, e.From = b.At, b.From
			}
			e.Count += b.Count
			e.Days.Merge(b.Days)
			e.Expired = e.Expired || b.Expired
		})
	}
}
