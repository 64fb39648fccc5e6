package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"keyden/internal/testutil"
	"keyden/model"
	"keyden/storage"
)

var ctx = context.Background()

// TestMain lets the test binary act as "another process" deleting a key.
func TestMain(m *testing.M) {
	if path, id := os.Getenv("KEYDEN_TEST_DB"), os.Getenv("KEYDEN_TEST_DELETE"); path != "" && id != "" {
		st, _ := storage.OpenBolt(path, storage.Options{Actor: "alice"})
		if _, err := st.DeleteKey(ctx, id); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type fixture struct {
	st      *storage.Bolt
	srv     *Server
	http    *testHTTP
	plain   storage.Created
	scoped  storage.Created
	fenced  storage.Created
	dev     storage.Created
	expired storage.Created
	off     storage.Created
}

func newFixture(t *testing.T, opt Options) *fixture {
	t.Helper()
	clock := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	st, err := storage.OpenBolt(filepath.Join(t.TempDir(), "k.db"), storage.Options{Actor: "alice", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name, env string, f func(*storage.CreateRequest)) storage.Created {
		req := storage.CreateRequest{Name: name, Channel: "default", Environment: env}
		if f != nil {
			f(&req)
		}
		c, err := st.CreateKey(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	f := &fixture{st: st}
	f.plain = mk("plain", "prod", nil)
	f.scoped = mk("scoped", "prod", func(r *storage.CreateRequest) { r.Scopes = []string{"posts:*"} })
	f.fenced = mk("fenced", "prod", func(r *storage.CreateRequest) { r.AllowedIPs = []string{"203.0.113.0/24", "2001:db8::/32"} })
	f.dev = mk("dev key", "dev", func(r *storage.CreateRequest) { r.Type = model.TypeXAPIKey })
	f.expired = mk("expired", "prod", func(r *storage.CreateRequest) { r.ExpiresAt = clock.Add(time.Hour) })
	f.off = mk("off", "prod", nil)
	if _, err := st.SetDisabled(ctx, f.off.Key.ID, true); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * time.Hour)
	if opt.Now == nil {
		opt.Now = now
	}
	f.srv = New(st, opt)
	if err := f.srv.Load(ctx); err != nil {
		t.Fatal(err)
	}
	f.http = serveHTTP(t, f.srv)
	return f
}

type reply struct {
	status int
	header http.Header
	body   struct {
		OK     bool   `json:"ok"`
		Reason string `json:"reason"`
		ID     string `json:"key_id"`
	}
	raw string
}

func (f *fixture) do(t *testing.T, method, path string, headers map[string]string) reply {
	t.Helper()
	req, _ := http.NewRequest(method, f.http.URL+path, nil)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r reply
	r.status, r.header = resp.StatusCode, resp.Header
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	r.raw = sb.String()
	json.Unmarshal([]byte(r.raw), &r.body)
	return r
}

func bearer(k string) map[string]string { return map[string]string{"Authorization": "Bearer " + k} }

func TestEveryStatusAndReason(t *testing.T) {
	f := newFixture(t, Options{})
	with := func(h map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range h {
			out[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name    string
		method  string
		path    string
		headers map[string]string
		status  int
		reason  string
	}{
		{"bearer ok", "GET", "/verify", bearer(f.plain.Secret), 200, ""},
		{"x-api-key ok", "GET", "/verify", map[string]string{"x-api-key": f.dev.Secret}, 200, ""},
		{"any method (forward-auth)", "POST", "/verify", bearer(f.plain.Secret), 200, ""},
		{"env by path", "GET", "/verify/prod", bearer(f.plain.Secret), 200, ""},
		{"env by header", "GET", "/verify", with(bearer(f.plain.Secret), "X-Environment", "prod"), 200, ""},
		{"env by tag", "GET", "/verify/dev", bearer(f.dev.Secret), 200, ""},
		{"scope by header", "GET", "/verify", with(bearer(f.scoped.Secret), "X-Required-Scope", "posts:write"), 200, ""},
		{"scope by query", "GET", "/verify?scope=posts:read", bearer(f.scoped.Secret), 200, ""},
		{"missing", "GET", "/verify", nil, 401, "missing"},
		{"malformed", "GET", "/verify", bearer("kd_prod_nope"), 401, "malformed"},
		{"basic auth is not a key", "GET", "/verify", map[string]string{"Authorization": "Basic " + f.plain.Secret}, 401, "missing"},
		{"unknown", "GET", "/verify", bearer("kd_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn0gZMuH"), 401, "unknown"},
		{"expired", "GET", "/verify", bearer(f.expired.Secret), 401, "expired"},
		{"disabled", "GET", "/verify", bearer(f.off.Secret), 401, "disabled"},
		{"wrong env", "GET", "/verify/prod", bearer(f.dev.Secret), 403, "wrong_environment"},
		{"scope missing", "GET", "/verify?scope=users:read", bearer(f.scoped.Secret), 403, "scope_missing"},
		// A gateway puts its scope in the URI and passes the client's
		// headers on: the client's own header cannot stand in for it.
		{"scope in the query, another held in a header", "GET", "/verify?scope=users:read", with(bearer(f.scoped.Secret), "X-Required-Scope", "posts:read"), 403, "scope_missing"},
		{"scope in a header, another held in the query", "GET", "/verify?scope=posts:read", with(bearer(f.scoped.Secret), "X-Required-Scope", "users:read"), 403, "scope_missing"},
		{"two scopes in the query, one missing", "GET", "/verify?scope=posts:read&scope=users:read", bearer(f.scoped.Secret), 403, "scope_missing"},
		{"every scope named is held", "GET", "/verify?scope=posts:read", with(bearer(f.scoped.Secret), "X-Required-Scope", "posts:write"), 200, ""},
		{"ip not allowed (peer is loopback)", "GET", "/verify", bearer(f.fenced.Secret), 403, "ip_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Forward-auth: the facts in the status and headers, no body.
			r := f.do(t, tt.method, tt.path, tt.headers)
			if r.status != tt.status || r.header.Get("X-Keyden-Reason") != tt.reason || r.raw != "" || r.header.Get("Content-Length") != "0" {
				t.Fatalf("got %d %v %q, want %d %q and no body", r.status, r.header, r.raw, tt.status, tt.reason)
			}
			// The same check in JSON, on a path of its own.
			j := f.do(t, tt.method, strings.Replace(tt.path, "/verify", "/verify.json", 1), tt.headers)
			if j.status != tt.status || j.body.Reason != tt.reason || j.body.OK != (tt.status == 200) || j.header.Get("X-Keyden-Reason") != tt.reason {
				t.Fatalf("JSON: got %d %q, want %d %q", j.status, j.raw, tt.status, tt.reason)
			}
			if tt.status == 200 && (j.body.ID == "" || j.body.ID != r.header.Get("X-Key-Id")) {
				t.Fatalf("JSON: key_id %q, header %q", j.body.ID, r.header.Get("X-Key-Id"))
			}
			if tt.status == 200 {
				for _, h := range []string{"X-Key-Id", "X-Key-Name", "X-Key-Channel", "X-Key-Environment"} {
					if r.header.Get(h) == "" {
						t.Errorf("no %s", h)
					}
				}
			}
			for _, k := range []string{f.plain.Secret, f.dev.Secret, f.scoped.Secret, f.fenced.Secret} {
				if strings.Contains(r.raw+j.raw, k) || strings.Contains(fmt.Sprint(r.header, j.header), k) {
					t.Fatal("the response echoes a key")
				}
			}
		})
	}
	r := f.do(t, "GET", "/verify", bearer(f.scoped.Secret))
	if r.header.Get("X-Key-Scopes") != "posts:*" || r.header.Get("X-Key-Id") != f.scoped.Key.ID {
		t.Fatalf("headers %v", r.header)
	}
	if h := f.do(t, "GET", "/healthz", nil); h.status != 200 || !strings.Contains(h.raw, `"keys":6`) {
		t.Fatalf("healthz: %d %s", h.status, h.raw)
	}
	m := f.do(t, "GET", "/metrics", nil)
	for _, want := range []string{`keyden_checks_total{result="ok"} 19`, `keyden_checks_total{result="wrong_environment"} 2`,
		"keyden_check_duration_seconds_bucket{le=\"+Inf\"} 43", "keyden_keys 6"} {
		if !strings.Contains(m.raw, want) {
			t.Errorf("metrics lack %q:\n%s", want, m.raw)
		}
	}
}

func TestTrustedProxyRule(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	f := newFixture(t, Options{TrustedProxies: trusted})
	untrustedSrv := New(f.st, Options{})
	cases := []struct {
		name   string
		srv    *Server
		peer   string
		header map[string]string
		want   string
	}{
		{"untrusted peer: headers ignored", untrustedSrv, "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "203.0.113.9"}, "127.0.0.1"},
		{"trusted peer: XFF", f.srv, "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "203.0.113.9"}, "203.0.113.9"},
		{"trusted chain: rightmost untrusted", f.srv, "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "198.51.100.1, 203.0.113.9, 10.1.1.1"}, "203.0.113.9"},
		{"spoofed left entry ignored", f.srv, "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "203.0.113.66, 198.51.100.7"}, "198.51.100.7"},
		{"trusted peer: X-Real-IP", f.srv, "10.2.3.4:80", map[string]string{"X-Real-IP": "2001:db8::5"}, "2001:db8::5"},
		{"trusted peer, no headers", f.srv, "10.2.3.4:80", nil, "10.2.3.4"},
		// nginx sets X-Forwarded-For and passes its client's X-Real-IP on.
		{"a chain of trusted hops: the farthest, not X-Real-IP", f.srv, "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "10.9.9.9, 127.0.0.1", "X-Real-IP": "192.0.2.7"}, "10.9.9.9"},
		{"X-Real-IP beside a chain is the client's word", f.srv, "127.0.0.1:5000", map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Real-IP": "192.0.2.7"}, "127.0.0.1"},
		{"garbage XFF: the peer", f.srv, "127.0.0.1:1", map[string]string{"X-Forwarded-For": "not-an-ip"}, "127.0.0.1"},
		// A zone is text of the sender's choosing, not part of a client's address.
		{"a zone in XFF: the peer", f.srv, "127.0.0.1:1", map[string]string{"X-Forwarded-For": "fe80::1%any-text-at-all"}, "127.0.0.1"},
		{"a zone in X-Real-IP: the peer", f.srv, "10.2.3.4:80", map[string]string{"X-Real-IP": "fe80::1%eth0"}, "10.2.3.4"},
	}
	for _, c := range cases {
		var h fasthttp.RequestHeader
		for k, v := range c.header {
			h.Set(k, v)
		}
		if got := c.srv.clientIP(netip.MustParseAddrPort(c.peer).Addr(), &h).String(); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
	// End to end: the fenced key passes only when the trusted proxy forwards an allowed client.
	if r := f.do(t, "GET", "/verify", map[string]string{"Authorization": "Bearer " + f.fenced.Secret, "X-Forwarded-For": "203.0.113.50"}); r.status != 200 {
		t.Fatalf("fenced via trusted proxy: %d %s", r.status, r.raw)
	}
	if r := f.do(t, "GET", "/verify", map[string]string{"Authorization": "Bearer " + f.fenced.Secret, "X-Forwarded-For": "192.0.2.1"}); r.status != 403 {
		t.Fatalf("fenced from a disallowed client: %d", r.status)
	}
}

// A key deleted by another process is refused within 1 s.
func TestDeleteByAnotherProcessIsInForceWithinASecond(t *testing.T) {
	f := newFixture(t, Options{Now: time.Now, PollEvery: 100 * time.Millisecond})
	followCtx, stop := context.WithCancel(ctx)
	defer stop()
	go f.srv.Follow(followCtx)
	if r := f.do(t, "GET", "/verify", bearer(f.plain.Secret)); r.status != 200 {
		t.Fatal(r.raw)
	}
	cmd := testutil.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "KEYDEN_TEST_DB="+f.st.Path(), "KEYDEN_TEST_DELETE="+f.plain.Key.ID)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("the other process: %v %s", err, out)
	}
	deleted := time.Now()
	for {
		r := f.do(t, "GET", "/verify", bearer(f.plain.Secret))
		if r.status == 401 && r.header.Get("X-Keyden-Reason") == "unknown" {
			break
		}
		if time.Since(deleted) > time.Second {
			t.Fatal("the deleted key still verifies after 1 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("refused %v after the delete", time.Since(deleted).Round(time.Millisecond))
	// A new key is in force as soon, and a disabled one is refused.
	c, err := f.st.CreateKey(ctx, storage.CreateRequest{Name: "new", Channel: "default", Environment: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	f.st.SetDisabled(ctx, f.scoped.Key.ID, true)
	deadline := time.Now().Add(time.Second)
	for f.do(t, "GET", "/verify", bearer(c.Secret)).status != 200 || f.do(t, "GET", "/verify", bearer(f.scoped.Secret)).status != 401 {
		if time.Now().After(deadline) {
			t.Fatal("a new or disabled key not in force within 1 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLastUsedIsBatchedAndFlushed(t *testing.T) {
	f := newFixture(t, Options{})
	for i := 0; i < 25; i++ {
		f.do(t, "GET", "/verify", bearer(f.plain.Secret))
	}
	f.do(t, "GET", "/verify", bearer(f.expired.Secret))
	before, _ := f.st.GetKey(ctx, f.plain.Key.ID)
	if before.UseCount != 0 {
		t.Fatal("last used written per request")
	}
	if err := f.srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	after, _ := f.st.GetKey(ctx, f.plain.Key.ID)
	if after.UseCount != 25 || after.LastUsedFrom != "127.0.0.1" || after.LastUsedAt.IsZero() {
		t.Fatalf("after flush: %+v", after)
	}
	evs, _ := f.st.Audit(ctx, storage.AuditFilter{KeyID: f.expired.Key.ID})
	if len(evs) == 0 || evs[0].Action != model.ActionExpire {
		t.Fatalf("expiry not logged by the verifier's flush: %+v", evs)
	}
}

// A busy store keeps the batch for the next flush.
func TestFlushKeepsUsesWhenTheStoreIsBusy(t *testing.T) {
	f := newFixture(t, Options{Now: time.Now})
	busy, _ := storage.OpenBolt(f.st.Path(), storage.Options{Actor: "alice", Timeout: 50 * time.Millisecond})
	srv := New(busy, Options{})
	if err := srv.Load(ctx); err != nil {
		t.Fatal(err)
	}
	srv.Verify(Request{Secret: f.plain.Secret})
	hold := holdStore(t, f.st.Path())
	if err := srv.Flush(ctx); err == nil {
		t.Fatal("flush succeeded on a held store")
	}
	hold()
	srv.Verify(Request{Secret: f.plain.Secret})
	if err := srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	k, _ := f.st.GetKey(ctx, f.plain.Key.ID)
	if k.UseCount != 2 {
		t.Fatalf("uses after a failed flush: %d, want 2", k.UseCount)
	}
}

// serve counts uses per UTC day on its clock, and a flush that gathered
// across midnight puts each count on its own day.
func TestFlushCountsUsesPerDay(t *testing.T) {
	var mu sync.Mutex
	clock := time.Date(2026, 11, 26, 23, 30, 0, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	f := newFixture(t, Options{Now: now})
	for range 3 {
		f.do(t, "GET", "/verify", bearer(f.plain.Secret))
	}
	mu.Lock()
	clock = clock.Add(time.Hour) // 00:30, the next day
	mu.Unlock()
	for range 2 {
		f.do(t, "GET", "/verify", bearer(f.plain.Secret))
	}
	if err := f.srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	k, _ := f.st.GetKey(ctx, f.plain.Key.ID)
	want := [model.UseDays]uint32{}
	want[28], want[29] = 3, 2
	if got := k.Uses30d(now()); got != want || k.UseCount != 5 {
		t.Fatalf("Uses30d = %v (count %d), want %v", got, k.UseCount, want)
	}
}
