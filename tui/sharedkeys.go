package tui

import (
	"context"
	"sync"
	"time"

	"keyden/keyindex"
	"keyden/storage"
)

// SharedKeys is one key set for several apps on one store (keyden ssh's
// sessions): loaded once, then followed through the change feed, so a new
// session draws its first frame without reading the keys and a hundred
// sessions hold one copy of them. A keyindex.Index never changes once
// built, so every session may read the same one.
type SharedKeys struct {
	st  storage.Store
	mu  sync.Mutex
	set *keyindex.Index
	pos storage.Position

	// One read of the store's generation answers every session's poll
	// for genEvery, so fifty sessions do not read it a hundred times a second.
	genMu sync.Mutex
	gen   storage.Generation
	genAt time.Time
}

const genEvery = 200 * time.Millisecond

// generation is the store's generation, read at most every genEvery
// when shared is set (a session's poll), else read now.
func generation(ctx context.Context, st storage.Store, shared *SharedKeys) (storage.Generation, error) {
	if shared == nil {
		return st.Generation(ctx)
	}
	shared.genMu.Lock()
	defer shared.genMu.Unlock()
	if !shared.genAt.IsZero() && time.Since(shared.genAt) < genEvery {
		return shared.gen, nil
	}
	g, err := st.Generation(ctx)
	if err == nil {
		shared.gen, shared.genAt = g, time.Now()
	}
	return g, err
}

// NewSharedKeys follows st's keys; the first Load reads them all.
func NewSharedKeys(st storage.Store) *SharedKeys { return &SharedKeys{st: st} }

// Load brings the set up to date with the store.
func (s *SharedKeys) Load(ctx context.Context) error {
	_, _, err := s.load(ctx)
	return err
}

// load returns the set as the store has it now: only what changed since
// the last load is read, and sessions asking at once wait for one read.
func (s *SharedKeys) load(ctx context.Context) (*keyindex.Index, storage.Position, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set != nil {
		ch, err := s.st.Updates(ctx, s.pos)
		if err != nil {
			return nil, s.pos, err
		}
		if !ch.Reset {
			s.set, s.pos = s.set.Patch(ch.Keys, ch.Removed), ch.Position()
			s.set.Order(keyindex.Query{}.Sort)
			return s.set, s.pos, nil
		}
	}
	set, pos, err := readKeys(ctx, s.st)
	if err != nil {
		return nil, s.pos, err
	}
	s.set, s.pos = set, pos
	s.set.Order(keyindex.Query{}.Sort)
	return s.set, s.pos, nil
}
