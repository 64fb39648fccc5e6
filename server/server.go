// Package server is `keyden serve`: an HTTP verifier for gateways
// (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth). It checks
// keys against an in-memory table that follows the store's change feed,
// and writes last-used back in batches. It never holds the store open
// between operations, so the TUI and the command line work beside it.
package server

import (
	"context"
	"errors"
	"io"
	"log"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"keyden/format"
	"keyden/keygen"
	"keyden/model"
	"keyden/storage"
)

// Options configure a verifier.
type Options struct {
	// TrustedProxies may set X-Forwarded-For / X-Real-IP.
	TrustedProxies []netip.Prefix
	// AlertEvery gathers a decoy's uses from one address into one alert
	// and one event of repeats (DefaultAlertEvery if 0; negative: every
	// use its own alert).
	AlertEvery time.Duration
	// PollEvery is how often the change feed is read (200 ms if 0).
	PollEvery time.Duration
	// FlushEvery is how often last-used is written (1 s if 0).
	FlushEvery time.Duration
	// ConfirmEvery is how often a store that signals its changes (etcd) is
	// read anyway, to confirm nothing was missed (250 ms if 0, and at most
	// a quarter of MaxStaleness). It bounds how late a change can be taken
	// in when the watch delivers late: a watch served by a member just back
	// from a lost quorum was seen to, and one small read costs well under a
	// millisecond.
	ConfirmEvery time.Duration
	// MaxStaleness is how long the verifier may go without confirming it is
	// current before /healthz answers 503 (DefaultMaxStaleness if 0).
	MaxStaleness time.Duration
	Now          func() time.Time
	Log          *log.Logger
	// LeakReportKeys, when set, opens POST /leaks to reports signed by
	// one of them (see leaks.go).
	LeakReportKeys LeakReportKeys
	// Verifier, when its ID is set, is how this verifier reports itself
	// in the store's heartbeats (see heartbeat.go).
	Verifier storage.Verifier
}

// Server verifies keys from memory.
type Server struct {
	store storage.Feed
	opt   Options
	tab   atomic.Pointer[table]
	m     metrics
	// alerts are decoy uses waiting to be written (see alert.go).
	alerts       chan storage.DecoyUse
	alertsLost   atomic.Uint64 // decoy uses dropped with the queue full
	alertMu      sync.Mutex
	alertWindows map[alertKey]*alertWindow // see DefaultAlertEvery
	// applied wakes the heartbeat when a change was taken in.
	applied chan struct{}

	// unsent is last-used news not yet written: a batch a flush could not
	// write, and what a table held when a reload replaced it.
	unsentMu sync.Mutex
	unsent   []storage.Use

	// Owned by the follower (one goroutine at a time, under followMu).
	followMu sync.Mutex
	pos      storage.Position // how far the table follows the feed (rules only)

	healthMu sync.Mutex
	// loggedDamage is the damaged-store sentence already logged: it is
	// logged once, not at every retry nor again by a failing flush.
	loggedDamage string
	health       followState
	abortRead    context.CancelFunc // ends the follower's read in flight
}

// DefaultMaxStaleness is how long serve may go without confirming it has
// every change before /healthz says 503: ten times the worst a healthy
// verifier sees (a sync each second), and short enough for a gateway to act.
const DefaultMaxStaleness = 10 * time.Second

// followState is what /healthz reports of the follower.
type followState struct {
	confirmed time.Time // when the last successful read began
	seq       uint64    // the audit sequence applied
	rev       int64     // the etcd revision that read saw (0 for a file)
	watchRev  int64     // the newest revision the watch has seen
	watching  bool      // an etcd watch is in place
	watched   bool      // the store signals changes (etcd)
	lastErr   error     // why the last read failed; nil once one succeeds
}

