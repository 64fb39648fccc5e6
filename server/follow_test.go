package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"keyden/model"
	"keyden/storage"
)

// flakyStore is a file store that signals like an etcd watch when the test
// says so, and whose change-feed reads can be made to fail, or to hang
// until they are abandoned (a cluster without quorum).
type flakyStore struct {
	*storage.Bolt
	signals chan storage.WatchSignal
	reads   atomic.Int64
	// resetNext makes the next change read say the history went back;
	// loads counts full reads and deadlined those made under a deadline.
	resetNext        atomic.Bool
	loads, deadlined atomic.Int64

	// flushGate, when set, holds every last-used write until it is closed
	// (a write waiting on a cluster that lost its quorum); flushes counts
	// the writes begun.
	flushGate chan struct{}
	flushes   atomic.Int64

	mu    sync.Mutex
	fail  error
	hang  bool          // the next read waits until its context ends
	delay time.Duration // every read takes this long (a slow cluster)
}

func (f *flakyStore) WatchChanges(ctx context.Context) <-chan storage.WatchSignal { return f.signals }

func (f *flakyStore) FeedHead(ctx context.Context) (uint64, int64, error) {
	if err := f.trouble(ctx); err != nil {
		return 0, 0, err
	}
	if f.resetNext.Load() {
		return math.MaxUint64, 0, nil
	}
	return f.Bolt.FeedHead(ctx)
}

func (f *flakyStore) Updates(ctx context.Context, from storage.Position) (storage.Changes, error) {
	if err := f.trouble(ctx); err != nil {
		return storage.Changes{}, err
	}
	if f.resetNext.Swap(false) {
		return storage.Changes{Reset: true}, nil
	}
	return f.Bolt.Updates(ctx, from)
}

func (f *flakyStore) SnapshotEach(ctx context.Context, size func(int), fn func(*model.Key) error) (storage.Position, error) {
	f.loads.Add(1)
	if _, ok := ctx.Deadline(); ok {
		f.deadlined.Add(1)
	}
	return f.Bolt.SnapshotEach(ctx, size, fn)
}

