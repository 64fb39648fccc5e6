package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"keyden/keygen"
	"keyden/model"
)

var ctx = context.Background()

// clock is an injectable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)} }

func newStore(t testing.TB, opt Options) *Bolt {
	t.Helper()
	if opt.Actor == "" {
		opt.Actor = "alice"
	}
	st, err := OpenBolt(filepath.Join(t.TempDir(), "keyden.db"), opt)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// testStore is what the shared suite uses of a store, whichever backend.
type testStore interface {
	Store
}

// currentBackend is the backend newAny makes: "bolt", or "etcd" while
// TestEtcdSuite runs the same tests again.
var currentBackend = "bolt"

// newAny makes an empty store on the current backend.
func newAny(t testing.TB, opt Options) testStore {
	t.Helper()
	if currentBackend == "etcd" {
		return newEtcdStore(t, opt)
	}
	return newStore(t, opt)
}

// reopen is another handle on st's store, as another process would have.
func reopen(t testing.TB, st testStore, opt Options) testStore {
	t.Helper()
	if e, ok := st.(Etcd); ok {
		return reopenEtcd(t, e, opt)
	}
	b, err := OpenBolt(st.Location(), opt)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustCreate(t testing.TB, st Store, req CreateRequest) Created {
	t.Helper()
	if req.Name == "" {
		req.Name = "test key"
	}
	if req.Channel == "" {
		req.Channel = "default"
	}
	if req.Environment == "" {
		req.Environment = "prod"
	}
	c, err := st.CreateKey(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fileSum(t testing.TB, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func TestNewStoreDefaults(t *testing.T) {
	st := newAny(t, Options{})
	in, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if in.Prefix != "kd" || in.Format != keygen.FormatDefault || in.CreatedBy != "alice" || in.Schema != SchemaVersion {
		t.Fatalf("info %+v", in)
	}
	envs, _ := st.Environments(ctx)
	var names []string
	for _, e := range envs {
		names = append(names, e.Name+"/"+e.Tag)
	}
	if strings.Join(names, ",") != "dev/dev,staging/stg,prod/prod" {
		t.Fatalf("environments %v", names)
	}
	chs, _ := st.Channels(ctx)
	if len(chs) != 1 || chs[0].Name != "default" {
		t.Fatalf("channels %v", chs)
	}
	ms, _ := st.Members(ctx)
	if len(ms) != 1 || ms[0].User != "alice" || ms[0].Role != model.RoleSuperAdmin {
		t.Fatalf("members %v", ms)
	}
}

func TestFileAndFolderModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "new", "folder")
	st, err := OpenBolt(filepath.Join(dir, "k.db"), Options{Actor: "a", MakeFolders: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Info(ctx); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Dir(dir): 0o700, st.Path(): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
}

func TestCreateFormats(t *testing.T) {
	tests := []struct {
		format keygen.Format
		prefix string
		env    string
		length int
	}{
		{keygen.FormatDefault, "kd", "prod", 64},
		{keygen.FormatDefault, "kd", "staging", 64},
		{keygen.FormatCompact, "kd", "prod", 40},
		{keygen.FormatCompact, "acme", "dev", 40},
	}
	for _, tt := range tests {
		st := newAny(t, Options{Format: tt.format, Prefix: tt.prefix})
		c := mustCreate(t, st, CreateRequest{Environment: tt.env})
		if len(c.Secret) != tt.length {
			t.Errorf("%s/%s: key %q has %d characters, want %d", tt.format, tt.prefix, c.Secret, len(c.Secret), tt.length)
		}
		if !strings.HasPrefix(c.Secret, tt.prefix+"_") {
			t.Errorf("key %q lacks prefix %s", c.Secret, tt.prefix)
		}
		if _, err := keygen.Parse(c.Secret); err != nil {
			t.Error(err)
		}
	}
}

func TestOnlyTheHashIsStored(t *testing.T) {
	st := newStore(t, Options{})
	c := mustCreate(t, st, CreateRequest{Name: "secret holder"})
	raw, err := os.ReadFile(st.Path())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(c.Secret)) {
		t.Fatal("the secret is in the store file")
	}
	body := c.Secret[8 : len(c.Secret)-6]
	if bytes.Contains(raw, []byte(body[10:30])) {
		t.Fatal("part of the secret's body is in the store file")
	}
	h := keygen.HashKey(c.Secret)
	if !bytes.Contains(raw, h[:]) {
		t.Fatal("the hash is not in the store file")
	}
	if c.Key.Hash != h {
		t.Fatal("record hash differs")
	}
}

func TestCreateRefusalsLeaveStoreUnchanged(t *testing.T) {
	st := newStore(t, Options{})
	mustCreate(t, st, CreateRequest{})
	before := fileSum(t, st.Path())
	tests := []struct {
		name string
		req  CreateRequest
		kind error
	}{
		{"unknown channel", CreateRequest{Name: "x", Channel: "nope", Environment: "prod"}, ErrNotFound},
		{"unknown env", CreateRequest{Name: "x", Channel: "default", Environment: "qa"}, ErrNotFound},
		{"empty name", CreateRequest{Name: " ", Channel: "default", Environment: "prod"}, ErrInvalid},
		{"control name", CreateRequest{Name: "a\x1bb", Channel: "default", Environment: "prod"}, ErrInvalid},
		{"long name", CreateRequest{Name: strings.Repeat("n", 65), Channel: "default", Environment: "prod"}, ErrInvalid},
		{"bad scope", CreateRequest{Name: "x", Channel: "default", Environment: "prod", Scopes: []string{"A B"}}, ErrInvalid},
		{"bad ip", CreateRequest{Name: "x", Channel: "default", Environment: "prod", AllowedIPs: []string{"10.0.0.1/8"}}, ErrInvalid},
		{"bad type", CreateRequest{Name: "x", Channel: "default", Environment: "prod", Type: "basic"}, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := st.CreateKey(ctx, tt.req)
			if !errors.Is(err, tt.kind) {
				t.Fatalf("got %v, want %v", err, tt.kind)
			}
			if fileSum(t, st.Path()) != before {
				t.Fatal("the store changed")
			}
		})
	}
}

func TestVerifyReasons(t *testing.T) {
	clk := newClock()
	st := newAny(t, Options{Now: clk.Now})
	plain := mustCreate(t, st, CreateRequest{Name: "plain"})
	scoped := mustCreate(t, st, CreateRequest{Name: "scoped", Scopes: []string{"posts:*", "users:read"}})
	fenced := mustCreate(t, st, CreateRequest{Name: "fenced", AllowedIPs: []string{"10.0.0.0/8", "2001:db8::/32"}})
	expiring := mustCreate(t, st, CreateRequest{Name: "expiring", ExpiresAt: clk.Now().Add(time.Hour)})
	dev := mustCreate(t, st, CreateRequest{Name: "dev key", Environment: "dev"})
	gone := mustCreate(t, st, CreateRequest{Name: "gone"})
	if _, err := st.DeleteKey(ctx, gone.Key.ID); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Hour)
	wrongSum := plain.Secret[:len(plain.Secret)-1] + "0"
	if wrongSum == plain.Secret {
		wrongSum = plain.Secret[:len(plain.Secret)-1] + "1"
	}
	ip := netip.MustParseAddr
	tests := []struct {
		name string
		req  VerifyRequest
		ok   bool
		want model.Reason
	}{
		{"plain ok", VerifyRequest{Secret: plain.Secret}, true, ""},
		{"plain ok with env name", VerifyRequest{Secret: plain.Secret, Environment: "prod"}, true, ""},
		{"plain ok with env tag", VerifyRequest{Secret: dev.Secret, Environment: "dev"}, true, ""},
		{"malformed shape", VerifyRequest{Secret: "hello"}, false, model.ReasonMalformed},
		{"malformed checksum", VerifyRequest{Secret: wrongSum}, false, model.ReasonMalformed},
		{"unknown (deleted)", VerifyRequest{Secret: gone.Secret}, false, model.ReasonUnknown},
		{"unknown (never issued)", VerifyRequest{Secret: mustGen(t)}, false, model.ReasonUnknown},
		{"wrong environment", VerifyRequest{Secret: dev.Secret, Environment: "prod"}, false, model.ReasonWrongEnv},
		{"expired", VerifyRequest{Secret: expiring.Secret}, false, model.ReasonExpired},
		{"scope exact", VerifyRequest{Secret: scoped.Secret, Scope: "users:read"}, true, ""},
		{"scope wildcard", VerifyRequest{Secret: scoped.Secret, Scope: "posts:write"}, true, ""},
		{"scope missing", VerifyRequest{Secret: scoped.Secret, Scope: "users:write"}, false, model.ReasonScopeMissing},
		{"no scopes at all", VerifyRequest{Secret: plain.Secret, Scope: "posts:read"}, false, model.ReasonScopeMissing},
		{"ip in v4 range", VerifyRequest{Secret: fenced.Secret, ClientIP: ip("10.9.8.7")}, true, ""},
		{"ip in v6 range", VerifyRequest{Secret: fenced.Secret, ClientIP: ip("2001:db8::5")}, true, ""},
		{"ip outside", VerifyRequest{Secret: fenced.Secret, ClientIP: ip("192.0.2.1")}, false, model.ReasonIPNotAllowed},
		{"ip missing", VerifyRequest{Secret: fenced.Secret}, false, model.ReasonIPNotAllowed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := st.Verify(ctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if res.OK != tt.ok || res.Reason != tt.want {
				t.Fatalf("got ok=%v reason=%q (%s), want ok=%v reason=%q", res.OK, res.Reason, res.Detail, tt.ok, tt.want)
			}
			if !tt.ok && res.Detail == "" {
				t.Fatal("a refusal without a detail")
			}
		})
	}
	if _, err := st.Verify(ctx, VerifyRequest{Secret: plain.Secret, Environment: "qa"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown --env: %v", err)
	}
}

func mustGen(t *testing.T) string {
	k, err := keygen.Generate(keygen.FormatDefault, "kd", "prod")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestVerifyRecordsLastUsedOnlyOnSuccess(t *testing.T) {
	clk := newClock()
	st := newStore(t, Options{Now: clk.Now})
	c := mustCreate(t, st, CreateRequest{Environment: "dev"})
	before := fileSum(t, st.Path())
	if res, _ := st.Verify(ctx, VerifyRequest{Secret: c.Secret, Environment: "prod"}); res.OK {
		t.Fatal("wrong env accepted")
	}
	if fileSum(t, st.Path()) != before {
		t.Fatal("a refused verify changed the store")
	}
	clk.Advance(time.Minute)
	for i := 0; i < 3; i++ {
		if res, err := st.Verify(ctx, VerifyRequest{Secret: c.Secret, ClientIP: netip.MustParseAddr("::ffff:192.0.2.9")}); err != nil || !res.OK {
			t.Fatal(res, err)
		}
	}
	k, err := st.GetKey(ctx, c.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if k.UseCount != 3 || !k.LastUsedAt.Equal(clk.Now()) || k.LastUsedFrom != "192.0.2.9" {
		t.Fatalf("last used not recorded: %+v", k)
	}
}

func TestDeleteThenVerifyIsUnknown(t *testing.T) {
	st := newAny(t, Options{})
	c := mustCreate(t, st, CreateRequest{})
	if res, _ := st.Verify(ctx, VerifyRequest{Secret: c.Secret}); !res.OK {
		t.Fatal("fresh key refused")
	}
	if _, err := st.DeleteKey(ctx, c.Key.ID); err != nil {
		t.Fatal(err)
	}
	if res, _ := st.Verify(ctx, VerifyRequest{Secret: c.Secret}); res.Reason != model.ReasonUnknown {
		t.Fatalf("deleted key: %+v", res)
	}
	if _, err := st.DeleteKey(ctx, c.Key.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if in, _ := st.Info(ctx); in.Keys != 0 {
		t.Fatalf("key count %d after delete", in.Keys)
	}
}

func TestListFilters(t *testing.T) {
	st := newAny(t, Options{})
	for _, c := range []string{"mobile", "empty"} {
		if _, err := st.AddChannel(ctx, model.Channel{Name: c}); err != nil {
			t.Fatal(err)
		}
	}
	mustCreate(t, st, CreateRequest{Name: "a", Channel: "default", Environment: "prod"})
	mustCreate(t, st, CreateRequest{Name: "b", Channel: "mobile", Environment: "prod"})
	mustCreate(t, st, CreateRequest{Name: "c", Channel: "mobile", Environment: "stg"})
	tests := []struct {
		f    Filter
		want int
	}{
		{Filter{}, 3}, {Filter{Channel: "mobile"}, 2}, {Filter{Environment: "prod"}, 2},
		{Filter{Environment: "staging"}, 1}, {Filter{Channel: "mobile", Environment: "prod"}, 1},
		{Filter{Channel: "empty"}, 0},
	}
	for _, tt := range tests {
		keys, err := st.ListKeys(ctx, tt.f)
		if err != nil || len(keys) != tt.want {
			t.Errorf("%+v: %d keys, %v; want %d", tt.f, len(keys), err, tt.want)
		}
	}
	if _, err := st.ListKeys(ctx, Filter{Environment: "qa"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown env filter: %v", err)
	}
	// An unknown channel is refused like an unknown environment, not listed as empty.
	if _, err := st.ListKeys(ctx, Filter{Channel: "nobody"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown channel filter: %v", err)
	}
}

func TestChannelsAndEnvironments(t *testing.T) {
	st := newAny(t, Options{})
	if _, err := st.AddChannel(ctx, model.Channel{Name: "partner-a", Description: "Partner A"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddChannel(ctx, model.Channel{Name: "partner-a"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate channel: %v", err)
	}
	if _, err := st.AddChannel(ctx, model.Channel{Name: "Bad Name"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad channel: %v", err)
	}
	e, err := st.AddEnvironment(ctx, model.Environment{Name: "qa"})
	if err != nil || e.Tag != "qa" || e.Order != 4 {
		t.Fatalf("add env: %+v %v", e, err)
	}
	if _, err := st.AddEnvironment(ctx, model.Environment{Name: "preprod", Tag: "stg"}); !errors.Is(err, ErrExists) {
		t.Fatalf("duplicate tag: %v", err)
	}
	mustCreate(t, st, CreateRequest{Channel: "partner-a", Environment: "qa"})
	mustCreate(t, st, CreateRequest{Channel: "partner-a", Environment: "qa"})
	err = st.RemoveChannel(ctx, "partner-a")
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "2 keys") {
		t.Fatalf("rm used channel: %v", err)
	}
	// Not "move them": keyden move changes a key's channel, never its
	// environment (it said "delete or move them first").
	err = st.RemoveEnvironment(ctx, "qa")
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "is used by 2 keys: delete them first (keyden delete --filter env:qa)") ||
		strings.Contains(err.Error(), "move") {
		t.Fatalf("rm used env: %v", err)
	}
	keys, _ := st.ListKeys(ctx, Filter{Channel: "partner-a"})
	for _, k := range keys {
		if _, err := st.DeleteKey(ctx, k.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.RemoveChannel(ctx, "partner-a"); err != nil {
		t.Fatal(err)
	}
	if err := st.RemoveEnvironment(ctx, "qa"); err != nil {
		t.Fatal(err)
	}
	if err := st.RemoveChannel(ctx, "partner-a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rm missing channel: %v", err)
	}
	c := mustCreate(t, st, CreateRequest{Environment: "prod"})
	if !strings.HasPrefix(c.Secret, "kd_prod_") {
		t.Fatal(c.Secret)
	}
}

func TestAuditRecordsChanges(t *testing.T) {
	st := newAny(t, Options{Actor: "bob"})
	c := mustCreate(t, st, CreateRequest{Name: "audited"})
	if _, err := st.DeleteKey(ctx, c.Key.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddChannel(ctx, model.Channel{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	evs, err := st.Audit(ctx, AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		got = append(got, e.Action+":"+e.KeyName+":"+e.Actor)
	}
	if want := "channel-add::bob,delete:audited:bob,create:audited:bob,init::bob"; strings.Join(got, ",") != want {
		t.Fatalf("audit %v, want %s", got, want)
	}
	evs, _ = st.Audit(ctx, AuditFilter{KeyID: c.Key.ID})
	if len(evs) != 2 {
		t.Fatalf("key filter: %d events", len(evs))
	}
	// MaxScan bounds the read, matched events or not: the newest two are
	// channel-add and the delete, so only the delete is the key's.
	evs, _ = st.Audit(ctx, AuditFilter{KeyID: c.Key.ID, MaxScan: 2})
	if len(evs) != 1 || evs[0].Action != model.ActionDelete {
		t.Fatalf("MaxScan 2: %v", evs)
	}
}

func TestRefusedStores(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 1000), 0o600)
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o600)
	foreign := filepath.Join(dir, "foreign.db")
	db, err := bolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("other")); return err })
	db.Close()
	newer := filepath.Join(dir, "newer.db")
	st, _ := OpenBolt(newer, Options{Actor: "a"})
	mustCreate(t, st, CreateRequest{})
	db, err = bolt.Open(newer, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Put(metaSchema, []byte("99")) })
	db.Close()

	tests := []struct {
		path string
		kind error
		says string
	}{
		{garbage, ErrNotStore, "is not a keyden store"},
		{empty, ErrNotStore, "empty file"},
		{foreign, ErrNotStore, "not a keyden store"},
		{newer, ErrNewerSchema, "newer keyden (schema 99"},
		{dir, ErrNotStore, "is a directory"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			var before [32]byte
			if fi, _ := os.Stat(tt.path); !fi.IsDir() {
				before = fileSum(t, tt.path)
			}
			st, err := OpenBolt(tt.path, Options{Actor: "a"})
			if err != nil {
				t.Fatal(err)
			}
			for _, op := range []func() error{
				func() error { _, err := st.ListKeys(ctx, Filter{}); return err },
				func() error {
					_, err := st.CreateKey(ctx, CreateRequest{Name: "x", Channel: "default", Environment: "prod"})
					return err
				},
			} {
				err := op()
				if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.says) {
					t.Fatalf("got %v, want %v saying %q", err, tt.kind, tt.says)
				}
				if strings.Count(err.Error(), ":") > 2 || strings.Contains(err.Error(), "\n") {
					t.Fatalf("not one sentence: %q", err)
				}
			}
			if fi, _ := os.Stat(tt.path); !fi.IsDir() && fileSum(t, tt.path) != before {
				t.Fatal("the file changed")
			}
		})
	}
}

func TestUnwritableFolder(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("root writes anywhere; the command-line test runs this case as nobody")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	st, _ := OpenBolt(filepath.Join(dir, "k.db"), Options{Actor: "a"})
	_, err := st.ListKeys(ctx, Filter{})
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("got %v", err)
	}
}

func TestBusyStoreGivesSentenceNotHang(t *testing.T) {
	st := newStore(t, Options{Timeout: 150 * time.Millisecond})
	mustCreate(t, st, CreateRequest{})
	holder, err := bolt.Open(st.Path(), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	start := time.Now()
	_, err = st.CreateKey(ctx, CreateRequest{Name: "x", Channel: "default", Environment: "prod"})
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("got %v", err)
	}
	want := "the key store " + st.Path() + " is busy (another keyden is writing); try again"
	if err.Error() != want {
		t.Fatalf("message %q", err)
	}
	if waited := time.Since(start); waited > 5*time.Second {
		t.Fatalf("waited %v", waited)
	}
}

func TestConcurrentCreatesAllLand(t *testing.T) {
	st := newAny(t, Options{Timeout: 30 * time.Second})
	const workers, each = 6, 15
	var wg sync.WaitGroup
	secrets := make(chan string, workers*each)
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker its own Store value, as separate processes would have.
			mine := reopen(t, st, Options{Actor: "alice", Timeout: 30 * time.Second})
			for i := 0; i < each; i++ {
				c, err := mine.CreateKey(ctx, CreateRequest{Name: "k", Channel: "default", Environment: "dev"})
				if err != nil {
					errs <- err
					return
				}
				secrets <- c.Secret
			}
		}()
	}
	wg.Wait()
	close(secrets)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := 0
	for s := range secrets {
		n++
		if res, err := st.Verify(ctx, VerifyRequest{Secret: s}); err != nil || !res.OK {
			t.Fatalf("lost key: %v %v", res, err)
		}
	}
	keys, _ := st.ListKeys(ctx, Filter{})
	if n != workers*each || len(keys) != n {
		t.Fatalf("created %d, listed %d", n, len(keys))
	}
}

// Many processes opening a store that does not exist yet must all see a
// store: none may catch the file between its creation and bbolt's first
// pages (the "empty file" refusal) and none may lose another's first key.
func TestFirstOpensRaceOnAMissingStore(t *testing.T) {
	ctx := context.Background()
	for round := 0; round < 20; round++ {
		path := filepath.Join(t.TempDir(), "keyden.db")
		const workers = 8
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				st, err := OpenBolt(path, Options{Actor: "alice", Timeout: 30 * time.Second})
				if err == nil {
					if w%2 == 0 {
						_, err = st.CreateKey(ctx, CreateRequest{Name: "k", Channel: "default", Environment: "dev"})
					} else {
						_, err = st.ListKeys(ctx, Filter{})
					}
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		st, _ := OpenBolt(path, Options{Actor: "alice"})
		keys, err := st.ListKeys(ctx, Filter{})
		if err != nil || len(keys) != workers/2 {
			t.Fatalf("round %d: %d keys, %v", round, len(keys), err)
		}
		left, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".keyden.db.new-*"))
		if len(left) != 0 {
			t.Fatalf("temporary files left: %v", left)
		}
	}
}

func TestBackupIsConsistentWhileWriting(t *testing.T) {
	st := newStore(t, Options{Timeout: 30 * time.Second})
	for i := 0; i < 50; i++ {
		mustCreate(t, st, CreateRequest{})
	}
	stop := make(chan struct{})
	done := make(chan int)
	writing := make(chan struct{})
	go func() {
		n := 0
		w, _ := OpenBolt(st.Path(), Options{Actor: "alice", Timeout: 30 * time.Second})
		for {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			if _, err := w.CreateKey(ctx, CreateRequest{Name: "during", Channel: "default", Environment: "dev"}); err != nil {
				t.Error(err)
			}
			if n++; n == 1 {
				close(writing)
			}
		}
	}()
	dst := filepath.Join(t.TempDir(), "backup.db")
	<-writing // the backup is made while the writer is at work
	if err := st.Backup(ctx, dst); err != nil {
		t.Fatal(err)
	}
	close(stop)
	if n := <-done; n == 0 {
		t.Fatal("the writer made no progress")
	}
	fi, err := os.Stat(dst)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup %v %v", fi, err)
	}
	db, err := bolt.Open(dst, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		// The count in meta matches the records: the copy is one moment.
		if int(getUint(boltBucket{tx.Bucket(bucketMeta)}, metaKeyCount)) != tx.Bucket(bucketKeys).Stats().KeyN {
			t.Error("backup's key count and records disagree")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.Backup(ctx, dst); !errors.Is(err, ErrExists) {
		t.Fatalf("overwrote a backup: %v", err)
	}
}

func TestGenerationChangesOnWrites(t *testing.T) {
	st := newAny(t, Options{})
	g0, _ := st.Generation(ctx)
	c := mustCreate(t, st, CreateRequest{})
	g1, _ := st.Generation(ctx)
	st.Verify(ctx, VerifyRequest{Secret: c.Secret})
	g2, _ := st.Generation(ctx)
	st.Verify(ctx, VerifyRequest{Secret: "kd_prod_bad"})
	g3, _ := st.Generation(ctx)
	if !(g0.Any < g1.Any && g1.Any < g2.Any && g2.Any == g3.Any) {
		t.Fatalf("generations %v %v %v %v", g0, g1, g2, g3)
	}
	// A verify is last-used news: it does not move the keys generation.
	if !(g0.Keys < g1.Keys && g1.Keys == g2.Keys) {
		t.Fatalf("keys generations %v %v %v", g0, g1, g2)
	}
}

func TestInitRefusesExisting(t *testing.T) {
	st := newStore(t, Options{Prefix: "acme", Format: keygen.FormatCompact})
	if err := st.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.Init(ctx); !errors.Is(err, ErrExists) {
		t.Fatalf("second init: %v", err)
	}
	// Later opens with other options keep the store's own settings.
	again, _ := OpenBolt(st.Path(), Options{Actor: "alice"})
	c := mustCreate(t, again, CreateRequest{})
	if len(c.Secret) != 40 || !strings.HasPrefix(c.Secret, "acme_prod_") {
		t.Fatalf("key %q", c.Secret)
	}
}

// countingBackend counts a backend's transactions.
type countingBackend struct {
	backend
	writes, views int
}

func (c *countingBackend) write(ctx context.Context, fn func(kv) error) error {
	c.writes++
	return c.backend.write(ctx, fn)
}
func (c *countingBackend) view(ctx context.Context, fn func(kv) error) error {
	c.views++
	return c.backend.view(ctx, fn)
}

// A create is one durable transaction: the key, its hash index, its audit
// event and the counters commit together, with no second commit.
func TestCreateIsOneTransaction(t *testing.T) {
	st := newStore(t, Options{})
	mustCreate(t, st, CreateRequest{}) // the store exists from here on
	cb := &countingBackend{backend: st.core.be}
	st.core.be = cb
	mustCreate(t, st, CreateRequest{})
	if cb.writes != 1 || cb.views != 0 {
		t.Fatalf("a create took %d write and %d read transactions, want 1 and 0", cb.writes, cb.views)
	}
}