// New makes a verifier over a store; call Load before serving.
func New(st storage.Feed, opt Options) *Server {
	switch {
	case opt.AlertEvery == 0:
		opt.AlertEvery = DefaultAlertEvery
	case opt.AlertEvery < 0:
		opt.AlertEvery = 0
	}
	if opt.PollEvery <= 0 {
		opt.PollEvery = 200 * time.Millisecond
	}
	if opt.FlushEvery <= 0 {
		opt.FlushEvery = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.MaxStaleness <= 0 {
		opt.MaxStaleness = DefaultMaxStaleness
	}
	if opt.ConfirmEvery <= 0 {
		opt.ConfirmEvery = 250 * time.Millisecond
	}
	opt.ConfirmEvery = min(opt.ConfirmEvery, opt.MaxStaleness/4)
	if opt.Log == nil {
		opt.Log = log.New(io.Discard, "", 0)
	}
	s := &Server{store: st, opt: opt, alerts: make(chan storage.DecoyUse, alertQueue), applied: make(chan struct{}, 1)}
	s.tab.Store(newTable(0))
	return s
}

// Load reads every key into a new table and swaps it in.
func (s *Server) Load(ctx context.Context) error {
	s.followMu.Lock()
	defer s.followMu.Unlock()
	return s.loadLocked(ctx, "")
}

// loadLocked reads every key; why, if any, leads its log line. Only a load
// that succeeds is logged: one that fails is the follower's to log, once.
func (s *Server) loadLocked(ctx context.Context, why string) error {
	start := time.Now()
	// Each key is copied into the table as it is read, so the load never
	// holds every record decoded at once.
	var t *table
	size := func(n int) {
		t = newTable(min(n, 1<<22)) // a hint: a damaged count must not take the memory
		t.loading = true
	}
	pos, err := s.store.SnapshotEach(ctx, size, func(k *model.Key) error {
		t.put(k)
		return nil
	})
	if err != nil {
		s.failed(err)
		return err
	}
	t.loading = false
	s.retire(s.tab.Swap(t))
	pos.RulesOnly = true // the table keeps no last used: the verifier has its own
	s.pos = pos
	s.m.reloads.Add(1)
	s.m.keys.Store(int64(t.n))
	s.opt.Log.Printf("%sloaded %s in %v", why, format.Count(t.n, "key"), time.Since(start).Round(time.Millisecond))
	s.confirmed(start, pos.Audit, 0)
	return nil
}

// confirmed notes that a read begun at start found nothing newer than seq
// (and rev): the verifier was current then.
func (s *Server) confirmed(start time.Time, seq uint64, rev int64) {
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	h := &s.health
	if h.lastErr != nil {
		s.opt.Log.Printf("following the store again")
	}
	if seq != h.seq {
		s.appliedNews()
	}
	h.confirmed, h.seq, h.lastErr = start, seq, nil
	if rev > 0 {
		h.rev = rev
	}
}

func (s *Server) failed(err error) {
	s.m.syncErrors.Add(1)
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	s.health.lastErr = err
}

// Sync takes in the changes since the last load or sync: only the keys
// that changed are read, and each is swapped into the live table, so
// lookups never wait for a reload.
func (s *Server) Sync(ctx context.Context) error {
	s.followMu.Lock()
	defer s.followMu.Unlock()
	start := time.Now()
	// One small read confirms nothing changed, at next to no cost.
	seq, rev, err := s.store.FeedHead(ctx)
	if err != nil {
		s.failed(err)
		return err
	}
	if seq == s.pos.Audit {
		s.confirmed(start, seq, rev)
		return nil
	}
	ch, err := s.store.Updates(ctx, s.pos)
	if err != nil {
		s.failed(err)
		return err
	}
	if ch.Reset {
		// A full read takes what it takes, not a read's budget (the store
		// bounds each call). A damaged file can look replaced (bbolt falls
		// back to its older meta page) at every retry, so the reset is
		// logged with the load it led to, not before it.
		return s.loadLocked(context.WithoutCancel(ctx), "the store's history changed (restored or replaced): ")
	}
	t := s.tab.Load()
	for i := range ch.Keys {
		t.put(&ch.Keys[i])
	}
	for _, id := range ch.Removed {
		t.remove(id)
	}
	if n := len(ch.Keys) + len(ch.Removed); n > 0 {
		s.m.changes.Add(uint64(n))
		s.m.keys.Store(int64(t.n))
	}
	s.pos = ch.Position()
	s.confirmed(start, ch.Seq, ch.Rev)
	return nil
}

// Flush writes the gathered last-used news in one transaction; on failure
// it keeps them for the next flush.
func (s *Server) Flush(ctx context.Context) error {
	s.unsentMu.Lock()
	batch := s.unsent
	s.unsent = nil
	s.unsentMu.Unlock()
	kept := len(batch)
	batch = s.tab.Load().takeUses(batch)
	if len(batch) == 0 {
		return nil
	}
	if kept > 0 {
		batch = mergeUses(batch)
	}
	if err := s.store.RecordUses(ctx, batch); err != nil {
		s.keep(batch)
		s.m.flushErrors.Add(1)
		return err
	}
	s.m.flushes.Add(1)
	return nil
}

// keep holds news for the next flush.
func (s *Server) keep(uses []storage.Use) {
	s.unsentMu.Lock()
	s.unsent = append(s.unsent, uses...)
	s.unsentMu.Unlock()
}

// retire keeps the news a replaced table gathered. Once every check that
// began on it is done, none adds more: a check that finds it retired
// starts again on the new table.
func (s *Server) retire(t *table) {
	t.retired.Store(true)
	for i := range t.shards {
		t.shards[i].mu.Lock()
		t.shards[i].mu.Unlock() //lint:ignore SA2001 waits out the checks in flight
	}
	s.keep(t.takeUses(nil))
}

// mergeUses folds news for the same key into one: the latest time wins,
// counts add.
func mergeUses(uses []storage.Use) []storage.Use {
	at := make(map[string]int, len(uses))
	out := uses[:0]
	for _, u := range uses {
		i, ok := at[u.ID]
		if !ok {
			at[u.ID] = len(out)
			out = append(out, u)
			continue
		}
		m := &out[i]
		if u.Count > 0 && u.At.After(m.At) {
			m.At, m.From = u.At, u.From
		}
		m.Count += u.Count
		m.Days.Merge(u.Days)
		m.Expired = m.Expired || u.Expired
	}
	return out
}

// Watcher is a store that can say when its change feed moves (etcd's
// watch), so the verifier follows it without polling.
type Watcher interface {
	WatchChanges(ctx context.Context) <-chan storage.WatchSignal
}

// Follow syncs and flushes until ctx ends: on each change the store
// signals (a watch) and every ConfirmEvery besides, or every PollEvery for
// a store that cannot signal (a file). A failed sync is tried again with
// backoff until one succeeds, so a change is never left waiting for the
// next one. It does not flush at the end: the caller flushes after the
// last request is answered.
func (s *Server) Follow(ctx context.Context) {
	due := make(chan struct{}, 1) // a read is due now
	var reload atomic.Bool
	every := s.opt.PollEvery
	w, watched := s.store.(Watcher)
	if watched {
		every = s.opt.ConfirmEvery
		s.healthMu.Lock()
		s.health.watched = true
		s.healthMu.Unlock()
		go s.takeSignals(w.WatchChanges(ctx), due, &reload)
	}
	poll := time.NewTicker(every)
	defer poll.Stop()
	// Last-used writes go on beside the reads, never in front of them: a
	// flush waiting on a cluster that just lost (or regained) its quorum
	// must not hold back the read that takes in a delete.
	var flushing sync.WaitGroup
	flushing.Go(func() { s.flushEvery(ctx) })
	flushing.Go(func() { s.writeAlerts(ctx) })
	flushing.Go(func() { s.heartbeats(ctx) })
	defer flushing.Wait()
	var retry <-chan time.Time
	var logged, briskUntil time.Time
	brisk := false
	pause, budget := syncRetryMin, readBudgetMin
	catchUp := func() {
		start := time.Now()
		rctx, abort := context.WithTimeout(ctx, budget)
		defer abort()
		s.healthMu.Lock()
		s.abortRead = abort
		s.healthMu.Unlock()
		var err error
		if reload.Swap(false) {
			if err = s.Load(ctx); err != nil { // a full read takes what it takes
				reload.Store(true)
			}
		} else {
			err = s.Sync(rctx)
		}
		s.healthMu.Lock()
		s.abortRead = nil
		s.healthMu.Unlock()
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			if errors.Is(rctx.Err(), context.DeadlineExceeded) {
				budget = min(2*budget, readBudgetMax)
			}
			// Once every 10 s is enough in the log (a damaged store once);
			// /healthz has the rest.
			if !errors.Is(rctx.Err(), context.Canceled) && time.Since(logged) >= 10*time.Second && !s.repeated(err) {
				s.opt.Log.Printf("following the store (trying again until it answers): %v", err)
				logged = time.Now()
			}
			retry = time.After(pause)
			pause = min(2*pause, syncRetryMax)
			if watched && !brisk {
				brisk = true
				poll.Reset(briskEvery)
			}
			briskUntil = time.Time{} // set by the next good read
			return
		}
		if brisk && briskUntil.IsZero() {
			briskUntil = time.Now().Add(briskFor)
		}
		retry, pause, logged = nil, syncRetryMin, time.Time{}
		s.healthMu.Lock()
		s.loggedDamage = ""
		s.healthMu.Unlock()
		budget = max(readBudgetMin, 4*time.Since(start))
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-due:
			catchUp()
		case <-retry:
			catchUp()
		case <-poll.C:
			if brisk && !briskUntil.IsZero() && time.Now().After(briskUntil) {
				brisk = false
				poll.Reset(every)
			}
			catchUp()
		}
	}
}

