package server

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"keyden/storage"
)

// raw is stored text as a writer of the file or of etcd may leave it: the
// verifier's table holds keys the same way from either backend.
const raw = "\x1b]52;c;cHduZWQ=\x07\r\nSet-Cookie: a=b\x00\u009b\u202e"

// TestEveryKeyHeaderIsSafe: every X-Key-* header of a 200 is printable
// ASCII, whatever the store holds (once only X-Key-Name was cleaned:
// X-Key-Id, -Channel, -Environment and -Scopes went out raw).
func TestEveryKeyHeaderIsSafe(t *testing.T) {
	st, err := storage.OpenBolt(filepath.Join(t.TempDir(), "k.db"), storage.Options{Actor: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateKey(ctx, storage.CreateRequest{Name: "n", Channel: "default", Environment: "prod", Scopes: []string{"a:b"}})
	if err != nil {
		t.Fatal(err)
	}
	keys, pos, err := st.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range keys {
		k := &keys[i]
		k.ID, k.Name, k.Channel, k.Environment = k.ID+raw, raw, raw, raw
		k.Scopes = append(k.Scopes, raw)
	}
	srv := New(st, Options{})
	// Put the hostile keys in the table as a load from such a store would.
	tab := newTable(len(keys))
	for i := range keys {
		tab.put(&keys[i])
	}
	srv.tab.Store(tab)
	srv.pos = pos

	r := requestCtx("/verify", "127.0.0.1:40000")
	r.Request.Header.Set("Authorization", "Bearer "+c.Secret)
	srv.Handler()(r)
	if code := r.Response.StatusCode(); code != http.StatusOK {
		t.Fatalf("got %d %s", code, r.Response.Body())
	}
	seen := 0
	for name, v := range r.Response.Header.All() {
		if !strings.HasPrefix(string(name), "X-Key-") {
			continue
		}
		seen++
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 || v[i] > 0x7e {
				t.Errorf("%s carries the byte %#x: %q", name, v[i], v)
				break
			}
		}
	}
	if seen != 5 {
		t.Errorf("%d X-Key-* headers, want 5: %s", seen, r.Response.Header.Header())
	}
}
