package storage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"keyden/internal/etcdtest"
)

// etcd 3.4 with auth refuses a login that carries an expired token; the
// client used to retry it until every call timed out ("did not answer in
// time" after 6 s). keyden logs in again with a new client.
func TestEtcd34LoginSurvivesTokenExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("etcd 3.4 process in -short")
	}
	p := etcdtest.StartProcs(t, 1, etcdtest.ProcOptions{NoFsync: true, Extra: []string{"--auth-token", "simple", "--auth-token-ttl", "5"}})[0]
	p.EnableAuth(t, "keyden", "kpw", "/ka")
	st, _ := openEtcdWithEnv(t, "etcd://keyden@"+p.Endpoint()+"/ka", map[string]string{"KEYDEN_ETCD_PASSWORD": "kpw"}, Options{Actor: "alice"})
	c := mustCreate(t, st, CreateRequest{})
	other := mustCreate(t, st, CreateRequest{Name: "other"})
	time.Sleep(7 * time.Second) // the token's TTL passes with no traffic: the scenario itself, not a wait
	start := time.Now()
	if _, err := st.DeleteKey(ctx, other.Key.ID); err != nil {
		t.Fatalf("a write after the token expired: %v", err)
	}
	t.Logf("delete after expiry: %v", time.Since(start).Round(time.Millisecond))
	if res, err := st.Verify(ctx, VerifyRequest{Secret: c.Secret}); err != nil || !res.OK {
		t.Fatalf("verify after the token expired: %v %v", res.Reason, err)
	}
}

// Leaders of a three-member etcd 3.4 cluster are killed (SIGKILL) while
// four writers create keys: every create that succeeded printed a key that
// verifies, every one that failed says so in a sentence, and the store
// holds no key whose secret nobody saw.
func TestEtcd34LeaderKillsDuringCreates(t *testing.T) {
	if testing.Short() {
		t.Skip("etcd 3.4 processes in -short")
	}
	ps := etcdtest.StartProcs(t, 3, etcdtest.ProcOptions{})
	st := openEtcdAt(t, etcdtest.ProcURL(ps, "/kills"), Options{Actor: "alice"})
	st.Info(ctx)
	leader := func() int {
		for {
			for i, p := range ps {
				if !p.Running() {
					continue
				}
				c, err := clientv3.New(clientv3.Config{Endpoints: []string{p.Endpoint()}, DialTimeout: time.Second, Logger: zap.NewNop()})
				if err != nil {
					continue
				}
				sctx, cancel := context.WithTimeout(ctx, time.Second)
				s, err := c.Status(sctx, p.Endpoint())
				cancel()
				c.Close()
				if err == nil && s.Leader != 0 && s.Leader == s.Header.MemberId {
					return i
				}
			}
		}
	}
	var (
		mu       sync.Mutex
		secrets  []string
		failures []string
		stop     atomic.Bool
		wg       sync.WaitGroup
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				c, err := st.CreateKey(ctx, CreateRequest{Name: fmt.Sprintf("w%d-%d", w, i), Channel: "default", Environment: "prod"})
				mu.Lock()
				if err != nil {
					failures = append(failures, err.Error())
				} else {
					secrets = append(secrets, c.Secret)
				}
				mu.Unlock()
			}
		}()
	}
	landed := func() int { mu.Lock(); defer mu.Unlock(); return len(secrets) }
	const kills = 10
	for range kills {
		// Some creates land between kills: each kill meets writes in flight.
		for n := landed(); landed() < n+8; {
			time.Sleep(10 * time.Millisecond)
		}
		l := leader()
		ps[l].Kill()
		if err := ps[l].Start(); err != nil {
			t.Fatal(err)
		}
		if err := ps[l].WaitHealthy(60 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	stop.Store(true)
	wg.Wait()
	unknown := 0
	for _, f := range failures {
		if strings.Contains(f, "rpc error") || strings.Contains(f, "code =") {
			t.Errorf("a raw gRPC error: %s", f)
		}
		if strings.Contains(f, "could not find out") {
			unknown++
		}
	}
	ks, err := st.ListKeys(ctx, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d leader kills: %d creates printed a key, %d failed (%d unknown), %d keys stored", kills, len(secrets), len(failures), unknown, len(ks))
	for _, s := range secrets {
		if res, err := st.Verify(ctx, VerifyRequest{Secret: s}); err != nil || !res.OK {
			t.Fatalf("a printed key does not verify: %v %v", res.Reason, err)
		}
	}
	if len(ks) < len(secrets) || len(ks) > len(secrets)+unknown {
		t.Fatalf("%d keys stored for %d printed (and %d unknown): a refused create left a key", len(ks), len(secrets), unknown)
	}
	if len(failures) > 0 {
		t.Logf("for example: %s", failures[0])
	}
}

// With two of three etcd 3.4 members down, every error is one of keyden's
// sentences (3.4 answers some requests with gRPC's "Unknown: context
// deadline exceeded", which used to reach the user raw), and a write says
// nothing was changed.
func TestEtcd34NoQuorumErrorsAreSentences(t *testing.T) {
	if testing.Short() {
		t.Skip("etcd 3.4 processes in -short")
	}
	ps := etcdtest.StartProcs(t, 3, etcdtest.ProcOptions{HeartbeatMs: 50, ElectionMs: 500})
	st := openEtcdAt(t, etcdtest.ProcURL(ps, "/noquorum"), Options{Actor: "alice", Timeout: 500 * time.Millisecond})
	c := mustCreate(t, st, CreateRequest{})
	ps[1].Stop()
	ps[2].Stop()
	var errs []error
	for range 3 {
		_, err := st.ListKeys(ctx, Filter{})
		errs = append(errs, err)
		_, err = st.CreateKey(ctx, CreateRequest{Name: "no quorum", Channel: "default", Environment: "prod"})
		errs = append(errs, err)
		_, err = st.Verify(ctx, VerifyRequest{Secret: c.Secret})
		errs = append(errs, err)
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("call %d went through without a quorum", i)
			continue
		}
		if !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "rpc error") || strings.Contains(err.Error(), "code =") ||
			!strings.Contains(err.Error(), "majority of its members") {
			t.Errorf("call %d: %v", i, err)
		}
		if i%3 == 1 && !strings.Contains(err.Error(), "nothing was changed") {
			t.Errorf("a create without quorum: %v", err)
		}
	}
	t.Logf("for example: %v", errs[1])
}