// flushEvery writes last-used news every FlushEvery until ctx ends.
func (s *Server) flushEvery(ctx context.Context) {
	flush := time.NewTicker(s.opt.FlushEvery)
	defer flush.Stop()
	loggedFlush := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-flush.C:
		}
		err := s.Flush(ctx)
		if err == nil || ctx.Err() != nil {
			loggedFlush = ""
			continue
		}
		// A store that cannot be written (full, read-only, damaged)
		// fails every flush the same way: logged once.
		if msg := err.Error(); msg != loggedFlush && !s.damageLogged(msg) {
			s.opt.Log.Printf("writing last used (kept for the next try): %v", err)
			if errors.Is(err, storage.ErrUnwritable) || errors.Is(err, storage.ErrDamaged) {
				loggedFlush = msg
			}
		}
	}
}

// takeSignals notes the watch's state for /healthz as soon as it changes
// and makes a read due on every signal. When the watch comes back after it
// was lost, a read still waiting on the cluster from before is abandoned,
// so a fresh one begins at once.
func (s *Server) takeSignals(signals <-chan storage.WatchSignal, due chan<- struct{}, reload *atomic.Bool) {
	for sig := range signals {
		s.healthMu.Lock()
		back := sig.Watching && !s.health.watching
		s.health.watching, s.health.watchRev = sig.Watching, max(s.health.watchRev, sig.Rev)
		abort := s.abortRead
		s.healthMu.Unlock()
		if sig.Reload {
			s.opt.Log.Printf("etcd no longer holds the history since the last change taken in: reloading every key")
			reload.Store(true)
		}
		if back && abort != nil {
			abort()
		}
		select {
		case due <- struct{}{}:
		default:
		}
	}
}

