package server

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"slices"
	"testing"
	"time"
	"unsafe"

	"keyden/keygen"
	"keyden/model"
	"keyden/storage"
)

// randomKey is a key with a random hash and a mix of the rules a check
// reads: rule sets and names repeat, as they do in a real store.
func randomKey(r *rand.Rand, i int, now time.Time) model.Key {
	k := model.Key{ID: fmt.Sprintf("k%07d", i), Name: fmt.Sprintf("key %d", r.IntN(1000)),
		Channel: []string{"default", "mobile", "acme"}[r.IntN(3)], Environment: []string{"dev", "staging", "prod"}[r.IntN(3)]}
	for j := range k.Hash {
		k.Hash[j] = byte(r.Uint32())
	}
	k.Scopes = [][]string{nil, {"read:*"}, {"orders:read", "orders:write"}, {"*"}}[r.IntN(4)]
	k.AllowedIPs = [][]string{nil, nil, {"10.0.0.0/8"}, {"192.0.2.7", "2001:db8::/32"}, {"not an ip"}}[r.IntN(5)]
	k.Disabled = r.IntN(10) == 0
	if r.IntN(4) == 0 {
		k.ExpiresAt = now.Add(time.Duration(r.IntN(3)-1) * time.Hour)
		k.ExpiryLogged = r.IntN(2) == 0
	}
	return k
}

// onPage is k with every string in one buffer, as a key read from the
// store's pages is; scribble overwrites the buffer, as the next page will.
func onPage(k model.Key) (_ model.Key, scribble func()) {
	var buf []byte
	var at []int
	strs := []*string{&k.ID, &k.Name, &k.Channel, &k.Environment}
	k.Scopes, k.AllowedIPs = slices.Clone(k.Scopes), slices.Clone(k.AllowedIPs)
	for i := range k.Scopes {
		strs = append(strs, &k.Scopes[i])
	}
	for i := range k.AllowedIPs {
		strs = append(strs, &k.AllowedIPs[i])
	}
	for _, p := range strs {
		at = append(at, len(buf))
		buf = append(buf, *p...)
	}
	buf = append(buf, 0) // room for a string's end, so none is empty-backed
	for i, p := range strs {
		if n := len(*p); n > 0 {
			*p = unsafe.String(&buf[at[i]], n)
		}
	}
	return k, func() {
		for i := range buf {
			buf[i] = 'X'
		}
	}
}

// TestTableChecksAsRulesDo: the compact table gives every request the
// outcome model.Rules gives the key it was made from, and tells the same
// facts of the key.
func TestTableChecksAsRulesDo(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	keys := make([]model.Key, 2000)
	tab := newTable(0)
	for i := range keys {
		keys[i] = randomKey(r, i, now)
		k, scribble := onPage(keys[i])
		tab.put(&k)
		scribble() // the page the key was read from is gone
	}
	ips := []netip.Addr{{}, netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("::ffff:10.9.9.9"), netip.MustParseAddr("2001:db8::1")}
	envs := []string{"", "dev", "staging", "prod", "tag"}
	scopes := []string{"", "read:*", "orders:read", "users:write"}
	for range 20000 {
		k := &keys[r.IntN(len(keys))]
		req := Request{Env: envs[r.IntN(len(envs))], ClientIP: ips[r.IntN(len(ips))]}
		sc := scopes[r.IntN(len(scopes))]
		if sc != "" {
			req.Scopes = []string{sc}
		}
		h := keygen.Hash(k.Hash)
		got, reason, _ := tab.check(&h, "tag", &req, now)
		env := req.Env
		if env == "tag" {
			env = k.Environment
		}
		rules := model.NewRules(k)
		if want := rules.Check(env, sc, req.ClientIP, now); reason != want {
			t.Fatalf("%+v with %+v: %q, want %q", k, req, reason, want)
		}
		if got.ID != k.ID || got.Name != k.Name || got.Channel != k.Channel || got.Environment != k.Environment || !slices.Equal(got.Scopes, k.Scopes) {
			t.Fatalf("found %+v for %+v", got, k)
		}
	}
	var unknown keygen.Hash
	if _, reason, _ := tab.check(&unknown, "", &Request{}, now); reason != model.ReasonUnknown {
		t.Fatalf("an unknown hash: %q", reason)
	}
}

