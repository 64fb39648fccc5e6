package server

import (
	"context"
	"time"

	"keyden/format"
	"keyden/keygen"
	"keyden/storage"
)

// alertQueue is how many decoy uses wait for the store at most; past it a
// use is dropped (and logged) rather than hold up a check.
const alertQueue = 1024

// decoyUsed queues the alert for a decoy's use without waiting: the check
// answers as for an unknown key, in the same time.
func (s *Server) decoyUsed(h keygen.Hash, req Request) {
	u := storage.DecoyUse{Hash: h, At: s.opt.Now(), ClientIP: req.ClientIP, UserAgent: req.UserAgent, Via: "keyden serve"}
	select {
	case s.alerts <- u:
	default:
		// Counted, not logged here: a flood of decoy uses must cost a
		// check no more than an unknown key, and must not flood the log.
		s.alertsLost.Add(1)
	}
}

// writeAlerts writes queued decoy uses to the store (an audit event each),
// retrying with backoff while it does not answer, until ctx ends; what is
// queued then gets a last try.
func (s *Server) writeAlerts(ctx context.Context) {
	for {
		select {
		case u := <-s.alerts:
			s.writeAlert(ctx, u)
		case <-ctx.Done():
			last, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			for {
				select {
				case u := <-s.alerts:
					s.writeAlert(last, u)
				default:
					return
				}
			}
		}
	}
}

// alertWriter is a store that takes decoy alerts (every Store does; a
// test's Feed may not).
type alertWriter interface {
	RecordDecoyUse(ctx context.Context, u storage.DecoyUse) error
}

func (s *Server) writeAlert(ctx context.Context, u storage.DecoyUse) {
	w, ok := s.store.(alertWriter)
	if !ok {
		return
	}
	if n := s.alertsLost.Swap(0); n > 0 {
		s.opt.Log.Printf("not recorded: %s, which came faster than the store took their alerts (%d wait at most)", format.Count(int(n), "decoy use"), alertQueue)
	}
	pause := 100 * time.Millisecond
	for {
		err := w.RecordDecoyUse(ctx, u)
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			s.opt.Log.Printf("a decoy's use could not be written before stopping: %v", err)
			return
		}
		s.opt.Log.Printf("writing a decoy's alert (trying again): %v", err)
		select {
		case <-ctx.Done():
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Second)
	}
}
