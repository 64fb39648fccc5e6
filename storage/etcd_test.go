package storage

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// embedded etcd members for the tests, started once per test binary.
var (
	etcdOnce     sync.Once
	etcdEndpoint string
	etcdErr      error
	etcdPrefixes atomic.Int64
)

func freeURL(t testing.TB) url.URL {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	u, _ := url.Parse("http://" + ln.Addr().String())
	return *u
}

// etcdMember is one embedded etcd server.
type etcdMember struct {
	cfg *embed.Config
	e   *embed.Etcd
}

// startMembers starts n embedded etcd members as one cluster.
func startMembers(t testing.TB, n int, dir string) []*etcdMember {
	t.Helper()
	var ms []*etcdMember
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
		initial = append(initial, cfg.Name+"="+peer.String())
		ms = append(ms, &etcdMember{cfg: cfg})
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

func (m *etcdMember) start() error {
	e, err := embed.StartEtcd(m.cfg)
	if err != nil {
		return err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(30 * time.Second):
		e.Close()
		return fmt.Errorf("etcd member %s did not start", m.cfg.Name)
	}
	m.e = e
	return nil
}

func (m *etcdMember) stop() { m.e.Close() }

// restart brings a stopped member back with its data; the cluster exists now.
func (m *etcdMember) restart() error {
	m.cfg.ClusterState = embed.ClusterStateFlagExisting
	return m.start()
}

func (m *etcdMember) endpoint() string { return m.cfg.AdvertiseClientUrls[0].Host }

func sharedEtcd(t testing.TB) string {
	etcdOnce.Do(func() {
		dir, err := os.MkdirTemp("", "keyden-etcd-")
		if err != nil {
			etcdErr = err
			return
		}
		ms := startMembers(t, 1, dir)
		etcdEndpoint = ms[0].endpoint()
	})
	if etcdErr != nil {
		t.Fatal(etcdErr)
	}
	return etcdEndpoint
}

// newEtcdStore is a store under a fresh prefix of the shared etcd.
func newEtcdStore(t testing.TB, opt Options) *Etcd {
	t.Helper()
	if opt.Actor == "" {
		opt.Actor = "alice"
	}
	loc := fmt.Sprintf("etcd://%s/t%d", sharedEtcd(t), etcdPrefixes.Add(1))
	return openEtcdAt(t, loc, opt)
}

func openEtcdAt(t testing.TB, loc string, opt Options) *Etcd {
	t.Helper()
	cfg, err := ParseEtcdURL(loc, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := OpenEtcd(cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func reopenEtcd(t testing.TB, e *Etcd, opt Options) testStore {
	return openEtcdAt(t, e.Location(), opt)
}

// The storage suite, run again against etcd: the same tests, the other backend.
func TestEtcdSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd in -short")
	}
	sharedEtcd(t)
	suite := map[string]func(*testing.T){
		"NewStoreDefaults": TestNewStoreDefaults, "CreateFormats": TestCreateFormats, "VerifyReasons": TestVerifyReasons,
		"DeleteThenVerifyIsUnknown": TestDeleteThenVerifyIsUnknown, "ListFilters": TestListFilters,
		"ChannelsAndEnvironments": TestChannelsAndEnvironments, "AuditRecordsChanges": TestAuditRecordsChanges,
		"ConcurrentCreatesAllLand": TestConcurrentCreatesAllLand, "GenerationChangesOnWrites": TestGenerationChangesOnWrites,
		"RotationAcrossTheGraceBoundary": TestRotationAcrossTheGraceBoundary, "RotateNowAndEarlierExpiryWins": TestRotateNowAndEarlierExpiryWins,
		"DisableAndEnable": TestDisableAndEnable, "ExpiryIsAuditedOnceAtFirstRefusal": TestExpiryIsAuditedOnceAtFirstRefusal,
		"RolesAtTheStore": TestRolesAtTheStore, "AuditOfEachAction": TestAuditOfEachAction, "ReviewFilters": TestReviewFilters,
		"ChangeFeedFollowsEveryRuleChange":        TestChangeFeedFollowsEveryRuleChange,
		"RecordUsesMergesLatestTimeAndAddsCounts": TestRecordUsesMergesLatestTimeAndAddsCounts,
		"RecordUsesLogsExpiryOnce":                TestRecordUsesLogsExpiryOnce,
	}
	currentBackend = "etcd"
	defer func() { currentBackend = "bolt" }()
	for name, fn := range suite {
		t.Run(name, fn)
	}
}

func TestParseEtcdURL(t *testing.T) {
	env := map[string]string{"KEYDEN_ETCD_PASSWORD": "s3cret"}
	cfg, err := ParseEtcdURL("etcd://ann@10.0.0.1:2379,10.0.0.2/prod/keys", func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.Endpoints, ",") != "http://10.0.0.1:2379,http://10.0.0.2:2379" || cfg.Prefix != "/prod/keys" ||
		cfg.Username != "ann" || cfg.Password != "s3cret" || cfg.TLS {
		t.Fatalf("%+v", cfg)
	}
	if c, _ := ParseEtcdURL("etcds://h:1", nil); !c.TLS || c.Endpoints[0] != "https://h:1" || c.Prefix != "/keyden" {
		t.Fatalf("etcds: %+v", c)
	}
	for _, bad := range []string{"etcd://", "etcd://ann:pw@h:2379/x", "etcd://h1,,h2/x"} {
		if _, err := ParseEtcdURL(bad, nil); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
