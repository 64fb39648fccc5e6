package storage

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// faultTxn is a write's commit that loses etcd's answer: after etcd
// applied it (apply), or before sending it.
type faultTxn struct {
	clientv3.Txn
	apply bool
}

func (f *faultTxn) If(cs ...clientv3.Cmp) clientv3.Txn   { f.Txn = f.Txn.If(cs...); return f }
func (f *faultTxn) Then(ops ...clientv3.Op) clientv3.Txn { f.Txn = f.Txn.Then(ops...); return f }
func (f *faultTxn) Else(ops ...clientv3.Op) clientv3.Txn { f.Txn = f.Txn.Else(ops...); return f }
func (f *faultTxn) Commit() (*clientv3.TxnResponse, error) {
	if f.apply {
		if _, err := f.Txn.Commit(); err != nil {
			return nil, err
		}
	}
	return nil, status.Error(codes.Unavailable, "error reading from server: EOF")
}

// loseAnswers makes the next n commits of st's writes lose their answer
// (n < 0: every commit).
func loseAnswers(st Etcd, n int64, apply bool) {
	var left atomic.Int64
	left.Store(n)
	st.WrapCommits(func(t clientv3.Txn) clientv3.Txn {
		if n >= 0 && left.Add(-1) < 0 {
			return t
		}
		return &faultTxn{Txn: t, apply: apply}
	})
}

func auditCount(t *testing.T, st Store, action string) int {
	t.Helper()
	evs, err := st.Audit(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Action == action {
			n++
		}
	}
	return n
}

// A write whose answer was lost after etcd applied it is found to be
// kept: create prints the key it stored, delete, rotate and disable report
// what they did, and nothing is done twice.
func TestEtcdLostAnswerAfterCommitIsKept(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd in -short")
	}
	st := newEtcdStore(t, Options{})
	loseAnswers(st, -1, true)
	c, err := st.CreateKey(ctx, CreateRequest{Name: "lost", Channel: "default", Environment: "prod"})
	if err != nil {
		t.Fatalf("create whose answer was lost after it was stored: %v", err)
	}
	if res, err := st.Verify(ctx, VerifyRequest{Secret: c.Secret}); err != nil || !res.OK {
		t.Fatalf("the printed secret is not the stored one: %v %v", res, err)
	}
	if ks, _ := st.ListKeys(ctx, Filter{}); len(ks) != 1 || auditCount(t, st, "create") != 1 {
		t.Fatalf("one create stored %d keys, %d create events", len(ks), auditCount(t, st, "create"))
	}
	if k, err := st.SetDisabled(ctx, c.Key.ID, true); err != nil || !k.Disabled {
		t.Fatalf("disable: %v %v", k.Disabled, err)
	}
	if _, err := st.SetDisabled(ctx, c.Key.ID, false); err != nil {
		t.Fatalf("enable: %v", err)
	}
	r, err := st.RotateKey(ctx, RotateRequest{ID: c.Key.ID, Grace: time.Hour})
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	if res, err := st.Verify(ctx, VerifyRequest{Secret: r.New.Secret}); err != nil || !res.OK {
		t.Fatalf("the rotated secret: %v %v", res, err)
	}
	if _, err := st.DeleteKey(ctx, r.New.Key.ID); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if res, _ := st.Verify(ctx, VerifyRequest{Secret: r.New.Secret}); res.OK {
		t.Fatal("the deleted key still verifies")
	}
	for action, want := range map[string]int{"create": 2, "rotate": 1, "disable": 1, "enable": 1, "delete": 1} {
		if n := auditCount(t, st, action); n != want {
			t.Errorf("%d %s events, want %d", n, action, want)
		}
	}
}

// A write whose answer was lost before etcd applied it is found not to
// be kept, and is made again: one key, not zero, not two.
func TestEtcdLostAnswerBeforeCommitIsRetried(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd in -short")
	}
	st := newEtcdStore(t, Options{})
	st.Info(ctx)
	loseAnswers(st, 1, false)
	c, err := st.CreateKey(ctx, CreateRequest{Name: "retried", Channel: "default", Environment: "prod"})
	if err != nil {
		t.Fatalf("create after one lost request: %v", err)
	}
	if res, err := st.Verify(ctx, VerifyRequest{Secret: c.Secret}); err != nil || !res.OK {
		t.Fatalf("verify: %v %v", res, err)
	}
	if ks, _ := st.ListKeys(ctx, Filter{}); len(ks) != 1 {
		t.Fatalf("%d keys after one create", len(ks))
	}

	// Never applied: the user is told nothing was stored, and nothing was.
	st = reopen(t, st, Options{Actor: "alice", Timeout: 300 * time.Millisecond}).(Etcd)
	loseAnswers(st, -1, false)
	_, err = st.CreateKey(ctx, CreateRequest{Name: "never", Channel: "default", Environment: "prod"})
	t.Logf("never applied: %v", err)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "nothing was changed") || strings.Contains(err.Error(), "rpc error") {
		t.Fatalf("a create that was never applied: %v", err)
	}
	st.WrapCommits(nil)
	if ks, _ := st.ListKeys(ctx, Filter{}); len(ks) != 1 {
		t.Fatalf("%d keys after a refused create", len(ks))
	}
}

// A fence left by a settled write on a new prefix does not make it look used.
func TestEtcdSettledNewPrefixIsStillEmpty(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd in -short")
	}
	st := newEtcdStore(t, Options{Timeout: 300 * time.Millisecond})
	loseAnswers(st, -1, false)
	if err := st.Init(ctx); err == nil {
		t.Fatal("init went through with every commit lost")
	}
	st.WrapCommits(nil)
	if err := st.Init(ctx); err != nil {
		t.Fatalf("init of a prefix that holds only a fence: %v", err)
	}
}
