// Package server is `keyden serve`: an HTTP verifier for gateways
// (nginx auth_request, Traefik ForwardAuth, Caddy forward_auth). It checks
// keys against an in-memory table that follows the store's change feed,
// and writes last-used back in batches. It never holds the store open
// between operations, so the TUI and the command line work beside it.
package server

import (
	"context"
	"log"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"keyden/keygen"
	"keyden/model"
	"keyden/storage"
)

// Options configure a verifier.
type Options struct {
	// TrustedProxies may set X-Forwarded-For / X-Real-IP.
	TrustedProxies []netip.Prefix
	// PollEvery is how often the change feed is read (200 ms if 0).
	PollEvery time.Duration
	// FlushEvery is how often last-used is written (1 s if 0).
	FlushEvery time.Duration
	Now        func() time.Time
	Log        *log.Logger
}

// Server verifies keys from memory.
type Server struct {
	store storage.Follower
	opt   Options
	tab   atomic.Pointer[table]
	uses  *usage
	m     metrics

	// Owned by the follower (one goroutine at a time, under followMu).
	followMu sync.Mutex
	seq      uint64
	hashOf   map[string]keygen.Hash
}

// New makes a verifier over a store; call Load before serving.
func New(st storage.Follower, opt Options) *Server {
	if opt.PollEvery <= 0 {
		opt.PollEvery = 200 * time.Millisecond
	}
	if opt.FlushEvery <= 0 {
		opt.FlushEvery = time.Second
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = log.New(discard{}, "", 0)
	}
	s := &Server{store: st, opt: opt, uses: newUsage()}
	s.tab.Store(newTable(0))
	return s
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// Load reads every key into a new table and swaps it in.
func (s *Server) Load(ctx context.Context) error {
	s.followMu.Lock()
	defer s.followMu.Unlock()
	return s.loadLocked(ctx)
}

func (s *Server) loadLocked(ctx context.Context) error {
	start := time.Now()
	keys, seq, err := s.store.LoadKeys(ctx)
	if err != nil {
		return err
	}
	t := newTable(len(keys))
	hashOf := make(map[string]keygen.Hash, len(keys))
	for i := range keys {
		t.put(&keys[i])
		hashOf[keys[i].ID] = keys[i].Hash
	}
	s.tab.Store(t)
	s.seq, s.hashOf = seq, hashOf
	s.m.reloads.Add(1)
	s.m.keys.Store(int64(len(keys)))
	s.opt.Log.Printf("loaded %d keys in %v", len(keys), time.Since(start).Round(time.Millisecond))
	return nil
}

// Sync takes in the changes since the last load or sync: only the keys
// that changed are read, and each is swapped into the live table, so
// lookups never wait for a reload.
func (s *Server) Sync(ctx context.Context) error {
	s.followMu.Lock()
	defer s.followMu.Unlock()
	ch, err := s.store.ChangesSince(ctx, s.seq)
	if err != nil {
		return err
	}
	if ch.Reset {
		s.opt.Log.Printf("the store's history changed (restored or replaced): reloading")
		return s.loadLocked(ctx)
	}
	t := s.tab.Load()
	for i := range ch.Keys {
		k := &ch.Keys[i]
		if old, ok := s.hashOf[k.ID]; ok && old != k.Hash {
			t.remove(old)
		}
		t.put(k)
		s.hashOf[k.ID] = k.Hash
	}
	for _, id := range ch.Removed {
		if h, ok := s.hashOf[id]; ok {
			t.remove(h)
			delete(s.hashOf, id)
		}
	}
	if n := len(ch.Keys) + len(ch.Removed); n > 0 {
		s.m.changes.Add(uint64(n))
		s.m.keys.Store(int64(len(s.hashOf)))
	}
	s.seq = ch.Seq
	return nil
}

// Flush writes the gathered last-used news in one transaction; on failure
// it keeps them for the next flush.
func (s *Server) Flush(ctx context.Context) error {
	batch := s.uses.take()
	if len(batch) == 0 {
		return nil
	}
	if err := s.store.RecordUses(ctx, batch); err != nil {
		s.uses.giveBack(batch)
		s.m.flushErrors.Add(1)
		return err
	}
	s.m.flushes.Add(1)
	return nil
}

// Watcher is a store that can say when its change feed moves (etcd's
// watch), so the verifier follows it without polling.
type Watcher interface {
	WatchChanges(ctx context.Context) <-chan struct{}
}

// Follow syncs and flushes until ctx ends: on each change the store
// signals (a watch), or every PollEvery for a store that cannot (a file).
// It does not flush at the end: the caller flushes after the last request
// is answered.
func (s *Server) Follow(ctx context.Context) {
	var changed <-chan struct{}
	var poll <-chan time.Time
	if w, ok := s.store.(Watcher); ok {
		changed = w.WatchChanges(ctx)
		// Anything between the load and the watch's start.
		if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
			s.opt.Log.Printf("following the store: %v", err)
		}
	} else {
		t := time.NewTicker(s.opt.PollEvery)
		defer t.Stop()
		poll = t.C
	}
	flush := time.NewTicker(s.opt.FlushEvery)
	defer flush.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
			if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
				s.opt.Log.Printf("following the store: %v", err)
			}
		case <-poll:
			if err := s.Sync(ctx); err != nil && ctx.Err() == nil {
				s.opt.Log.Printf("following the store: %v", err)
			}
		case <-flush.C:
			if err := s.Flush(ctx); err != nil && ctx.Err() == nil {
				s.opt.Log.Printf("writing last used (kept for the next try): %v", err)
			}
		}
	}
}

// Result is one check's outcome. Only the reason goes to the client.
type Result struct {
	OK     bool
	Reason model.Reason
	Key    *model.Key // set when the key was found
}

// Request is one check.
type Request struct {
	Secret   string
	Env      string // name or tag; empty accepts any
	Scope    string
	ClientIP netip.Addr
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
	e, found := s.tab.Load().get(keygen.HashKey(req.Secret))
	if !found {
		return Result{Reason: model.ReasonUnknown}
	}
	k := e.rules.Key
	env := req.Env
	if env == p.Tag {
		env = k.Environment // the tag in the key names its environment
	}
	now := s.opt.Now()
	if reason := e.rules.Check(env, req.Scope, req.ClientIP, now); reason != "" {
		if reason == model.ReasonExpired && !k.ExpiryLogged {
			s.uses.expired(k.ID)
		}
		return Result{Reason: reason, Key: k}
	}
	from := ""
	if req.ClientIP.IsValid() {
		from = req.ClientIP.Unmap().String()
	}
	s.uses.used(k.ID, now, from)
	return Result{OK: true, Key: k}
}

// Keys is how many keys the table holds.
func (s *Server) Keys() int { return int(s.m.keys.Load()) }
