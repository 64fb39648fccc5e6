package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"keyden/model"
	"keyden/storage"
)

var bulkNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// runAt runs keyden at bulkNow on db; terminal says whether stdin and
// stderr are a terminal.
func runAt(t *testing.T, db, stdin string, terminal bool, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Now: func() time.Time { return bulkNow },
		Getenv: func(k string) string { return map[string]string{"KEYDEN_DB": db}[k] }, IsTerminal: func(any) bool { return terminal }}
	return result{Run(context.Background(), args, env), out.String(), errb.String()}
}

// reviewStore is a store whose super admin is sue, with the OS user
// running the tests as an admin and alice as another, holding keys of
// both with last uses spread in time. It returns the ids by name.
func reviewStore(t *testing.T) (string, map[string]string) {
	t.Helper()
	db := newDB(t)
	open := func(actor string) *storage.Bolt {
		st, err := storage.OpenBolt(db, storage.Options{Actor: actor, Now: func() time.Time { return bulkNow }})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	sue := open("sue")
	ctx := context.Background()
	for _, u := range []string{Actor(), "alice"} {
		if _, err := sue.AddMember(ctx, u, model.RoleAdmin); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sue.AddChannel(ctx, model.Channel{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	ids := map[string]string{}
	for _, k := range []struct {
		actor, name, env string
		usedAgo          time.Duration // 0: never
	}{
		{"alice", "alice prod stale", "prod", 120 * day},
		{"alice", "alice prod fresh", "prod", time.Hour},
		{"alice", "alice prod never", "prod", 0},
		{"alice", "alice dev stale", "dev", 200 * day},
		{Actor(), "mine dev stale", "dev", 100 * day},
		{Actor(), "mine prod stale", "prod", 95 * day},
	} {
		s := storage.KeySeed{CreateRequest: storage.CreateRequest{Name: k.name, Channel: "default", Environment: k.env},
			CreatedAt: bulkNow.Add(-300 * day)}
		if k.usedAgo > 0 {
			s.LastUsedAt = bulkNow.Add(-k.usedAgo)
		}
		made, err := open(k.actor).CreateKeys(ctx, []storage.KeySeed{s})
		if err != nil {
			t.Fatal(err)
		}
		ids[k.name] = made[0].Key.ID
	}
	return db, ids
}

// listed is the names `list` prints, sorted.
func listed(t *testing.T, db string, args ...string) []string {
	t.Helper()
	r := runAt(t, db, "", false, append([]string{"list", "--json"}, args...)...)
	if r.code != 0 {
		t.Fatalf("list %v: %d %s", args, r.code, r.stderr)
	}
	var keys []model.KeyView
	if err := json.Unmarshal([]byte(r.stdout), &keys); err != nil {
		t.Fatalf("list %v --json: %v", args, err)
	}
	var names []string
	for _, k := range keys {
		names = append(names, k.Name)
	}
	slices.Sort(names)
	return names
}

func TestListFilterTakesTheQueryLanguage(t *testing.T) {
	db, _ := reviewStore(t)
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--filter", "env:prod used:>90d by:alice"}, []string{"alice prod never", "alice prod stale"}},
		{[]string{"--filter", "used:>90d -by:alice"}, []string{"mine dev stale", "mine prod stale"}},
		{[]string{"--filter", "env:dev env:prod used:<1d"}, []string{"alice prod fresh"}},
		{[]string{"--filter", "used:never"}, []string{"alice prod never"}},
		{[]string{"--filter", "stale", "--env", "dev"}, []string{"alice dev stale", "mine dev stale"}}, // shorthands AND
		{[]string{"--filter", "status:stale", "--unused-for", "150d"}, []string{"alice dev stale"}},
		{[]string{"--filter", "channel:web"}, nil},
	} {
		if got := listed(t, db, c.args...); !slices.Equal(got, c.want) {
			t.Errorf("list %q: %q, want %q", c.args, got, c.want)
		}
	}
	if r := runAt(t, db, "", false, "list", "--filter", "by:nobody"); r.code != 0 || r.stdout != "No keys match.\n" {
		t.Errorf("a filter matching nothing: %d %q", r.code, r.stdout)
	}
	// A malformed query is bad usage, found before the store is opened.
	missing := newDB(t)
	r := runAt(t, missing, "", false, "list", "--filter", "env:prod foo:bar")
	if r.code != 2 || r.stderr != "keyden: --filter: \"foo:bar\" is not a filter field: use env, channel, by, scope, status, used, expires or created, or put a word with a colon in quotes.\n" {
		t.Errorf("a malformed filter: %d %q", r.code, r.stderr)
	}
}

func TestBulkDisableByFilterReportsEachKey(t *testing.T) {
	db, ids := reviewStore(t)
	before := sum(t, db)
	// No terminal, no --yes: refused before anything changes.
	r := runAt(t, db, "yes\n", false, "disable", "--filter", "used:>90d")
	if r.code != 2 || !strings.Contains(r.stderr, "disabling keys by --filter needs confirmation: pass --yes") {
		t.Fatalf("disable --filter without --yes: %d %q", r.code, r.stderr)
	}
	for _, args := range [][]string{
		{"disable", "--filter", " "},
		{"disable", "--filter", "used:>90", "--yes"},
		{"disable", ids["mine dev stale"], "--filter", "env:dev"},
		{"disable"},
	} {
		if r := runAt(t, db, "", false, args...); r.code != 2 {
			t.Errorf("%q: exit %d %q", args, r.code, r.stderr)
		}
	}
	if sum(t, db) != before {
		t.Fatal("a refused bulk command changed the store")
	}
	// The OS user is an admin: its own stale keys are disabled, alice's are
	// reported and left alone.
	r = runAt(t, db, "", false, "disable", "--filter", "used:>90d", "--yes")
	if r.code != 1 {
		t.Fatalf("disable --filter --yes: %d %q %q", r.code, r.stdout, r.stderr)
	}
	wantOut := "Disabled \"mine dev stale\" (" + ids["mine dev stale"] + ", default/dev).\n" +
		"Disabled \"mine prod stale\" (" + ids["mine prod stale"] + ", default/prod).\n" +
		"Disabled 2 keys; 3 refused.\n"
	if !sameLines(r.stdout, wantOut) {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, wantOut)
	}
	if n := strings.Count(r.stderr, "keyden: not disabled: "+Actor()+" is an admin and may disable only keys it created; "); n != 3 {
		t.Errorf("stderr has %d refusals, want 3: %q", n, r.stderr)
	}
	if got := listed(t, db, "--filter", "status:disabled"); !slices.Equal(got, []string{"mine dev stale", "mine prod stale"}) {
		t.Errorf("disabled now: %q", got)
	}
	r = runAt(t, db, "", false, "audit", "--json")
	var evs []model.Event
	if err := json.Unmarshal([]byte(r.stdout), &evs); err != nil {
		t.Fatal(err)
	}
	if evs[0].Action != model.ActionDisable || evs[1].Action != model.ActionDisable || evs[2].Action == model.ActionDisable ||
		evs[0].KeyID == evs[1].KeyID {
		t.Errorf("audit: each disabled key is not its own event: %+v", evs[:3])
	}
	// Several ids need no --yes (but delete does); a repeat is reported.
	r = runAt(t, db, "", false, "enable", ids["mine dev stale"], ids["mine prod stale"], ids["mine prod stale"])
	if r.code != 0 || !strings.HasSuffix(r.stdout, "Enabled 2 keys.\n") {
		t.Errorf("enable ID ID: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func sameLines(a, b string) bool {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

func TestBulkConfirmsOnATerminal(t *testing.T) {
	db, ids := reviewStore(t)
	before := sum(t, db)
	// Keys named by id are shown by name too: "Delete 2 keys: k1…, k2…?"
	// told the user nothing of what they were about to delete.
	r := runAt(t, db, "no\n", true, "delete", ids["mine dev stale"], ids["mine prod stale"])
	if want := fmt.Sprintf("Delete 2 keys: \"mine dev stale\" (%s), \"mine prod stale\" (%s)?", ids["mine dev stale"], ids["mine prod stale"]); r.code != 1 || !strings.Contains(r.stderr, want) {
		t.Fatalf("delete ID ID answered no: %d %q, want %q", r.code, r.stderr, want)
	}
	r = runAt(t, db, "no\n", true, "delete", "--filter", "by:"+Actor())
	if r.code != 1 || !strings.Contains(r.stderr, "Delete 2 keys: \"mine ") || !strings.Contains(r.stderr, "\"mine dev stale\" (") || !strings.Contains(r.stderr, "Nothing deleted.") {
		t.Fatalf("delete answered no: %d %q", r.code, r.stderr)
	}
	if sum(t, db) != before {
		t.Fatal("store changed after no")
	}
	// One of them is a prod key, which deleted alone asks for its name: yes
	// is not enough for the two (a second id skipped the name), the count
	// typed is, as in the TUI.
	r = runAt(t, db, "yes\n", true, "delete", "--filter", "by:"+Actor())
	if r.code != 1 || !strings.Contains(r.stderr, "1 of them is a prod key: type 2, the number of keys, to delete: Nothing deleted.") || sum(t, db) != before {
		t.Fatalf("delete of a prod key among two answered yes: %d %q", r.code, r.stderr)
	}
	r = runAt(t, db, "2\n", true, "delete", "--filter", "by:"+Actor())
	if r.code != 0 || !strings.HasSuffix(r.stdout, "Deleted 2 keys.\n") {
		t.Fatalf("delete answered with the count: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if got := listed(t, db, "--filter", "by:"+Actor()); len(got) != 0 {
		t.Fatalf("left after the delete: %q", got)
	}
	if r := runAt(t, db, "", false, "delete", "--filter", "by:nobody", "--yes"); r.code != 0 || r.stdout != "No keys match: nothing deleted.\n" {
		t.Fatalf("a delete matching nothing: %d %q", r.code, r.stdout)
	}
}

func TestBulkRotatePrintsEachNewKeyOnce(t *testing.T) {
	db, ids := reviewStore(t)
	r := runAt(t, db, "", false, "rotate", "--filter", "by:"+Actor(), "--grace", "1h", "--yes", "--json")
	if r.code != 0 {
		t.Fatalf("rotate --filter: %d %q", r.code, r.stderr)
	}
	var out []struct {
		Secret   string        `json:"secret"`
		ID       string        `json:"id"`
		Replaces model.KeyView `json:"replaces"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out) != 2 {
		t.Fatalf("rotate --json: %v %q", err, r.stdout)
	}
	for _, o := range out {
		if o.Replaces.RotatedTo != o.ID || o.Replaces.ExpiresAt == nil || !o.Replaces.ExpiresAt.Equal(bulkNow.Add(time.Hour)) {
			t.Errorf("replaces: %+v", o.Replaces)
		}
		if v := runAt(t, db, o.Secret, false, "verify"); v.code != 0 {
			t.Errorf("a new key does not verify: %q", v.stderr)
		}
	}
	if r.stderr != "Rotated 2 keys.\n" {
		t.Errorf("stderr: %q", r.stderr)
	}
	// Text: one line a key, ending in the new key.
	r = runAt(t, db, "", false, "rotate", ids["alice prod stale"], out[0].ID)
	if r.code != 1 || strings.Count(r.stdout, "\n") != 2 || !strings.HasSuffix(r.stdout, "Rotated 1 key; 1 refused.\n") {
		t.Fatalf("rotate ID ID: %d %q %q", r.code, r.stdout, r.stderr)
	}
	secret := strings.Fields(strings.Split(r.stdout, "\n")[0])
	if v := runAt(t, db, secret[len(secret)-1], false, "verify"); v.code != 0 {
		t.Errorf("the printed key does not verify: %q", v.stderr)
	}
	if r := runAt(t, db, "", false, "rotate", ids["mine dev stale"], out[1].ID, "--expires", "30d"); r.code != 2 {
		t.Errorf("--expires with several keys: %d %q", r.code, r.stderr)
	}
}

func TestMoveKeysToAnotherChannel(t *testing.T) {
	db, ids := reviewStore(t)
	r := runAt(t, db, "", false, "move", ids["mine dev stale"], ids["alice dev stale"], "--channel", "web")
	if r.code != 1 || !strings.Contains(r.stdout, "Moved \"mine dev stale\" ("+ids["mine dev stale"]+", dev) to web.\n") ||
		!strings.Contains(r.stderr, "keyden: not moved: "+Actor()+" is an admin and may move only keys it created") {
		t.Fatalf("move: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if got := listed(t, db, "--channel", "web"); !slices.Equal(got, []string{"mine dev stale"}) {
		t.Fatalf("in web: %q", got)
	}
	if r := runAt(t, db, "", false, "channel", "rm", "web"); r.code != 1 || !strings.Contains(r.stderr, "`keyden move` or delete them first") {
		t.Fatalf("channel rm of a used channel: %d %q", r.code, r.stderr)
	}
	r = runAt(t, db, "", false, "move", "--filter", "channel:web", "--channel", "default", "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "to default.") {
		t.Fatalf("move --filter: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runAt(t, db, "", false, "channel", "rm", "web"); r.code != 0 {
		t.Fatalf("channel rm after the move: %d %q", r.code, r.stderr)
	}
	if r := runAt(t, db, "", false, "move", ids["mine dev stale"], "--channel", "nope"); r.code != 1 || !strings.Contains(r.stderr, "there is no channel \"nope\"") {
		t.Fatalf("move to a missing channel: %d %q", r.code, r.stderr)
	}
	if r := runAt(t, db, "", false, "move", ids["mine dev stale"]); r.code != 2 || !strings.Contains(r.stderr, "pass --channel") {
		t.Fatalf("move without --channel: %d %q", r.code, r.stderr)
	}
	r = runAt(t, db, "", false, "audit", "--json", "--limit", "1")
	var evs []model.Event
	if err := json.Unmarshal([]byte(r.stdout), &evs); err != nil || evs[0].Action != "channel-rm" {
		t.Fatalf("audit: %v %q", err, r.stdout)
	}
}

// list --filter names what does not exist, as the bulk commands do,
// instead of an empty listing that looks like an answer.
func TestListFilterNamesWhatDoesNotExist(t *testing.T) {
	db := newDB(t)
	create(t, db, "--name", "one", "--env", "prod")
	for _, c := range []struct{ filter, want string }{
		{"env:prd", `there is no environment "prd"`},
		{"channel:wbe", `there is no channel "wbe"`},
	} {
		for _, json := range []bool{false, true} {
			args := []string{"list", "--filter", c.filter}
			if json {
				args = append(args, "--json")
			}
			r := run(t, db, "", args...)
			if r.code != 2 || !strings.Contains(r.stderr, c.want) || r.stdout != "" {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 2 saying %s", args, r.code, r.stdout, r.stderr, c.want)
			}
		}
	}
	if r := run(t, db, "", "list", "--filter", "env:prod by:nobody"); r.code != 0 || !strings.Contains(r.stdout, "No keys match.") {
		t.Errorf("a filter on names that exist: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// A clean-up by --filter run again changes nothing and does not fail:
// keys already in the state asked for are said, not refused.
func TestBulkFilterTwiceIsNotAFailure(t *testing.T) {
	db := newDB(t)
	run(t, db, "", "channel", "add", "web")
	create(t, db, "--name", "a", "--env", "dev")
	create(t, db, "--name", "b", "--env", "dev")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"disable", "--filter", "env:dev", "--yes"}, "Disabled 2 keys."},
		{[]string{"disable", "--filter", "env:dev", "--yes"}, "Disabled 0 keys; 2 already disabled."},
		{[]string{"move", "--filter", "env:dev", "--channel", "web", "--yes"}, "Moved 2 keys."},
		{[]string{"move", "--filter", "env:dev", "--channel", "web", "--yes"}, "Moved 0 keys; 2 already in web."},
	} {
		r := run(t, db, "", c.args...)
		if r.code != 0 || !strings.Contains(r.stdout+r.stderr, c.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 0 and %q", c.args, r.code, r.stdout, r.stderr, c.want)
		}
	}
	// Named by id, an already disabled key is still refused, as before.
	if r := run(t, db, "", "disable", idOf(t, db, "a")); r.code != 1 {
		t.Errorf("disable of a disabled key by id: exit %d %q", r.code, r.stderr)
	}
}

// A rotate by --filter leaves keys that are never rotated (decoys,
// disabled keys, keys already replaced) as they are and says so; it is not
// a failure, so a rotation of env:prod can be run where decoys are set,
// and run again. Before, each such key was a refusal and every run exit 1.
func TestBulkRotateByFilterLeavesDecoysAndReplacedKeys(t *testing.T) {
	db := newDB(t)
	create(t, db, "--name", "a", "--env", "dev")
	create(t, db, "--name", "b", "--env", "dev")
	create(t, db, "--name", "bait", "--env", "dev", "--decoy")
	create(t, db, "--name", "off", "--env", "dev")
	if r := run(t, db, "", "disable", idOf(t, db, "off")); r.code != 0 {
		t.Fatalf("disable: %d %q", r.code, r.stderr)
	}
	for _, want := range []string{
		"Rotated 2 keys; 2 left as they are (already replaced, disabled or decoys).",
		// Again: a and b are replaced now, their new keys are rotated.
		"Rotated 2 keys; 4 left as they are (already replaced, disabled or decoys).",
	} {
		r := run(t, db, "", "rotate", "--filter", "env:dev", "--grace", "1h", "--yes")
		if r.code != 0 || !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("rotate --filter env:dev: exit %d, stdout %q, stderr %q; want exit 0 and %q", r.code, r.stdout, r.stderr, want)
		}
	}
	// Named by id, a decoy is still refused.
	if r := run(t, db, "", "rotate", idOf(t, db, "bait")); r.code != 1 {
		t.Errorf("rotate of a decoy by id: exit %d %q", r.code, r.stderr)
	}
}
