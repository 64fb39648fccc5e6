package server

import (
	"sync"

	"keyden/keygen"
	"keyden/model"
)

// entry is one key as the verifier holds it: its rules, parsed once.
type entry struct {
	rules model.Rules
}

const shardCount = 64

// table maps key hashes to entries. It is split into shards, each with its
// own lock, so taking in a change locks one shard for a moment while every
// other lookup goes on; a full reload builds a new table aside and swaps it.
type table struct {
	shards [shardCount]shard
}

type shard struct {
	mu sync.RWMutex
	m  map[keygen.Hash]entry // by value: one memory access fewer per check
}

func newTable(sizeHint int) *table {
	t := &table{}
	for i := range t.shards {
		t.shards[i].m = make(map[keygen.Hash]entry, sizeHint/shardCount+1)
	}
	return t
}

func (t *table) shard(h *keygen.Hash) *shard { return &t.shards[h[0]%shardCount] }

func (t *table) get(h keygen.Hash) (entry, bool) {
	s := t.shard(&h)
	s.mu.RLock()
	e, ok := s.m[h]
	s.mu.RUnlock()
	return e, ok
}

func (t *table) put(k *model.Key) {
	h := keygen.Hash(k.Hash)
	s := t.shard(&h)
	e := entry{rules: model.NewRules(k)}
	s.mu.Lock()
	s.m[h] = e
	s.mu.Unlock()
}

func (t *table) remove(h keygen.Hash) {
	s := t.shard(&h)
	s.mu.Lock()
	delete(s.m, h)
	s.mu.Unlock()
}
