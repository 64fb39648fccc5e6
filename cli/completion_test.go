package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"keyden/model"
	"keyden/storage"
)

// completions runs the shell's hidden __complete request and returns the
// offered words (with their descriptions), without cobra's directive line.
func completions(t *testing.T, db string, args ...string) []string {
	t.Helper()
	r := run(t, db, "", append([]string{"__complete"}, args...)...)
	if r.code != 0 {
		t.Fatalf("__complete %v: exit %d %s", args, r.code, r.stderr)
	}
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if l != "" && !strings.HasPrefix(l, ":") {
			out = append(out, l)
		}
	}
	return out
}

func TestCompletionOffersWhatTheStoreNames(t *testing.T) {
	db := newDB(t)
	run(t, db, "", "channel", "add", "web")
	run(t, db, "", "channel", "add", "partner")
	run(t, db, "", "env", "add", "canary")
	create(t, db, "--name", "checkout", "--channel", "web", "--env", "prod")
	id := idOf(t, db, "checkout")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "--env", "ca"}, "canary"},
		{[]string{"create", "--env", ""}, "dev staging prod canary"},
		{[]string{"list", "--channel", "w"}, "web"},
		{[]string{"show", ""}, id + "\tcheckout"},
		{[]string{"delete", id[:3]}, id + "\tcheckout"},
		{[]string{"env", "rm", "st"}, "staging"},
		{[]string{"channel", "rm", "p"}, "partner"},
		{[]string{"audit", "--key", ""}, id + "\tcheckout"},
		{[]string{"show", "zzz"}, ""},
	} {
		got := strings.Join(completions(t, db, c.args...), " ")
		if got != c.want {
			t.Errorf("completing %q: got %q, want %q", c.args, got, c.want)
		}
	}
	// A completion offers ids and names, never what only a secret holds.
	if got := strings.Join(completions(t, db, "show", ""), " "); strings.Contains(got, "kd_") {
		t.Errorf("completion shows key material: %q", got)
	}
}

// Tab on a mistyped or missing store offers nothing and makes no file,
// not even at the default location, which any command makes on first use
// (tab there made ~/.local/share/keyden/keyden.db and its folders).
func TestCompletionNeverMakesAStore(t *testing.T) {
	db := newDB(t)
	if got := completions(t, db, "create", "--env", ""); len(got) != 0 {
		t.Errorf("completions on a missing store: %q", got)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("completion made the store: %v", err)
	}
	data := t.TempDir()
	if r := runEnv(t, map[string]string{"XDG_DATA_HOME": data}, "", "__complete", "delete", ""); r.code != 0 || strings.Contains(r.stdout, "\t") {
		t.Errorf("completion at the default location: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(data, "keyden")); !os.IsNotExist(err) {
		t.Errorf("completion made the default store's folder: %v", err)
	}
}

func TestCompletionScriptsForEveryShell(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		r := run(t, newDB(t), "", "completion", sh)
		if r.code != 0 || !strings.Contains(r.stdout, "__complete") {
			t.Errorf("completion %s: exit %d, %d bytes: %s", sh, r.code, len(r.stdout), r.stderr)
		}
	}
}

func TestVersionSaysReleaseCommitAndDate(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-11-29T08:21:29Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	if got, want := buildFrom(bi).String(), "v1.2.3 (commit 0123456789ab, modified, committed 2026-11-29T08:21:29Z, go1.26.8)"; got != want {
		t.Errorf("from a tagged tree: %q, want %q", got, want)
	}
	if got := buildFrom(&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}).String(); got != "devel" {
		t.Errorf("with no build info: %q", got)
	}
	defer func(v, c, d string) { Version, Commit, BuildDate = v, c, d }(Version, Commit, BuildDate)
	Version, Commit, BuildDate = "0.3.0", "fedcba9876543210", "2026-12-01T00:00:00Z"
	r := run(t, newDB(t), "", "--version")
	if want := "keyden 0.3.0 (commit fedcba987654, built 2026-12-01T00:00:00Z"; !strings.HasPrefix(r.stdout, want) {
		t.Errorf("--version = %q, want it to start %q", r.stdout, want)
	}
	db := newDB(t)
	run(t, db, "", "init")
	r = run(t, db, "", "info", "--json")
	if r.code != 0 || !strings.Contains(r.stdout, `"version": "0.3.0"`) || !strings.Contains(r.stdout, `"binary"`) {
		t.Errorf("info --json does not say which binary: %d %s %s", r.code, r.stdout, r.stderr)
	}
}

// countingStore counts the keys a completion reads, and fails a read of
// every key at once.
type countingStore struct {
	store
	t    *testing.T
	read int
}

func (c *countingStore) ListKeys(ctx context.Context, f storage.Filter) ([]model.Key, error) {
	c.t.Error("a completion read every key at once")
	return c.store.ListKeys(ctx, f)
}

func (c *countingStore) EachKey(ctx context.Context, f storage.Filter, measure, fn func(*model.Key) error) error {
	return c.store.EachKey(ctx, f, measure, func(k *model.Key) error { c.read++; return fn(k) })
}

// A tab press reads keys one at a time and stops at the most it offers:
// on a store of 300,000 keys, reading them all took ~1 s and 180 MB a tab.
func TestCompletionReadsNoMoreKeysThanItOffers(t *testing.T) {
	st, err := storage.OpenBolt(newDB(t), storage.Options{Actor: Actor()})
	if err != nil {
		t.Fatal(err)
	}
	seeds := make([]storage.KeySeed, maxCompletions+500)
	for i := range seeds {
		seeds[i].CreateRequest = storage.CreateRequest{Name: "k", Channel: "default", Environment: "dev"}
	}
	if _, err := st.CreateKeys(context.Background(), seeds); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{store: st, t: t}
	var out, errb bytes.Buffer
	a := &app{env: Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
		Now: time.Now, IsTerminal: func(any) bool { return false }}, store: cs}
	if code := a.run(context.Background(), []string{"__complete", "show", ""}); code != 0 {
		t.Fatalf("exit %d %s", code, errb.String())
	}
	if n := strings.Count(out.String(), "\tk\n"); n != maxCompletions || cs.read != maxCompletions {
		t.Errorf("offered %d keys after reading %d, want %d of each", n, cs.read, maxCompletions)
	}
}
