package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	clientv3 "go.etcd.io/etcd/client/v3"

	"keyden/internal/etcdtest"
	"keyden/internal/hostile"
	"keyden/model"
	"keyden/storage"
	"keyden/storage/etcdstore"
)

// hostileStore fills a store at loc through the storage API with
// placeholders, lets this run's OS user in as a super admin (so the write
// commands get as far as echoing names), and returns the key's id. The
// caller then swaps the placeholders for hostile.Text in the raw records.
func hostileStore(t *testing.T, open func(storage.Options) (store, error)) string {
	t.Helper()
	st, err := open(storage.Options{Actor: hostile.Actor})
	if err != nil {
		t.Fatal(err)
	}
	id := hostile.Fill(t, st)
	if _, err := st.AddMember(context.Background(), Actor(), model.RoleSuperAdmin); err != nil {
		t.Fatal(err)
	}
	if c, ok := st.(interface{ Close() error }); ok {
		c.Close()
	}
	return id
}

// everyCommand runs each text command on db and checks no control byte of
// stored text reaches stdout or stderr, and that the text shows escaped.
func everyCommand(t *testing.T, db, id string) {
	t.Helper()
	// --json is the raw value, with every rune Safe escapes as a JSON
	// escape: no C1 control or bidi override reaches the terminal either.
	for _, args := range [][]string{{"list", "--json"}, {"audit", "--json"}, {"show", id, "--json"}, {"member", "list", "--json"}, {"channel", "list", "--json"}} {
		r := run(t, db, "", args...)
		if bad, ok := hostile.Clean(r.stdout + r.stderr); !ok || r.code != 0 {
			t.Errorf("keyden %v: exit %d, holds %U:\n%s%s", args, r.code, bad, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout, `\u009b7m\u202eX`) {
			t.Errorf("keyden %v does not hold the stored text JSON-escaped:\n%s", args, r.stdout)
		}
	}
	var shown model.KeyView
	if err := json.Unmarshal([]byte(run(t, db, "", "show", id, "--json").stdout), &shown); err != nil || shown.Name != hostile.Text {
		t.Errorf("show --json: the name decodes to %q (%v), want the stored text", shown.Name, err)
	}
	shows := func(args ...string) []string { return args }
	for _, c := range []struct {
		args  []string
		shows bool // the stored text is part of the output
	}{
		{shows("list"), true},
		{shows("list", "--channel", "partner"), true},
		{shows("show", id), true},
		{shows("audit"), true},
		{shows("channel", "list"), true},
		{shows("env", "list"), false},
		{shows("member", "list"), true},
		{shows("info"), true},
		{shows("__complete", "show", ""), true},
		{shows("__complete", "list", "--channel", ""), false},
		{shows("disable", id), true},
		{shows("enable", id), true},
		{shows("create", "--name", "x", "--channel", "partner", "--env", "prod"), false},
		{shows("member", "rm", "nobody"), false},
		{shows("channel", "rm", "partner"), false},
		{shows("rotate", id, "--grace", "1h"), false},
		{shows("delete", id, "--yes"), true},
		{shows("show", id), false},
	} {
		r := run(t, db, "", c.args...)
		for name, out := range map[string]string{"stdout": r.stdout, "stderr": r.stderr} {
			if bad, ok := hostile.Clean(out); !ok {
				t.Errorf("keyden %v: %s holds %U:\n%q", c.args, name, bad, out)
			}
		}
		if c.shows && !strings.Contains(r.stdout+r.stderr, hostile.Shown) {
			t.Errorf("keyden %v (exit %d) does not show the stored text escaped:\n%s%s", c.args, r.code, r.stdout, r.stderr)
		}
	}
	// --json stays the raw value: JSON's own escaping keeps ESC and BEL out.
	r := run(t, db, "", "audit", "--json")
	var evs []model.Event
	if err := json.Unmarshal([]byte(r.stdout), &evs); err != nil || len(evs) == 0 {
		t.Fatalf("audit --json: %v %q", err, r.stdout)
	}
	if strings.ContainsAny(r.stdout, "\x1b\x07") || evs[len(evs)-1].Actor != hostile.Text {
		t.Fatalf("audit --json: actor %q in %q", evs[len(evs)-1].Actor, r.stdout)
	}
}

// Text that validation would have refused, written straight into a bbolt
// file (as a member of a shared store or a restored backup could), never
// reaches the terminal raw; nor does a --db path holding escapes.
func TestStoredTextIsEscapedOnBolt(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, hostile.Text+".db")
	id := hostileStore(t, func(o storage.Options) (store, error) { return storage.OpenBolt(db, o) })
	hostile.Bolt(t, db)
	everyCommand(t, db, id)

	// An error sentence that echoes a --db path full of escapes.
	file := filepath.Join(dir, "plain")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"--db", filepath.Join(file, hostile.Text, "k.db"), "list"}, {"--db", file, "list"}, {"migrate", "--from", db, "--to", db}} {
		r := run(t, db, "", args...)
		if r.code == 0 {
			t.Errorf("keyden %q succeeded: %s", args, r.stdout)
		}
		if bad, ok := hostile.Clean(r.stdout + r.stderr); !ok {
			t.Errorf("keyden %q holds %U: %q", args, bad, r.stderr)
		}
	}
}

// The same against etcd, the hostile records written through etcd's kv.
func TestStoredTextIsEscapedOnEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd in -short")
	}
	ms := etcdtest.Start(t, 1, t.TempDir(), false)
	defer ms[0].Stop()
	loc := etcdtest.URL(ms, "/hostile")
	id := hostileStore(t, func(o storage.Options) (store, error) {
		cfg, err := storage.ParseEtcdURL(loc, func(string) string { return "" })
		if err != nil {
			return nil, err
		}
		return etcdstore.Open(cfg, o)
	})
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{ms[0].Endpoint()}})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	hostile.Etcd(t, cli, "/hostile")
	everyCommand(t, loc, id)
}

// A name a terminal cannot lay out in line is refused at the door, with one
// sentence, and the store is not touched.
func TestCreateRefusesNamesThatBreakColumns(t *testing.T) {
	db := newDB(t)
	for _, name := range []string{"\ufdfd", "z\u0301\u0302\u0303", "flag \U0001f1eb\U0001f1f7"} {
		r := run(t, db, "", "create", "--name", name, "--env", "prod")
		if r.code != ExitUsage || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "keyden: the key name ") {
			t.Errorf("create --name %q: exit %d %q", name, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Error("a refused create made a store")
	}
	if r := run(t, db, "", "create", "--name", "鍵 Tiếng Việt", "--env", "prod"); r.code != 0 {
		t.Errorf("a wide, accented name was refused: %s", r.stderr)
	}
}
