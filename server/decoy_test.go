package server

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"keyden/internal/testutil"
	"keyden/model"
	"keyden/storage"
)

// heldStore is a store whose decoy alerts wait until released: a check
// must not wait with them.
type heldStore struct {
	*storage.Bolt
	release chan struct{}
}

func (h *heldStore) RecordDecoyUse(ctx context.Context, u storage.DecoyUse) error {
	select {
	case <-h.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return h.Bolt.RecordDecoyUse(ctx, u)
}

// otherKey has a valid checksum and is no key of the test's store.
const otherKey = "kd_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn0gZMuH"

func answer(t *testing.T, url, key string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("User-Agent", "thief/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	h := resp.Header.Clone()
	h.Del("Date")
	return resp.StatusCode, h, string(b)
}

// A decoy is answered exactly as an unknown key, on every path, while its
// alert waits for a store that does not answer; the alert is written once
// the store does, with the caller's IP and User-Agent.
func TestDecoyIsAnsweredAsUnknownAndAlertsWithoutWaiting(t *testing.T) {
	b, err := storage.OpenBolt(filepath.Join(t.TempDir(), "k.db"), storage.Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	decoy, err := b.CreateKey(ctx, storage.CreateRequest{Name: "bait", Channel: "default", Environment: "prod", Decoy: true})
	if err != nil {
		t.Fatal(err)
	}
	st := &heldStore{Bolt: b, release: make(chan struct{})}
	var clock sync.Mutex
	now := time.Now()
	srv := New(st, Options{PollEvery: 10 * time.Millisecond, Now: func() time.Time { clock.Lock(); defer clock.Unlock(); return now }})
	if err := srv.Load(ctx); err != nil {
		t.Fatal(err)
	}
	fctx, stop := context.WithCancel(ctx)
	var following sync.WaitGroup
	following.Go(func() { srv.Follow(fctx) })
	defer func() { stop(); following.Wait() }()
	hs := serveHTTP(t, srv)
	defer hs.Close()

	for _, path := range []string{"/verify", "/verify/prod", "/verify.json", "/verify.json/prod"} {
		dc, dh, db := answer(t, hs.URL+path, decoy.Secret)
		uc, uh, ub := answer(t, hs.URL+path, otherKey)
		if dc != uc || db != ub || !equalHeaders(dh, uh) {
			t.Errorf("%s: decoy %d %v %q, unknown %d %v %q", path, dc, dh, db, uc, uh, ub)
		}
	}
	if r := srv.Verify(Request{Secret: decoy.Secret}); r.OK || r.Reason != model.ReasonUnknown || r.Key.ID != "" {
		t.Errorf("Verify of a decoy: %+v", r)
	}
	close(st.release)
	events := func(n int) []model.Event {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			evs, err := b.Audit(ctx, storage.AuditFilter{KeyID: decoy.Key.ID})
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) >= n || time.Now().After(deadline) {
				return evs
			}
		}
	}
	// One alert for 127.0.0.1's first use and one for Verify's (no
	// address): the 3 more uses from 127.0.0.1 within the minute wait.
	evs := events(3)
	if len(evs) != 3 || evs[0].Action != model.ActionDecoyUse || evs[1].Action != model.ActionDecoyUse {
		t.Fatalf("%d events for the create and two addresses' first uses: %+v", len(evs), evs)
	}
	var ev model.Event
	for _, e := range evs[:2] {
		if e.ClientIP != "" {
			ev = e
		}
	}
	if ev.ClientIP != "127.0.0.1" || ev.UserAgent != "thief/1.0" || !strings.Contains(ev.Detail, "keyden serve") {
		t.Errorf("alert %+v", ev)
	}
	// The minute over, the repeats are one event.
	clock.Lock()
	now = now.Add(DefaultAlertEvery + time.Second)
	clock.Unlock()
	if evs = events(4); len(evs) != 4 || evs[0].ClientIP != "127.0.0.1" || !strings.Contains(evs[0].Detail, "used 3 times more from this address") {
		t.Fatalf("after the minute: %d events, newest %+v", len(evs), evs[0])
	}
	k, _ := b.GetKey(ctx, decoy.Key.ID)
	if k.Health(time.Now()) != model.HealthTripped || k.UseCount != 5 {
		t.Errorf("decoy after use: %s, %d uses", k.Health(time.Now()), k.UseCount)
	}
}

func equalHeaders(a, b http.Header) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// The webhook posts each alert in the audit log once taken, signed, retried
// after failures, and nothing else from the log.
func TestWebhookPostsSignedAlertsWithRetries(t *testing.T) {
	st, err := storage.OpenBolt(filepath.Join(t.TempDir(), "k.db"), storage.Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef-secret")
	type got struct {
		alert Alert
		sig   string
		body  []byte
	}
	var mu sync.Mutex
	var posts []got
	failures := 2
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 {
			failures--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var a Alert
		json.Unmarshal(b, &a)
		posts = append(posts, got{a, r.Header.Get(SignatureHeader), b})
	}))
	defer hook.Close()
	old, err := st.CreateKey(ctx, storage.CreateRequest{Name: "before", Channel: "default", Environment: "prod", Decoy: true})
	if err != nil {
		t.Fatal(err)
	}
	st.Verify(ctx, storage.VerifyRequest{Secret: old.Secret}) // before the webhook started: not posted
	w := &Webhook{URL: hook.URL, Secret: secret, Store: st, Where: st.Location(), Poll: 10 * time.Millisecond, Retry: 10 * time.Millisecond}
	wctx, stop := context.WithCancel(ctx)
	var running sync.WaitGroup
	running.Go(func() { w.Run(wctx) })
	defer func() { stop(); running.Wait() }()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if seq, _, _ := st.FeedHead(ctx); seq > 0 && w.started() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the webhook never started")
		}
	}
	decoy, _ := st.CreateKey(ctx, storage.CreateRequest{Name: "bait", Channel: "default", Environment: "prod", Decoy: true})
	live, _ := st.CreateKey(ctx, storage.CreateRequest{Name: "live", Channel: "default", Environment: "dev"})
	st.Verify(ctx, storage.VerifyRequest{Secret: decoy.Secret, ClientIP: netip.MustParseAddr("203.0.113.9"), UserAgent: "curl/8"})
	st.Verify(ctx, storage.VerifyRequest{Secret: live.Secret})
	st.RecordLeak(ctx, storage.Leak{Hash: live.Key.Hash, Where: "app.env:3", Source: "keyden scan"}, storage.LeakResponse{})
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(posts)
		mu.Unlock()
		if n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d alerts posted, want 2", n)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 2 {
		t.Fatalf("posts %+v", posts)
	}
	d, l := posts[0], posts[1]
	if d.alert.Type != "decoy_used" || d.alert.KeyID != decoy.Key.ID || d.alert.ClientIP != "203.0.113.9" || d.alert.UserAgent != "curl/8" {
		t.Errorf("decoy alert %+v", d.alert)
	}
	if l.alert.Type != "leak_found" || l.alert.KeyName != "live" || !strings.Contains(l.alert.Detail, "app.env:3") {
		t.Errorf("leak alert %+v", l.alert)
	}
	for _, p := range posts {
		if p.sig != Sign(secret, p.body) || p.sig == Sign([]byte("another secret!!"), p.body) {
			t.Errorf("signature %q does not match the body", p.sig)
		}
		if strings.Contains(string(p.body), decoy.Secret) || strings.Contains(string(p.body), live.Secret) {
			t.Error("an alert holds a key")
		}
	}
}

