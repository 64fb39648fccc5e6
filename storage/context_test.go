package storage

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"keyden/internal/etcdtest"
)

// promptly is how soon a call must end once its context does, on a loaded
// machine: far below the store's own Timeout in these tests.
const promptly = 5 * time.Second

// endsWith runs call with a context that ends after `after` (cancelled, or
// its deadline), and returns how long it took and its error.
func endsWith(t *testing.T, deadline bool, after time.Duration, call func(context.Context) error) (time.Duration, error) {
	t.Helper()
	start := time.Now()
	c, cancel := context.WithCancel(ctx)
	if deadline {
		c, cancel = context.WithTimeout(ctx, after)
	} else if after > 0 {
		time.AfterFunc(after, cancel) // the cancel arrives during the call
	} else {
		cancel()
	}
	defer cancel()
	err := call(c)
	return time.Since(start), err
}

// A bbolt store waits for another process's lock up to its Timeout, or
// less: the caller's context ends the wait, a deadline as busy, a cancel
// with its own sentence. The old code waited out the Timeout (30 s here).
func TestContextEndsTheLockWait(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyden.db")
	st, err := OpenBolt(path, Options{Actor: "alice", Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, st, CreateRequest{Name: "a"})
	held, err := bolt.Open(path, 0o600, nil) // another writer holds the lock
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	list := func(c context.Context) error { _, err := st.ListKeys(c, Filter{}); return err }
	create := func(c context.Context) error {
		_, err := st.CreateKey(c, CreateRequest{Name: "b", Channel: "default", Environment: "prod"})
		return err
	}

	cancelled := "the wait for the key store " + path + " was cancelled before it was opened: run the command again"
	for _, tc := range []struct {
		name     string
		deadline bool
		after    time.Duration
		call     func(context.Context) error
		want     string
		kind     error
	}{
		{"cancelled before", false, 0, list, cancelled, context.Canceled},
		{"cancelled while waiting", false, 300 * time.Millisecond, list, cancelled, context.Canceled},
		{"a write cancelled while waiting", false, 300 * time.Millisecond, create, cancelled, context.Canceled},
		{"deadline while waiting", true, 300 * time.Millisecond, list, "the key store " + path + " is busy (another keyden is writing); try again", ErrBusy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			took, err := endsWith(t, tc.deadline, tc.after, tc.call)
			if err == nil || err.Error() != tc.want || !errors.Is(err, tc.kind) || took < tc.after || took > tc.after+promptly {
				t.Fatalf("after %v: %v", took, err)
			}
		})
	}
	held.Close()
	if keys, err := st.ListKeys(ctx, Filter{}); err != nil || len(keys) != 1 {
		t.Fatalf("after the waits: %d keys, %v", len(keys), err)
	}
}

// On etcd, a call's context reaches etcd: a cancelled one is refused at
// once and changes nothing; one that ends while etcd cannot answer (no
// quorum) ends the call then, not at the store's own Timeout (30 s here).
func TestContextEndsEtcdCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-member cluster in -short")
	}
	ms := etcdtest.Start(t, 3, t.TempDir(), false)
	defer ms[0].Stop()
	st := openEtcdAt(t, etcdtest.URL(ms, "/ctx"), Options{Actor: "alice", Timeout: 30 * time.Second})
	mustCreate(t, st, CreateRequest{Name: "a"})
	list := func(c context.Context) error { _, err := st.ListKeys(c, Filter{}); return err }
	create := func(c context.Context) error {
		_, err := st.CreateKey(c, CreateRequest{Name: "b", Channel: "default", Environment: "prod"})
		return err
	}
	where := st.Location()

	cancelled := "the request to etcd at " + where + " was cancelled before it was answered: run the command again"
	unchanged := "the change to etcd at " + where + " was cancelled, and nothing was changed: run the command again"
	for _, c := range []struct {
		call func(context.Context) error
		want string
	}{{list, cancelled}, {create, unchanged}} {
		if took, err := endsWith(t, false, 0, c.call); err == nil || err.Error() != c.want || !errors.Is(err, context.Canceled) || took > promptly {
			t.Fatalf("cancelled before: after %v: %v", took, err)
		}
	}
	if keys, err := st.ListKeys(ctx, Filter{}); err != nil || len(keys) != 1 {
		t.Fatalf("a cancelled create changed the store: %d keys, %v", len(keys), err)
	}

	ms[1].Stop()
	ms[2].Stop()
	for _, tc := range []struct {
		name     string
		deadline bool
		call     func(context.Context) error
		want     string
	}{
		{"list cancelled without quorum", false, list, cancelled},
		{"create cancelled without quorum", false, create, unchanged},
		{"list past its deadline without quorum", true, list, "etcd at " + where + " did not answer in time: check that a majority of its members are up"},
		{"create past its deadline without quorum", true, create, "etcd at " + where + " did not answer in time, and nothing was changed: check that a majority of its members are up, then try again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const after = 500 * time.Millisecond
			took, err := endsWith(t, tc.deadline, after, tc.call)
			if err == nil || err.Error() != tc.want || took < after || took > after+promptly {
				t.Fatalf("after %v: %v", took, err)
			}
		})
	}
}

// Close waits for a transaction under way and refuses any after it, so a
// program's work that outlives it (a TUI's load) never recreates a store
// whose file was removed meanwhile: the TUI tests' folders failed to be
// removed ("directory not empty") when a load ran on after the test.
func TestCloseWaitsForTransactionsAndRefusesLater(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyden.db")
	// The clock, read inside a read's transaction, holds the read there.
	var hold atomic.Bool
	inside, release := make(chan struct{}), make(chan struct{})
	st, err := OpenBolt(path, Options{Actor: "alice", Now: func() time.Time {
		if hold.CompareAndSwap(true, false) {
			close(inside)
			<-release
		}
		return time.Now()
	}})
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, st, CreateRequest{Name: "a"})
	hold.Store(true)
	listed := make(chan error, 1)
	go func() { _, err := st.ListKeys(ctx, Filter{}); listed <- err }()
	<-inside
	closed := make(chan struct{})
	go func() { st.Close(); close(closed) }()
	// Close must not return while the read runs. Nothing can prove a wait
	// that has not ended yet, so this gives it time to end wrongly.
	select {
	case <-closed:
		t.Fatal("Close returned while a read was under way")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	<-closed
	if err := <-listed; err != nil {
		t.Fatalf("the read under way failed: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := st.ListKeys(ctx, Filter{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("a read after Close: %v; want it refused", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a read after Close recreated the store: %v", err)
	}
}