func (f *flakyStore) RecordUses(ctx context.Context, uses []storage.Use) error {
	f.flushes.Add(1)
	if f.flushGate != nil {
		select {
		case <-f.flushGate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return f.Bolt.RecordUses(ctx, uses)
}

// trouble is what a read meets: nothing, a failure, or a hang.
func (f *flakyStore) trouble(ctx context.Context) error {
	f.mu.Lock()
	fail, hang, delay := f.fail, f.hang, f.delay
	f.hang = false
	f.mu.Unlock()
	f.reads.Add(1)
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return ctx.Err()
	}
	if hang {
		<-ctx.Done()
		return ctx.Err()
	}
	return fail
}

func (f *flakyStore) set(fail error, hang bool) {
	f.mu.Lock()
	f.fail, f.hang = fail, hang
	f.mu.Unlock()
}

func newFlaky(t *testing.T, opt Options) (*flakyStore, *Server) {
	t.Helper()
	return newFlakyGated(t, opt, nil)
}

func newFlakyGated(t *testing.T, opt Options, flushGate chan struct{}) (*flakyStore, *Server) {
	t.Helper()
	b, err := storage.OpenBolt(filepath.Join(t.TempDir(), "k.db"), storage.Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	st := &flakyStore{Bolt: b, signals: make(chan storage.WatchSignal, 16), flushGate: flushGate}
	srv := New(st, opt)
	if err := srv.Load(ctx); err != nil {
		t.Fatal(err)
	}
	fctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { srv.Follow(fctx); close(done) }()
	t.Cleanup(func() { stop(); <-done }) // before the temp dir goes
	return st, srv
}

func waitUntil(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var errNoQuorum = errors.New("etcd at etcd://x did not answer in time: check that a majority of its members are up")

// A read the watch asked for fails (no quorum): it is tried again until it
// succeeds, with no further signal and no confirming read due, so the
// change it was for is not left waiting for the next one.
func TestFollowRetriesAFailedRead(t *testing.T) {
	st, srv := newFlaky(t, Options{PollEvery: time.Hour, ConfirmEvery: time.Hour, MaxStaleness: time.Hour})
	st.set(errNoQuorum, false)
	c, err := st.CreateKey(ctx, storage.CreateRequest{Name: "k", Channel: "default", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	st.signals <- storage.WatchSignal{Watching: true}
	waitUntil(t, 5*time.Second, "a failing read", func() bool { return st.reads.Load() >= 1 })
	st.set(nil, false)
	waitUntil(t, 2*time.Second, "the change after the store came back", func() bool { return srv.Verify(Request{Secret: c.Secret}).OK })
}

// A change the watch never signals (a watch served by a member still
// catching up delivers late) is taken in by the confirming read, which at
// serve's defaults comes four times a second: once a second let a delete
// be accepted for 1 s after a quorum loss (a CI run of
// TestServeFollowsAcrossQuorumLoss).
func TestAnUnsignalledChangeIsTakenInWithinAQuarterSecond(t *testing.T) {
	st, srv := newFlaky(t, Options{MaxStaleness: time.Hour})
	st.signals <- storage.WatchSignal{Watching: true}
	waitUntil(t, 5*time.Second, "the first read", func() bool { return st.reads.Load() >= 1 })
	c, err := st.CreateKey(ctx, storage.CreateRequest{Name: "k", Channel: "default", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 750*time.Millisecond, "the unsignalled change", func() bool { return srv.Verify(Request{Secret: c.Secret}).OK })
}

// A last-used write that waits on the cluster (just back from a lost
// quorum) does not hold back the read that takes in a delete: on the old
// follower both ran in one loop, and the delete waited for the write.
func TestAWaitingFlushDoesNotHoldBackAChange(t *testing.T) {
	gate := make(chan struct{})
	st, srv := newFlakyGated(t, Options{PollEvery: time.Hour, ConfirmEvery: time.Hour, FlushEvery: 10 * time.Millisecond, MaxStaleness: time.Hour}, gate)
	defer close(gate)
	c, err := st.CreateKey(ctx, storage.CreateRequest{Name: "k", Channel: "default", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	st.signals <- storage.WatchSignal{Watching: true}
	waitUntil(t, 5*time.Second, "the key", func() bool { return srv.Verify(Request{Secret: c.Secret}).OK })
	waitUntil(t, 5*time.Second, "a last-used write begun", func() bool { return st.flushes.Load() >= 1 })
	if _, err := st.DeleteKey(ctx, c.Key.ID); err != nil {
		t.Fatal(err)
	}
	st.signals <- storage.WatchSignal{Watching: true}
	waitUntil(t, 5*time.Second, "the delete while the write waits", func() bool { return !srv.Verify(Request{Secret: c.Secret}).OK })
}

// A read sent while the cluster had no quorum may wait long after it is
// back; when the watch returns, that read is abandoned and a fresh one
// takes the change in at once.
func TestAReadStuckInTheOutageIsAbandonedWhenTheWatchReturns(t *testing.T) {
	st, srv := newFlaky(t, Options{PollEvery: time.Hour, ConfirmEvery: time.Hour, MaxStaleness: time.Hour})
	st.set(nil, true)
	st.signals <- storage.WatchSignal{Watching: false}
	waitUntil(t, 5*time.Second, "a hanging read", func() bool { return st.reads.Load() >= 1 })
	c, err := st.CreateKey(ctx, storage.CreateRequest{Name: "k", Channel: "default", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	st.signals <- storage.WatchSignal{Watching: true}
	waitUntil(t, 2*time.Second, "the change after the watch came back", func() bool { return srv.Verify(Request{Secret: c.Secret}).OK })
}

// After a failed read, and for a while after the next good one, the
// verifier confirms often: a cluster just back may have members catching
// up, and a watch served by one of them delivers late.
func TestConfirmsBrisklyAfterAnOutage(t *testing.T) {
	st, _ := newFlaky(t, Options{PollEvery: time.Hour, ConfirmEvery: time.Hour, MaxStaleness: time.Hour})
	st.set(errNoQuorum, false)
	st.signals <- storage.WatchSignal{Watching: true}
	waitUntil(t, 5*time.Second, "a failing read", func() bool { return st.reads.Load() >= 1 })
	st.set(nil, false)
	n := st.reads.Load()
	waitUntil(t, 3*time.Second, "five confirming reads after the good one", func() bool { return st.reads.Load() >= n+6 })
}

// A short loss of quorum may leave the watch in place while a read sent
// meanwhile still waits on the cluster after it is back (seen on etcd 3.4
// for 1.5 s): the read runs out of its budget and a fresh one takes the
// change in, with no signal needed.
func TestAStuckReadRunsOutOfItsBudget(t *testing.T) {
	st, srv := newFlaky(t, Options{PollEvery: time.Hour, ConfirmEvery: time.Hour, MaxStaleness: time.Hour})
	st.signals <- storage.WatchSignal{Watching: true, Rev: 5}
	waitUntil(t, 5*time.Second, "the first read", func() bool { return st.reads.Load() >= 1 })
	st.set(nil, true)
	st.signals <- storage.WatchSignal{Watching: true, Rev: 6}
	waitUntil(t, 5*time.Second, "a hanging read", func() bool { return st.reads.Load() >= 2 })
	c, err := st.CreateKey(ctx, storage.CreateRequest{Name: "k", Channel: "default", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitUntil(t, 3*time.Second, "the change after the read ran out", func() bool { return srv.Verify(Request{Secret: c.Secret}).OK })
	t.Logf("taken in %v", time.Since(start).Round(time.Millisecond))
}

// A read that is slow, not stuck, is not abandoned for ever: each one that
// runs out of its budget gives the next twice the time.
func TestASlowReadGetsItsTimeWhileChangesKeepComing(t *testing.T) {
	st, srv := newFlaky(t, Options{PollEvery: time.Hour, ConfirmEvery: time.Hour, MaxStaleness: time.Hour})
	c, err := st.CreateKey(ctx, storage.CreateRequest{Name: "k", Channel: "default", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.delay = 3 * readBudgetMin / 2
	st.mu.Unlock()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for rev := int64(1); ; rev++ {
			select {
			case st.signals <- storage.WatchSignal{Watching: true, Rev: rev}:
			case <-stop:
				return
			}
			select {
			case <-time.After(20 * time.Millisecond): // the pace of the changes
			case <-stop:
				return
			}
		}
	}()
	waitUntil(t, 10*time.Second, "a change while others keep coming", func() bool { return srv.Verify(Request{Secret: c.Secret}).OK })
}

// A store whose history went back (restored, replaced) is read again
// whole, and that full read is not held to a change read's budget: a big
// store's would run out at every try.
func TestAFullReadAfterAResetHasNoReadBudget(t *testing.T) {
	st, srv := newFlaky(t, Options{PollEvery: time.Hour, ConfirmEvery: time.Hour, MaxStaleness: time.Hour})
	c, err := st.CreateKey(ctx, storage.CreateRequest{Name: "k", Channel: "default", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	st.resetNext.Store(true)
	st.signals <- storage.WatchSignal{Watching: true}
	waitUntil(t, 5*time.Second, "the full read", func() bool { return srv.Verify(Request{Secret: c.Secret}).OK })
	if n, d := st.loads.Load(), st.deadlined.Load(); n != 2 || d != 0 {
		t.Fatalf("%d full reads (want the first and the one after the reset), %d of them under a read's budget", n, d)
	}
}

type healthz struct {
	status int
	Health
	OK bool `json:"ok"`
}

func getHealth(t *testing.T, url string) healthz {
	t.Helper()
	resp, err := http.Get(url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := healthz{status: resp.StatusCode}
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

// /healthz says how far behind the verifier is, and answers 503 once it
// has not confirmed it is current for longer than MaxStaleness, with the
// store's own sentence; it is 200 again once a read succeeds.
func TestHealthzSaysHowFarBehind(t *testing.T) {
	st, srv := newFlaky(t, Options{MaxStaleness: time.Second})
	hs := serveHTTP(t, srv)
	defer hs.Close()
	st.signals <- storage.WatchSignal{Watching: true, Rev: 7}
	waitUntil(t, 5*time.Second, "the watch state on /healthz", func() bool {
		h := getHealth(t, hs.URL)
		return h.Watching != nil && *h.Watching && h.WatchRevision == 7
	})
	h := getHealth(t, hs.URL)
	if h.status != 200 || !h.OK || !h.Current || h.LagSeconds > 1 || h.MaxStalenessSeconds != 1 || h.AuditSeq == 0 || h.Error != "" {
		t.Fatalf("healthz of a current verifier: %+v", h)
	}
	st.set(errNoQuorum, false)
	waitUntil(t, 10*time.Second, "503 while the store cannot be read", func() bool { return getHealth(t, hs.URL).status == 503 })
	h = getHealth(t, hs.URL)
	if h.OK || h.Current || h.LagSeconds <= 1 || !strings.Contains(h.Error, "majority of its members") {
		t.Fatalf("healthz of a verifier behind: %+v", h)
	}
	resp, err := http.Get(hs.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var lag float64
	if _, err := fmt.Sscan(strings.SplitN(string(m), "\nkeyden_follow_lag_seconds ", 2)[1], &lag); err != nil || lag <= 1 ||
		!strings.Contains(string(m), "\nkeyden_follow_errors_total ") {
		t.Errorf("/metrics without the lag (%v %v) or the failed reads:\n%s", lag, err, m)
	}
	st.set(nil, false)
	waitUntil(t, 10*time.Second, "200 once the store answers", func() bool { return getHealth(t, hs.URL).status == 200 })
}
