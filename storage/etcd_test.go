package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"keyden/internal/etcdtest"
	"keyden/internal/testutil"
)

// embedded etcd members for the tests, started once per test binary.
var (
	etcdOnce     sync.Once
	etcdEndpoint string
	etcdErr      error
	etcdPrefixes atomic.Int64
	etcdDir      string
	etcdMember   *etcdtest.Member
)

func sharedEtcd(t testing.TB) string {
	etcdOnce.Do(func() {
		etcdDir, etcdErr = testutil.ProcessTempDir("keyden-etcd")
		if etcdErr != nil {
			return
		}
		etcdMember = etcdtest.Start(t, 1, etcdDir, false)[0]
		etcdEndpoint = etcdMember.Endpoint()
	})
	if etcdErr != nil {
		t.Fatal(etcdErr)
	}
	return etcdEndpoint
}

// stopSharedEtcd stops the shared member and removes its data (about
// 185 MB), which each test binary left in the temp folder before.
func stopSharedEtcd() {
	if etcdMember != nil {
		etcdMember.Stop()
	}
	if etcdDir != "" {
		os.RemoveAll(etcdDir)
	}
}

// The shared etcd's data goes when the test binary ends.
func TestSharedEtcdLeavesNothingBehind(t *testing.T) {
	if os.Getenv("KEYDEN_TEST_SHARED_ETCD") != "" {
		sharedEtcd(t)
		return
	}
	tmp := t.TempDir()
	bin := testutil.Command(os.Args[0], "-test.run=^TestSharedEtcdLeavesNothingBehind$")
	bin.Env = append(os.Environ(), "KEYDEN_TEST_SHARED_ETCD=1", "TMPDIR="+tmp)
	if out, err := bin.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Fatalf("left in the temp folder: %v", left)
	}
}

// Etcd is what these tests use of an etcd store. The store itself is in
// storage/etcdstore, which imports this package, so this package's own
// tests cannot import it: etcdhook_test.go (package storage_test) sets
// openEtcd to etcdstore.Open before any test runs.
type Etcd interface {
	testStore
	keyCreator
	Close() error
	Client() *clientv3.Client
	WatchChanges(ctx context.Context) <-chan WatchSignal
	WrapCommits(func(clientv3.Txn) clientv3.Txn)
}

var openEtcd func(EtcdConfig, Options) (Etcd, error)

// SetOpenEtcd is how etcdhook_test.go hands this package's tests etcdstore.Open.
func SetOpenEtcd(open func(EtcdConfig, Options) (Etcd, error)) { openEtcd = open }

// OpenEtcd opens an etcd store for these tests.
func OpenEtcd(cfg EtcdConfig, opt Options) (Etcd, error) { return openEtcd(cfg, opt) }

// suiteEndpoint, when set, is the etcd newEtcdStore uses instead of the
// shared embedded one (TestEtcdSuite sets a real 3.4 process).
var suiteEndpoint string

// newEtcdStore is a store under a fresh prefix of the shared etcd.
func newEtcdStore(t testing.TB, opt Options) Etcd {
	t.Helper()
	if opt.Actor == "" {
		opt.Actor = "alice"
	}
	ep := suiteEndpoint
	if ep == "" {
		ep = sharedEtcd(t)
	}
	loc := fmt.Sprintf("etcd://%s/t%d", ep, etcdPrefixes.Add(1))
	return openEtcdAt(t, loc, opt)
}

func openEtcdAt(t testing.TB, loc string, opt Options) Etcd {
	t.Helper()
	st, _ := openEtcdWithEnv(t, loc, nil, opt)
	return st
}

