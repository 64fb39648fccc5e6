package server

import (
	"context"
	"errors"
	"time"

	"keyden/storage"
)

// beatEvery is how often a verifier says it is alive when nothing changes.
const beatEvery = time.Second

// heartbeater is a store that keeps verifiers' reports (every Store does).
type heartbeater interface {
	Heartbeat(ctx context.Context, v storage.Verifier) error
	RemoveVerifier(ctx context.Context, id string) error
}

// appliedNews wakes the heartbeat when the table takes in a change, so a
// delete waiting for its verifiers hears at once, not at the next beat.
func (s *Server) appliedNews() {
	select {
	case s.applied <- struct{}{}:
	default:
	}
}

// heartbeats writes the verifier's record every beatEvery and after each
// change it applies, until ctx ends; then it removes the record, so a
// verifier that stopped cleanly is not waited for.
func (s *Server) heartbeats(ctx context.Context) {
	hb, ok := s.store.(heartbeater)
	if !ok || s.opt.Verifier.ID == "" {
		return
	}
	v := s.opt.Verifier
	tick := time.NewTicker(beatEvery)
	defer tick.Stop()
	logged := false
	for {
		s.healthMu.Lock()
		v.Applied = s.health.seq
		s.healthMu.Unlock()
		v.Beat = s.opt.Now().UTC()
		switch err := hb.Heartbeat(ctx, v); {
		case err == nil:
			logged = false
		case ctx.Err() != nil || logged:
		case errors.Is(err, storage.ErrUnwritable) || errors.Is(err, storage.ErrDamaged):
			// The follower or the last-used flush says so, once: a store
			// that cannot be written takes no heartbeat either.
		default:
			s.opt.Log.Printf("writing this verifier's heartbeat (trying again each second): %v", err)
			logged = true
		}
		select {
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if err := hb.RemoveVerifier(last, v.ID); err != nil {
				s.opt.Log.Printf("removing this verifier's heartbeat: %v", err)
			}
			return
		case <-tick.C:
		case <-s.applied:
		}
	}
}
