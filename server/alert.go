package server

import (
	"context"
	"net/netip"
	"time"

	"keyden/format"
	"keyden/keygen"
	"keyden/storage"
)

// alertQueue is how many decoy uses wait for the store at most; past it a
// use is dropped (and logged) rather than hold up a check.
const alertQueue = 1024

// DefaultAlertEvery is how often one decoy used from one address raises
// an alert (Options.AlertEvery): the uses after the first are counted and
// written as one more event when the time is over. A thief holding a decoy
// must not grow the store by an event a request, nor drown others' alerts.
const DefaultAlertEvery = time.Minute

// maxAlertWindows bounds the addresses remembered at once; past it the
// oldest windows are written out early.
const maxAlertWindows = 4096

type alertKey struct {
	hash keygen.Hash
	ip   netip.Addr
}

// alertWindow is a decoy's minute of use from one address.
type alertWindow struct {
	until   time.Time
	repeats int
	last    storage.DecoyUse
}

// decoyUsed raises the alert for a decoy's use without waiting: the check
// answers as for an unknown key, in the same time.
func (s *Server) decoyUsed(h keygen.Hash, req Request) {
	u := storage.DecoyUse{Hash: h, At: s.opt.Now(), ClientIP: req.ClientIP, UserAgent: req.UserAgent, Via: "keyden serve"}
	if s.opt.AlertEvery == 0 {
		s.queueAlert(u)
		return
	}
	s.alertMu.Lock()
	k := alertKey{h, req.ClientIP}
	if w, ok := s.alertWindows[k]; ok && u.At.Before(w.until) {
		w.repeats++
		w.last = u
		s.alertMu.Unlock()
		return
	}
	if s.alertWindows == nil {
		s.alertWindows = map[alertKey]*alertWindow{}
	}
	s.alertWindows[k] = &alertWindow{until: u.At.Add(s.opt.AlertEvery)}
	s.alertMu.Unlock()
	s.queueAlert(u)
}

// closeAlertWindows queues one event for the repeats of each window over
// by now (every window, with all set).
func (s *Server) closeAlertWindows(now time.Time, all bool) {
	s.alertMu.Lock()
	var done []storage.DecoyUse
	for k, w := range s.alertWindows {
		if !all && now.Before(w.until) && len(s.alertWindows) <= maxAlertWindows {
			continue
		}
		if w.repeats > 0 {
			u := w.last
			u.Repeats = w.repeats
			done = append(done, u)
		}
		delete(s.alertWindows, k)
	}
	s.alertMu.Unlock()
	for _, u := range done {
		s.queueAlert(u)
	}
}

func (s *Server) queueAlert(u storage.DecoyUse) {
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
	tick := time.NewTicker(s.opt.PollEvery)
	defer tick.Stop()
	for {
		select {
		case u := <-s.alerts:
			s.writeAlert(ctx, u)
		case <-tick.C:
			s.closeAlertWindows(s.opt.Now(), false)
		case <-ctx.Done():
			s.closeAlertWindows(s.opt.Now(), true)
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