// repeated says err is the damaged-store sentence already logged.
func (s *Server) repeated(err error) bool {
	if !errors.Is(err, storage.ErrDamaged) {
		return false
	}
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	if s.loggedDamage == err.Error() {
		return true
	}
	s.loggedDamage = err.Error()
	return false
}

// damageLogged says msg is the damaged-store sentence the follower logged.
func (s *Server) damageLogged(msg string) bool {
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	return s.loggedDamage == msg
}

// A failed sync is tried again after syncRetryMin, doubling up to
// syncRetryMax. A read sent while the cluster had no quorum may wait on it
// long after it is back, so each read has a budget: readBudgetMin, or four
// times what the last good read took, doubling up to readBudgetMax with
// each read that runs out, so a slow cluster still gets its answer.
//
// After a read failed, and for briskFor after the next good one, the
// verifier confirms every briskEvery instead of every ConfirmEvery: a
// cluster that just came back may have members still catching up, and a
// watch served by one of them delivers late.
const (
	briskEvery    = 100 * time.Millisecond
	briskFor      = 5 * time.Second
	syncRetryMin  = 50 * time.Millisecond
	syncRetryMax  = 500 * time.Millisecond
	readBudgetMin = 500 * time.Millisecond
	readBudgetMax = 5 * time.Second
)