// openEtcdWithEnv opens loc with the KEYDEN_ETCD_* settings in env, closes
// the store when the test ends, and returns the configuration it used.
func openEtcdWithEnv(t testing.TB, loc string, env map[string]string, opt Options) (Etcd, EtcdConfig) {
	t.Helper()
	cfg, err := ParseEtcdURL(loc, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	st, err := OpenEtcd(cfg, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, cfg
}

func reopenEtcd(t testing.TB, e Etcd, opt Options) testStore {
	return openEtcdAt(t, e.Location(), opt)
}

// etcdSuite is the storage suite's tests that run again against etcd:
// the same tests, the other backend.
func etcdSuite() map[string]func(*testing.T) {
	return map[string]func(*testing.T){
		"AppliedLeakReportsAreBounded": TestAppliedLeakReportsAreBounded,
		"NewStoreDefaults":             TestNewStoreDefaults, "CreateFormats": TestCreateFormats, "VerifyReasons": TestVerifyReasons,
		"DeleteThenVerifyIsUnknown": TestDeleteThenVerifyIsUnknown, "ListFilters": TestListFilters,
		"ChannelsAndEnvironments": TestChannelsAndEnvironments, "AuditRecordsChanges": TestAuditRecordsChanges,
		"ConcurrentCreatesAllLand": TestConcurrentCreatesAllLand, "GenerationChangesOnWrites": TestGenerationChangesOnWrites,
		"RotationAcrossTheGraceBoundary": TestRotationAcrossTheGraceBoundary, "RotateNowAndEarlierExpiryWins": TestRotateNowAndEarlierExpiryWins,
		"DisableAndEnable": TestDisableAndEnable, "ExpiryIsAuditedOnceAtFirstRefusal": TestExpiryIsAuditedOnceAtFirstRefusal,
		"RolesAtTheStore": TestRolesAtTheStore, "MemberSSHKeys": TestMemberSSHKeys, "AuditOfEachAction": TestAuditOfEachAction, "ReviewFilters": TestReviewFilters,
		"ChangeFeedFollowsEveryRuleChange":          TestChangeFeedFollowsEveryRuleChange,
		"RecordUsesMergesLatestTimeAndAddsCounts":   TestRecordUsesMergesLatestTimeAndAddsCounts,
		"RecordUsesLogsExpiryOnce":                  TestRecordUsesLogsExpiryOnce,
		"UpdatesFollowRulesAndUses":                 TestUpdatesFollowRulesAndUses,
		"UpdatesAskForASnapshot":                    TestUpdatesAskForASnapshotWhenTheyCannotContinue,
		"UsageJournalStaysBounded":                  TestUsageJournalStaysBounded,
		"FeedHeadIsWhereTheFeedStands":              TestFeedHeadIsWhereTheFeedStands,
		"CheckOfASoundStore":                        TestCheckOfASoundStore,
		"RecordLeak":                                TestRecordLeakAuditsAndFollowsTheRoles,
		"VerifyCountsUsesPerDay":                    TestVerifyCountsUsesPerDay,
		"RecordUsesCountsPerDay":                    TestRecordUsesCountsPerDay,
		"ChangeKeysAuditsEachKeyAndReportsRefusals": TestChangeKeysAuditsEachKeyAndReportsRefusals,
		"StreamsAreListKeysAndAudit":                TestStreamsAreListKeysAndAudit,
		"ChangeKeysByFilterRotatesDeletesAndMoves":  TestChangeKeysByFilterRotatesDeletesAndMoves,
		"Decoy":                                TestDecoyIsRefusedAsUnknownAndAlerts,
		"VerifierHeartbeats":                   TestVerifierHeartbeats,
		"AuditStreamWalksTheLogNotTheSequence": TestAuditStreamWalksTheLogNotTheSequence,
	}
}

// The storage suite against each etcd keyden meets: the embedded 3.6 server
// keyden links, and Debian's etcd 3.4 as a real server process.
func TestEtcdSuite(t *testing.T) {
	if testing.Short() {
		t.Skip("etcd servers in -short")
	}
	for _, server := range []struct {
		name  string
		start func(t *testing.T) string // an endpoint
	}{
		{"embedded 3.6", func(t *testing.T) string { return sharedEtcd(t) }},
		{"etcd 3.4", func(t *testing.T) string {
			return etcdtest.StartProcs(t, 1, etcdtest.ProcOptions{NoFsync: true})[0].Endpoint()
		}},
	} {
		t.Run(server.name, func(t *testing.T) {
			suiteEndpoint = server.start(t)
			currentBackend = "etcd"
			defer func() { suiteEndpoint, currentBackend = "", "bolt" }()
			for name, fn := range etcdSuite() {
				t.Run(name, fn)
			}
		})
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
	for _, bad := range []string{"etcd://", "etcd://ann:pw@h:2379/x", "etcd://h1,,h2/x", "etcds://keyden:s3cr3t-pw@h1:2379/k", "etcd://u:s3cr3t-pw@h@x/y?"} {
		_, err := ParseEtcdURL(bad, nil)
		if err == nil {
			t.Errorf("%q accepted", bad)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("%q: the refusal shows the password: %v", bad, err)
		}
	}
}

// etcd with authentication: keyden signs in with KEYDEN_ETCD_USER/PASSWORD,
// and without them gets one sentence, not a hang.
func TestEtcdWithPassword(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd in -short")
	}
	ms := etcdtest.Start(t, 1, t.TempDir(), false)
	defer ms[0].Stop()
	// Before auth is on, a user name proves nothing: the actor stays local.
	unchecked, err := ParseEtcdURL(strings.Replace(etcdtest.URL(ms, "/auth"), "etcd://", "etcd://mallory@", 1), func(k string) string { return map[string]string{"KEYDEN_ETCD_PASSWORD": "any"}[k] })
	if err != nil {
		t.Fatal(err)
	}
	if st, err := OpenEtcd(unchecked, Options{Actor: "alice"}); err != nil || st.Actor() != "alice" {
		t.Fatalf("a user name etcd did not check became the actor: %v", err)
	} else {
		st.Close()
	}
	admin := openEtcdAt(t, etcdtest.URL(ms, "/auth"), Options{Actor: "alice"})
	cli := admin.Client()
	for _, step := range []func() error{
		func() error { _, err := cli.UserAdd(ctx, "root", "rootpw"); return err },
		func() error { _, err := cli.UserGrantRole(ctx, "root", "root"); return err },
		func() error { _, err := cli.AuthEnable(ctx); return err },
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	cfg := createAndVerifyWithEnv(t, etcdtest.URL(ms, "/auth"), map[string]string{"KEYDEN_ETCD_USER": "root", "KEYDEN_ETCD_PASSWORD": "rootpw"})
	// The actor is the etcd user, not the local account (Options.Actor).
	st, err := OpenEtcd(cfg, Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if ks, err := st.ListKeys(ctx, Filter{}); err != nil || len(ks) != 1 || ks[0].CreatedBy != "root" || st.Actor() != "root" {
		t.Fatalf("on etcd with a login the actor is the etcd user: %v %+v %q", err, ks, st.Actor())
	}
	cfg.Password = "wrong"
	err = firstOpError(cfg)
	t.Logf("wrong password: %v", err)
	if !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "rootpw") || !strings.Contains(err.Error(), "KEYDEN_ETCD_PASSWORD") {
		t.Fatalf("a wrong password: %v", err)
	}
	// A login is not an unreachable server: the sentence names the password.
	if strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("a refused login reported as an unreachable server: %v", err)
	}
}

func FuzzParseEtcdURL(f *testing.F) {
	for _, s := range []string{"etcd://h:2379/p", "etcds://a@h1,h2/x/y", "etcd://", "etcd://u:p@h/x", "file.db"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := ParseEtcdURL(s, nil)
		if err != nil {
			return
		}
		if len(cfg.Endpoints) == 0 || !strings.HasPrefix(cfg.Prefix, "/") || cfg.Password != "" {
			t.Fatalf("%q accepted as %+v", s, cfg)
		}
		for _, ep := range cfg.Endpoints {
			if !strings.HasPrefix(ep, "http://") && !strings.HasPrefix(ep, "https://") {
				t.Fatalf("endpoint %q", ep)
			}
		}
	})
}

// createAndVerifyWithEnv opens loc with the KEYDEN_ETCD_* settings in env,
// creates a key and verifies it, and returns the configuration it used.
func createAndVerifyWithEnv(t *testing.T, loc string, env map[string]string) EtcdConfig {
	t.Helper()
	st, cfg := openEtcdWithEnv(t, loc, env, Options{Actor: "alice"})
	c := mustCreate(t, st, CreateRequest{})
	if res, err := st.Verify(ctx, VerifyRequest{Secret: c.Secret}); err != nil || !res.OK {
		t.Fatalf("verify on %s: %v %v", loc, res, err)
	}
	return cfg
}

// firstOpError is what keyden says when it opens cfg and lists keys.
func firstOpError(cfg EtcdConfig) error {
	st, err := OpenEtcd(cfg, Options{Actor: "alice", Timeout: time.Second})
	if err != nil {
		return err
	}
	defer st.Close()
	_, err = st.ListKeys(ctx, Filter{})
	return err
}

// fakeWatcher stands in for etcd's watch API: each Watch is recorded with
// the revision it starts from and answered by the test.
type fakeWatcher struct {
	calls chan fakeWatch
}

type fakeWatch struct {
	rev  int64
	resp chan clientv3.WatchResponse
}

func (w *fakeWatcher) Watch(ctx context.Context, key string, opts ...clientv3.OpOption) clientv3.WatchChan {
	c := fakeWatch{rev: clientv3.OpGet(key, opts...).Rev(), resp: make(chan clientv3.WatchResponse)}
	w.calls <- c
	out := make(chan clientv3.WatchResponse)
	go func() {
		defer close(out)
		for r := range c.resp {
			select {
			case out <- r:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
func (w *fakeWatcher) RequestProgress(context.Context) error { return nil }
func (w *fakeWatcher) Close() error                          { return nil }

// A watch that ends is re-created from the revision after the last event
// it delivered (not "now", which would skip a commit made meanwhile), a
// signal follows once the new watch is in place, and a resume point etcd
// has compacted away asks for a full reload.
func TestWatchResumesFromTheLastRevisionSeen(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd in -short")
	}
	st := newEtcdStore(t, Options{})
	fw := &fakeWatcher{calls: make(chan fakeWatch)}
	st.Client().Watcher = fw
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	signals := st.WatchChanges(wctx)
	next := func(what string) fakeWatch {
		t.Helper()
		select {
		case c := <-fw.calls:
			return c
		case <-time.After(10 * time.Second):
			t.Fatalf("no watch for %s", what)
			return fakeWatch{}
		}
	}
	expect := func(want WatchSignal) {
		t.Helper()
		select {
		case got := <-signals:
			if got != want {
				t.Fatalf("signal %+v, want %+v", got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no signal, want %+v", want)
		}
	}
	event := func(rev int64) *clientv3.Event {
		return &clientv3.Event{Kv: &mvccpb.KeyValue{ModRevision: rev}}
	}
	first := next("the start")
	if first.rev != 0 {
		t.Fatalf("the first watch starts at %d, want now", first.rev)
	}
	first.resp <- clientv3.WatchResponse{Created: true, Header: etcdserverpb.ResponseHeader{Revision: 10}}
	expect(WatchSignal{Watching: true})
	first.resp <- clientv3.WatchResponse{Events: []*clientv3.Event{event(11), event(12)}, Header: etcdserverpb.ResponseHeader{Revision: 40}}
	expect(WatchSignal{Watching: true, Rev: 12})
	close(first.resp) // the watch ends: no leader, say
	expect(WatchSignal{Rev: 12})

	second := next("the resume")
	if second.rev != 13 {
		t.Fatalf("the watch resumed at %d, want 13 (after the last event it delivered)", second.rev)
	}
	second.resp <- clientv3.WatchResponse{Created: true, Header: etcdserverpb.ResponseHeader{Revision: 50}}
	expect(WatchSignal{Watching: true, Rev: 12})
	second.resp <- clientv3.WatchResponse{CompactRevision: 30, Canceled: true}
	select { // the signal that the watch ended may be merged into this one
	case got := <-signals:
		if !got.Reload {
			t.Fatalf("after a compaction: %+v, want a reload", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no signal after a compaction")
	}
	if third := next("after the compaction"); third.rev != 30 {
		t.Fatalf("after a compaction the watch resumed at %d, want 30", third.rev)
	}
}
