// Package hostile writes text no validation would let in into a key store,
// as a member of a shared store, an etcd writer or a restored backup could:
// the tests of the command line, the TUI and the whole binary use it to show
// such text reaches a terminal escaped. Only tests import it.
package hostile

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	clientv3 "go.etcd.io/etcd/client/v3"

	"keyden/model"
	"keyden/storage"
)

// Text sets the terminal's clipboard (OSC 52: "pwned"), its title (OSC 0),
// clears the screen, starts a C1 CSI and flips the text right to left.
const Text = "\x1b]52;c;cHduZWQ=\x07\x1b]0;pwned\x07\x1b[2J\u009b7m\u202eX"

// Shown is Text as format.Safe shows it.
const Shown = `\x1b]52;c;cHduZWQ=\a\x1b]0;pwned\a\x1b[2J\u009b7m\u202eX`

// Actor and Member are valid placeholders as long as Text, written through
// the store's own validation and then swapped for Text in the raw records.
var (
	Actor  = strings.Repeat("Q", len(Text))
	Member = strings.Repeat("R", len(Text))
)

// Fill makes st's records carry the placeholders where stored text shows: a
// key's name and created_by, a channel's description, the audit log's actor,
// key name and detail, member names. st must act as Actor. It returns the
// key's id.
func Fill(t testing.TB, st storage.Store) string {
	t.Helper()
	ctx := context.Background()
	if _, err := st.AddChannel(ctx, model.Channel{Name: "partner", Description: Actor}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddMember(ctx, Member, model.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	c, err := st.CreateKey(ctx, storage.CreateRequest{Name: Actor, Channel: "partner", Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	return c.Key.ID
}

// Rewrite swaps the placeholders in one stored value for Text: raw in the
// binary key records (same length, so their length prefixes still hold),
// JSON-escaped in JSON records.
func Rewrite(v []byte) []byte {
	with := []byte(Text)
	if len(v) > 0 && v[0] == '{' && json.Valid(v) {
		q, _ := json.Marshal(Text)
		with = q[1 : len(q)-1]
	}
	for _, p := range []string{Actor, Member} {
		v = bytes.ReplaceAll(v, []byte(p), with)
	}
	return v
}

// Bolt rewrites every value of the bbolt file at path (no keyden may have
// it open).
func Bolt(t testing.TB, path string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			type kv struct{ k, v []byte }
			var changed []kv
			if err := b.ForEach(func(k, v []byte) error {
				if v != nil {
					if nv := Rewrite(append([]byte(nil), v...)); !bytes.Equal(nv, v) {
						changed = append(changed, kv{append([]byte(nil), k...), nv})
					}
				}
				return nil
			}); err != nil {
				return err
			}
			for _, c := range changed {
				if err := b.Put(c.k, c.v); err != nil {
					return err
				}
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Etcd rewrites every value under prefix through the etcd client.
func Etcd(t testing.TB, cli *clientv3.Client, prefix string) {
	t.Helper()
	ctx := context.Background()
	resp, err := cli.Get(ctx, prefix, clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, kv := range resp.Kvs {
		if nv := Rewrite(append([]byte(nil), kv.Value...)); !bytes.Equal(nv, kv.Value) {
			if _, err := cli.Put(ctx, string(kv.Key), string(nv)); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if n == 0 {
		t.Fatal("no record under the prefix held a placeholder")
	}
}

// Clean says whether terminal output holds no control byte but newline and
// tab: no ESC, BEL, DEL, no C1 control, no bidi override, no bad UTF-8.
func Clean(out string) (bad rune, ok bool) {
	for i, r := range out {
		switch {
		case r == '\n' || r == '\t':
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0),
			r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			return r, false
		case r == 0xfffd && !strings.HasPrefix(out[i:], "\ufffd"):
			return r, false
		}
	}
	return 0, true
}