// TestTableFollowsChurn: keys added, replaced (same id, new rules; same id,
// new hash) and removed in any order are found by hash and id exactly
// while they are held, through index growth, deletions and text compaction.
func TestTableFollowsChurn(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	now := time.Now()
	tab := newTable(0)
	held := map[string]model.Key{}
	next := 0
	for step := range 30000 {
		switch op := r.IntN(10); {
		case op < 5 || len(held) == 0:
			k := randomKey(r, next, now)
			k.Name = fmt.Sprintf("%0*d", r.IntN(300), step) // long names: text to compact
			next++
			tab.put(&k)
			held[k.ID] = k
		case op < 7: // the same key changed: new name and rules
			id := fmt.Sprintf("k%07d", r.IntN(next))
			if old, ok := held[id]; ok {
				k := randomKey(r, 0, now)
				k.ID, k.Hash = id, old.Hash
				if op == 6 {
					k.Hash[5]++ // a new hash for the same id: the old one must go
				}
				tab.put(&k)
				held[id] = k
			}
		default:
			id := fmt.Sprintf("k%07d", r.IntN(next))
			tab.remove(id)
			delete(held, id)
		}
		if step%1000 != 999 {
			continue
		}
		if tab.n != len(held) {
			t.Fatalf("step %d: the table counts %d keys, holds %d", step, tab.n, len(held))
		}
		for i := range next {
			id := fmt.Sprintf("k%07d", i)
			k, ok := held[id]
			if ref, found := tab.ids.find(tab, id); found != ok || (ok && tab.shards[ref.shard].rows[ref.row].hash != k.Hash) {
				t.Fatalf("step %d: id %s found %v, held %v", step, id, found, ok)
			}
			if !ok {
				continue
			}
			h := keygen.Hash(k.Hash)
			got, reason, _ := tab.check(&h, "", &Request{}, now)
			if reason == model.ReasonUnknown || got.ID != id || got.Name != k.Name {
				t.Fatalf("step %d: %s: %q %+v", step, id, reason, got)
			}
		}
	}
	for _, k := range held {
		h := keygen.Hash(k.Hash)
		h[5]++
		if tab.has(h) && held[k.ID].Hash != [32]byte(h) {
			// Another held key may have this hash only by chance; none does here.
			t.Fatalf("a replaced hash of %s is still held", k.ID)
		}
	}
}

// TestUsesSurviveRemovalAndReload: news gathered for a key is written at
// the next flush even when the key was deleted meanwhile (the store then
// drops it) or the whole table was read again.
func TestUsesSurviveRemovalAndReload(t *testing.T) {
	st, err := storage.OpenBolt(filepath.Join(t.TempDir(), "k.db"), storage.Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	var made []storage.Created
	for _, n := range []string{"a", "b"} {
		c, err := st.CreateKey(ctx, storage.CreateRequest{Name: n, Channel: "default", Environment: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, c)
	}
	srv := New(st, Options{})
	if err := srv.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		srv.Verify(Request{Secret: made[0].Secret, ClientIP: netip.MustParseAddr("::ffff:192.0.2.9")})
	}
	if err := srv.Load(ctx); err != nil { // a reload, as after a restore
		t.Fatal(err)
	}
	srv.Verify(Request{Secret: made[0].Secret, ClientIP: netip.MustParseAddr("192.0.2.10")})
	srv.Verify(Request{Secret: made[1].Secret})
	srv.tab.Load().remove(made[1].Key.ID)
	if err := srv.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	k, _ := st.GetKey(ctx, made[0].Key.ID)
	if k.UseCount != 4 || k.LastUsedFrom != "192.0.2.10" {
		t.Fatalf("after a reload: %d uses, the last from %q; want 4, from 192.0.2.10", k.UseCount, k.LastUsedFrom)
	}
	if k, _ := st.GetKey(ctx, made[1].Key.ID); k.UseCount != 1 {
		t.Fatalf("a key removed from the table before the flush: %d uses, want 1", k.UseCount)
	}
}
