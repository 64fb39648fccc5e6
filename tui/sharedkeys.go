package tui

import (
	"context"
	"sync"

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
	keys, pos, err := s.st.Snapshot(ctx)
	if err != nil {
		return nil, s.pos, err
	}
	s.set, s.pos = keyindex.Build(keys), pos
	s.set.Order(keyindex.Query{}.Sort)
	return s.set, s.pos, nil
}
