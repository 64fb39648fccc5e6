// Package etcdtest runs etcd members in the test process (etcd's own
// embed package), alone or as a cluster, for the tests of keyden's etcd
// store. Only tests import it.
package etcdtest

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"

	"keyden/internal/testutil"
)

// Member is one embedded etcd server.
type Member struct {
	cfg *embed.Config
	e   *embed.Etcd
}

func freeURL(t testing.TB) url.URL {
	return url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}
}

// Start starts n members as one cluster with data under dir; fsync off
// unless durable (benchmarks want the real cost).
func Start(t testing.TB, n int, dir string, durable bool) []*Member {
	return StartWith(t, n, dir, durable, nil)
}

// StartWith is Start with a hook to change each member's config (TLS).
func StartWith(t testing.TB, n int, dir string, durable bool, change func(*embed.Config)) []*Member {
	t.Helper()
	var ms []*Member
	var initial []string
	for i := 0; i < n; i++ {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("m%d", i)
		cfg.Dir = fmt.Sprintf("%s/%s", dir, cfg.Name)
		peer, client := freeURL(t), freeURL(t)
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
		cfg.LogLevel = "error"
		cfg.LogOutputs = []string{os.DevNull}
		cfg.UnsafeNoFsync = !durable
		if change != nil {
			change(cfg)
		}
		initial = append(initial, cfg.Name+"="+peer.String())
		ms = append(ms, &Member{cfg: cfg})
	}
	for _, m := range ms {
		m.cfg.InitialCluster = strings.Join(initial, ",")
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.start()
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return ms
}

func (m *Member) start() error {
	e, err := embed.StartEtcd(m.cfg)
	if err != nil {
		return err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		e.Close()
		return fmt.Errorf("etcd member %s did not start", m.cfg.Name)
	}
	m.e = e
	return nil
}

// Stop stops the member, keeping its data.
func (m *Member) Stop() { m.e.Close() }

// Restart brings a stopped member back with its data, into the existing cluster.
func (m *Member) Restart() error {
	m.cfg.ClusterState = embed.ClusterStateFlagExisting
	return m.start()
}

// Endpoint is host:port for clients.
func (m *Member) Endpoint() string { return m.cfg.AdvertiseClientUrls[0].Host }

// URL is an etcd:// store location on these members under prefix.
func URL(ms []*Member, prefix string) string {
	var hs []string
	for _, m := range ms {
		hs = append(hs, m.Endpoint())
	}
	return "etcd://" + strings.Join(hs, ",") + prefix
}
