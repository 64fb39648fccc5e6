package server

import (
	"context"
	"testing"
	"time"

	"keyden/internal/etcdtest"
	"keyden/keygen"
	"keyden/storage"
	"keyden/storage/etcdstore"
)

// etcdServer follows a store on embedded etcd (3.6), or with real34 on a
// process of Debian's etcd 3.4.
func etcdServer(tb testing.TB, durable, real34 bool) (*etcdstore.Etcd, *Server, context.CancelFunc) {
	tb.Helper()
	var loc string
	if real34 {
		loc = etcdtest.ProcURL(etcdtest.StartProcs(tb, 1, etcdtest.ProcOptions{NoFsync: true}), "/watch")
	} else {
		ms := etcdtest.Start(tb, 1, tb.TempDir(), durable)
		tb.Cleanup(ms[0].Stop)
		loc = etcdtest.URL(ms, "/watch")
	}
	cfg, err := storage.ParseEtcdURL(loc, nil)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := etcdstore.Open(cfg, storage.Options{Actor: "alice"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	srv := New(st, Options{PollEvery: time.Hour, ConfirmEvery: time.Hour}) // no confirming read within the test: only the watch can deliver
	if err := srv.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	followCtx, cancel := context.WithCancel(ctx)
	go srv.Follow(followCtx)
	tb.Cleanup(cancel)
	return st, srv, cancel
}

// On etcd the verifier follows a watch, not a poll: changes arrive
// although the poll interval is an hour. Embedded 3.6 and Debian's 3.4.
func TestEtcdVerifierFollowsAWatch(t *testing.T) {
	if testing.Short() {
		t.Skip("etcd in -short")
	}
	for _, real34 := range []bool{false, true} {
		t.Run(map[bool]string{false: "embedded", true: "etcd 3.4"}[real34], func(t *testing.T) { followsAWatch(t, real34) })
	}
}

func followsAWatch(t *testing.T, real34 bool) {
	st, srv, _ := etcdServer(t, false, real34)
	c, err := st.CreateKey(ctx, storage.CreateRequest{Name: "watched", Channel: "default", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func() bool) {
		deadline := time.Now().Add(2 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s never reached the verifier", what)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	waitFor("a create", func() bool { return srv.Verify(Request{Secret: c.Secret}).OK })
	st.SetDisabled(ctx, c.Key.ID, true)
	waitFor("a disable", func() bool { return srv.Verify(Request{Secret: c.Secret}).Reason == "disabled" })
	st.DeleteKey(ctx, c.Key.ID)
	waitFor("a delete", func() bool { return srv.Verify(Request{Secret: c.Secret}).Reason == "unknown" })
}

// From a commit returning to the verifier answering with it, over a watch.
func BenchmarkEtcdWatchLatency(b *testing.B) {
	st, srv, _ := etcdServer(b, true, false)
	var worst time.Duration
	for b.Loop() {
		c, err := st.CreateKey(ctx, storage.CreateRequest{Name: "w", Channel: "default", Environment: "prod"})
		if err != nil {
			b.Fatal(err)
		}
		committed := time.Now()
		h := keygen.HashKey(c.Secret)
		for {
			if srv.tab.Load().has(h) {
				break
			}
			if time.Since(committed) > 5*time.Second {
				b.Fatal("never arrived")
			}
			time.Sleep(50 * time.Microsecond)
		}
		if d := time.Since(committed); d > worst {
			worst = d
		}
	}
	b.ReportMetric(float64(worst.Microseconds())/1000, "max-ms")
}