// BenchmarkVerifyDecoyBesideUnknown: a decoy's check beside an unknown
// key's, from memory, at 100k keys; the decoy's alert is queued (and, with
// nobody writing them here, soon counted as lost), never waited for.
func BenchmarkVerifyDecoyBesideUnknown(b *testing.B) {
	st, err := storage.OpenBolt(filepath.Join(b.TempDir(), "k.db"), storage.Options{Actor: "alice"})
	if err != nil {
		b.Fatal(err)
	}
	seeds := make([]storage.KeySeed, 100_000)
	for i := range seeds {
		seeds[i] = storage.KeySeed{CreateRequest: storage.CreateRequest{Name: "k", Channel: "default", Environment: "prod"}}
	}
	if _, err := st.CreateKeys(ctx, seeds); err != nil {
		b.Fatal(err)
	}
	d, err := st.CreateKey(ctx, storage.CreateRequest{Name: "bait", Channel: "default", Environment: "prod", Decoy: true})
	if err != nil {
		b.Fatal(err)
	}
	srv := New(st, Options{})
	if err := srv.Load(ctx); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, key string }{{"unknown", otherKey}, {"decoy", d.Secret}, {"unknown again", otherKey}} {
		b.Run(c.name, func(b *testing.B) {
			req := Request{Secret: c.key, Env: "prod", ClientIP: netip.MustParseAddr("203.0.113.9"), UserAgent: "thief/1.0"}
			for b.Loop() {
				if r := srv.Verify(req); r.Reason != model.ReasonUnknown {
					b.Fatal(r.Reason)
				}
			}
		})
	}
}

// Decoy uses past a full queue are counted, not logged one by one, and
// said in one line once the store takes alerts again.
func TestDecoyUsesPastAFullQueueAreCountedOnce(t *testing.T) {
	st, err := storage.OpenBolt(filepath.Join(t.TempDir(), "k.db"), storage.Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := st.CreateKey(ctx, storage.CreateRequest{Name: "bait", Channel: "default", Environment: "prod", Decoy: true})
	if err != nil {
		t.Fatal(err)
	}
	var logs testutil.SyncBuffer
	srv := New(st, Options{Log: log.New(&logs, "", 0), PollEvery: 10 * time.Millisecond})
	if err := srv.Load(ctx); err != nil {
		t.Fatal(err)
	}
	loaded := logs.String()
	for i := range alertQueue + 5 {
		// From as many addresses: one address's uses are one alert a minute.
		srv.Verify(Request{Secret: d.Secret, ClientIP: netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})})
	}
	if logs.String() != loaded {
		t.Fatalf("logged at the checks: %s", logs.String())
	}
	fctx, stop := context.WithCancel(ctx)
	var following sync.WaitGroup
	following.Go(func() { srv.Follow(fctx) })
	defer func() { stop(); following.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "not recorded: 5 decoy uses"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("log: %s", logs.String())
		}
	}
	if n := strings.Count(logs.String(), "not recorded"); n != 1 {
		t.Errorf("%d lines of lost alerts: %s", n, logs.String())
	}
}
