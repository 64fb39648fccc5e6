package storage

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"keyden/internal/etcdtest"
	"keyden/model"
)

// A three-member cluster loses a member mid-test: keyden keeps creating and
// verifying; the member comes back and catches up.
func TestThreeMemberClusterSurvivesAMember(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-member cluster in -short")
	}
	ms := etcdtest.Start(t, 3, t.TempDir(), false)
	defer func() {
		for _, m := range ms {
			m.Stop()
		}
	}()
	st := openEtcdAt(t, etcdtest.URL(ms, "/cluster"), Options{Actor: "alice", Timeout: 5 * time.Second})
	var secrets []string
	make := func(n int, tag string) {
		for i := 0; i < n; i++ {
			c, err := st.CreateKey(ctx, CreateRequest{Name: fmt.Sprintf("%s %d", tag, i), Channel: "default", Environment: "prod"})
			if err != nil {
				t.Fatalf("create (%s %d): %v", tag, i, err)
			}
			secrets = append(secrets, c.Secret)
		}
	}
	verifyAll := func() {
		for _, s := range secrets {
			if res, err := st.Verify(ctx, VerifyRequest{Secret: s}); err != nil || !res.OK {
				t.Fatalf("verify: %v %v", res.Reason, err)
			}
		}
	}
	make(10, "before")
	verifyAll()
	ms[2].Stop()
	make(20, "while down")
	verifyAll()
	if err := ms[2].Restart(); err != nil {
		t.Fatal(err)
	}
	make(5, "after")
	// The restarted member's own copy (a serializable read, no leader) catches up.
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + ms[2].Endpoint()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := cli.Get(context.Background(), "/cluster/keys/", clientv3.WithPrefix(), clientv3.WithCountOnly(), clientv3.WithSerializable())
		if err == nil && resp.Count == int64(len(secrets)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the restarted member holds %v keys, want %d (%v)", resp, len(secrets), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	verifyAll()
}

// A store moves to etcd and back, keeping ids, hashes, audit and members.
func TestCopyBetweenBackends(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd in -short")
	}
	clk := newClock()
	src := newStore(t, Options{Actor: "root", Now: clk.Now})
	a := mustCreate(t, src, CreateRequest{Name: "a", Scopes: []string{"x:*"}})
	b := mustCreate(t, src, CreateRequest{Name: "b", Environment: "dev"})
	src.AddMember(ctx, "ann", model.RoleAdmin)
	src.AddChannel(ctx, model.Channel{Name: "partner"})
	src.SetDisabled(ctx, b.Key.ID, true)
	src.Verify(ctx, VerifyRequest{Secret: a.Secret})

	mid := newEtcdStore(t, Options{Actor: "root", Now: clk.Now})
	n, err := Copy(ctx, src, mid)
	if err != nil || n != 2 {
		t.Fatalf("copy to etcd: %d %v", n, err)
	}
	back, _ := OpenBolt(filepath.Join(t.TempDir(), "back.db"), Options{Actor: "root", Now: clk.Now})
	if _, err := Copy(ctx, mid, back); err != nil {
		t.Fatalf("copy back: %v", err)
	}
	for _, st := range []Store{mid, back} {
		res, err := st.Verify(ctx, VerifyRequest{Secret: a.Secret})
		if err != nil || !res.OK || res.Key.ID != a.Key.ID || res.Key.UseCount != 2 {
			t.Fatalf("%T: a after the copy: %+v %v", st, res, err)
		}
		if res, _ := st.Verify(ctx, VerifyRequest{Secret: b.Secret}); res.Reason != model.ReasonDisabled {
			t.Fatalf("%T: b after the copy: %v", st, res.Reason)
		}
		ms, _ := st.Members(ctx)
		evs, _ := st.Audit(ctx, AuditFilter{})
		srcEvs, _ := src.Audit(ctx, AuditFilter{})
		if len(ms) != 2 || len(evs) != len(srcEvs) || evs[0].Seq != srcEvs[0].Seq {
			t.Fatalf("%T: members %d, audit %d vs %d", st, len(ms), len(evs), len(srcEvs))
		}
	}
	// The audit sequence continues after the copy.
	c := mustCreate(t, mid, CreateRequest{Name: "c"})
	evs, _ := mid.Audit(ctx, AuditFilter{KeyID: c.Key.ID})
	srcEvs, _ := src.Audit(ctx, AuditFilter{})
	if evs[0].Seq <= srcEvs[0].Seq {
		t.Fatalf("audit sequence restarted: %d after %d", evs[0].Seq, srcEvs[0].Seq)
	}
	if _, err := Copy(ctx, src, mid); err == nil {
		t.Fatal("copied into a store that is not empty")
	}
}

// A member that was down is read from as soon as it is back. gRPC's default
// reconnect backoff (1 s, growing 1.6 times with each failed try) kept a
// client off a restarted member for up to 1.6 s after it could answer: the
// late refusals of a running serve after a lost quorum, whose reads could go
// only to the one member left. The client now tries again every 250 ms at
// most.
func TestARestartedMemberIsReadFromAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("etcd processes in -short")
	}
	ps := etcdtest.StartProcs(t, 3, etcdtest.ProcOptions{HeartbeatMs: 50, ElectionMs: 500})
	st := openEtcdAt(t, "etcd://"+ps[0].Endpoint()+"/restart", Options{Actor: "alice"})
	read := func() error {
		c, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		_, _, err := st.FeedHead(c)
		return err
	}
	if err := read(); err != nil {
		t.Fatal(err)
	}
	var waits []time.Duration
	for range 3 {
		ps[0].Stop()
		// Three seconds of failed reads take the old backoff past 2.5 s.
		for down := time.Now(); time.Since(down) < 3*time.Second; {
			if read() == nil {
				t.Fatal("a read succeeded with its only member stopped")
			}
		}
		if err := ps[0].Start(); err != nil {
			t.Fatal(err)
		}
		if err := ps[0].WaitHealthy(30 * time.Second); err != nil {
			t.Fatal(err)
		}
		back := time.Now()
		for read() != nil {
			if time.Since(back) > 10*time.Second {
				t.Fatal("no read succeeded 10 s after the member was back")
			}
		}
		waits = append(waits, time.Since(back))
	}
	slices.Sort(waits)
	t.Logf("reads succeeded %v after the member was back", waits)
	if waits[1] > 500*time.Millisecond {
		t.Fatalf("reads succeeded %v after the member was back: want the median within 500 ms", waits)
	}
}