// Health is what /healthz says about how current the verifier is.
type Health struct {
	// Current: the verifier confirmed it had every change less than
	// MaxStaleness ago. /healthz answers 503 when it is not.
	Current bool `json:"current"`
	Keys    int  `json:"keys"`
	// LagSeconds is how long ago the last read that confirmed the
	// verifier current began; ConfirmedAt is when.
	LagSeconds          float64   `json:"lag_seconds"`
	ConfirmedAt         time.Time `json:"confirmed_at"`
	MaxStalenessSeconds float64   `json:"max_staleness_seconds"`
	// AuditSeq and Revision are the position applied: the change feed's
	// sequence and, on etcd, the revision it was read at.
	AuditSeq uint64 `json:"audit_seq"`
	Revision int64  `json:"revision,omitempty"`
	// Watching says the etcd watch is in place; WatchRevision is the newest
	// revision it has seen and RevisionsBehind how far the applied
	// position trails it (etcd only).
	Watching        *bool  `json:"watching,omitempty"`
	WatchRevision   int64  `json:"watch_revision,omitempty"`
	RevisionsBehind int64  `json:"revisions_behind,omitempty"`
	Error           string `json:"error,omitempty"`
	// Damaged: the store's file is damaged; keys are answered from memory
	// until it is restored.
	Damaged bool `json:"damaged,omitempty"`
}

// Health reports how far behind the verifier is.
func (s *Server) Health() Health {
	s.healthMu.Lock()
	h := s.health
	s.healthMu.Unlock()
	lag := time.Since(h.confirmed)
	out := Health{Current: lag <= s.opt.MaxStaleness, Keys: s.Keys(), LagSeconds: lag.Seconds(),
		ConfirmedAt: h.confirmed.UTC().Round(time.Millisecond), MaxStalenessSeconds: s.opt.MaxStaleness.Seconds(),
		AuditSeq: h.seq, Revision: h.rev}
	if h.watched {
		out.Watching, out.WatchRevision = &h.watching, h.watchRev
		out.RevisionsBehind = max(0, h.watchRev-h.rev)
	}
	if h.lastErr != nil {
		out.Error = h.lastErr.Error()
		out.Damaged = errors.Is(h.lastErr, storage.ErrDamaged)
	}
	if !out.Current && out.Error == "" {
		out.Error = "the store has not been read for longer than the allowed staleness"
	}
	return out
}

// Result is one check's outcome. Only the reason goes to the client.
type Result struct {
	OK     bool
	Reason model.Reason
	Key    Key // set when the key was found
}

// Request is one check.
type Request struct {
	Secret   string
	Env      string   // name or tag; empty accepts any
	Scopes   []string // each must be held
	ClientIP netip.Addr
	// UserAgent is the caller's, for a decoy's alert.
	UserAgent string
}

// Verify checks a key from memory and, when it passes, counts the use.
func (s *Server) Verify(req Request) Result {
	if req.Secret == "" {
		return Result{Reason: model.ReasonMissing}
	}
	p, err := keygen.Parse(req.Secret)
	if err != nil {
		return Result{Reason: model.ReasonMalformed}
	}
	h := keygen.HashKey(req.Secret)
	now := s.opt.Now()
	for {
		k, reason, retired := s.tab.Load().check(&h, p.Tag, &req, now)
		switch {
		case retired:
			continue
		case reason == reasonDecoy:
			s.decoyUsed(h, req) // answered as unknown: nothing tells a decoy apart
			return Result{Reason: model.ReasonUnknown}
		}
		return Result{OK: reason == "", Reason: reason, Key: k}
	}
}

// Keys is how many keys the table holds.
func (s *Server) Keys() int { return int(s.m.keys.Load()) }
