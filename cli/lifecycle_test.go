package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestRotateCommand(t *testing.T) {
	db := newDB(t)
	old := create(t, db, "--name", "rotating", "--env", "prod", "--scope", "orders:*", "--allow-ip", "10.0.0.0/8")
	id := idOf(t, db, "rotating")
	r := run(t, db, "", "rotate", id, "--grace", "1h")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 {
		t.Fatalf("rotate: %d %q %q", r.code, r.stdout, r.stderr)
	}
	fresh := strings.TrimSpace(r.stdout)
	if len(fresh) != 64 || fresh == old {
		t.Fatalf("new key %q", fresh)
	}
	for _, k := range []string{old, fresh} {
		if r := run(t, db, k, "verify", "--env", "prod", "--ip", "10.1.2.3", "--scope", "orders:read"); r.code != 0 {
			t.Fatalf("a key refused during the grace: %s", r.stderr)
		}
	}
	var shown struct {
		RotatedTo string `json:"rotated_to"`
		ExpiresAt string `json:"expires_at"`
	}
	json.Unmarshal([]byte(run(t, db, "", "show", "--json", id).stdout), &shown)
	if shown.RotatedTo == "" || shown.ExpiresAt == "" {
		t.Fatalf("old key not linked or not expiring: %+v", shown)
	}
	details := run(t, db, "", "show", shown.RotatedTo).stdout
	if !strings.Contains(details, "Replaces:") || !strings.Contains(details, id) {
		t.Fatalf("new key's details lack the link:\n%s", details)
	}
	if r := run(t, db, "", "rotate", id); r.code != 1 || !strings.Contains(r.stderr, "already replaced") {
		t.Fatalf("second rotation of the old key: %d %q", r.code, r.stderr)
	}
	// --grace now: the old key stops at once.
	r = run(t, db, "", "rotate", shown.RotatedTo, "--grace", "now", "--json")
	var out struct {
		Secret   string `json:"secret"`
		Replaces struct {
			ID string `json:"id"`
		} `json:"replaces"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.Secret == "" || out.Replaces.ID != shown.RotatedTo {
		t.Fatalf("rotate --json: %v %s", err, r.stdout)
	}
	if r := run(t, db, fresh, "verify"); r.code != 1 || !strings.Contains(r.stderr, "expired") {
		t.Fatalf("grace now: %d %q", r.code, r.stderr)
	}
	for _, bad := range [][]string{{"rotate", id, "--grace", "soon"}, {"rotate", id, "--grace", "400d"}, {"rotate"}} {
		if r := run(t, db, "", bad...); r.code != 2 {
			t.Errorf("%v: exit %d %q", bad, r.code, r.stderr)
		}
	}
}

func TestDisableEnableCommands(t *testing.T) {
	db := newDB(t)
	k := create(t, db, "--name", "pausable", "--env", "dev")
	id := idOf(t, db, "pausable")
	if r := run(t, db, "", "disable", id); r.code != 0 || !strings.Contains(r.stdout, "Disabled") {
		t.Fatalf("disable: %d %q", r.code, r.stderr)
	}
	r := run(t, db, k, "verify", "--json")
	if r.code != 1 || !strings.Contains(r.stdout, `"reason": "disabled"`) {
		t.Fatalf("verify disabled: %d %s", r.code, r.stdout)
	}
	if r := run(t, db, "", "enable", id); r.code != 0 {
		t.Fatalf("enable: %q", r.stderr)
	}
	if r := run(t, db, k, "verify"); r.code != 0 {
		t.Fatalf("verify after enable: %q", r.stderr)
	}
}

// Every refusal reason is distinct, on stderr and in --json.
func TestEveryRefusalReasonIsDistinct(t *testing.T) {
	db := newDB(t)
	plain := create(t, db, "--name", "plain", "--env", "prod", "--scope", "posts:read")
	fenced := create(t, db, "--name", "fenced", "--env", "prod", "--allow-ip", "10.0.0.0/8")
	dev := create(t, db, "--name", "dev", "--env", "dev")
	off := create(t, db, "--name", "off", "--env", "prod")
	run(t, db, "", "disable", idOf(t, db, "off"))
	gone := create(t, db, "--name", "gone", "--env", "prod")
	run(t, db, "", "delete", idOf(t, db, "gone"), "--yes")
	short := create(t, db, "--name", "short", "--env", "prod")
	run(t, db, "", "rotate", idOf(t, db, "short"), "--grace", "now")
	tests := []struct {
		key    string
		args   []string
		reason string
	}{
		{"kd_prod_nope", nil, "malformed"},
		{gone, nil, "unknown"},
		{dev, []string{"--env", "prod"}, "wrong_environment"},
		{short, nil, "expired"},
		{off, nil, "disabled"},
		{plain, []string{"--scope", "posts:write"}, "scope_missing"},
		{fenced, []string{"--ip", "192.0.2.1"}, "ip_not_allowed"},
		{fenced, nil, "ip_not_allowed"},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		r := run(t, db, tt.key, append([]string{"verify"}, tt.args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "refused ("+tt.reason+")") {
			t.Errorf("%s: exit %d %q", tt.reason, r.code, r.stderr)
		}
		if prev, ok := seen[r.stderr]; ok && prev != tt.reason {
			t.Errorf("%s and %s read the same: %q", prev, tt.reason, r.stderr)
		}
		seen[r.stderr] = tt.reason
		r = run(t, db, tt.key, append([]string{"verify", "--json"}, tt.args...)...)
		var out struct {
			OK     bool   `json:"ok"`
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.OK || out.Reason != tt.reason {
			t.Errorf("%s --json: %v %s", tt.reason, err, r.stdout)
		}
	}
}

func TestMemberCommands(t *testing.T) {
	db := newDB(t)
	me := Actor()
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"init"}, 0, ""},
		{[]string{"member", "list"}, 0, me},
		{[]string{"member", "add", "ann", "--role", "admin"}, 0, "ann is now a member as admin"},
		{[]string{"member", "add", "ann", "--role", "admin"}, 1, "already a member"},
		{[]string{"member", "add", "ann", "--role", "owner"}, 2, "admin or super-admin"},
		{[]string{"member", "add", "bad name"}, 2, "not valid"},
		{[]string{"member", "add", "ann", "--role", "super-admin"}, 0, "super-admin"},
		{[]string{"member", "rm", "ann"}, 0, "Removed member ann"},
		{[]string{"member", "rm", me}, 1, "last super admin"},
		{[]string{"member", "rm", "ghost"}, 1, "not a member"},
	}
	for _, s := range steps {
		r := run(t, db, "", s.args...)
		if r.code != s.code || !strings.Contains(r.stdout+r.stderr, s.want) {
			t.Fatalf("%v: exit %d out %q err %q; want %d %q", s.args, r.code, r.stdout, r.stderr, s.code, s.want)
		}
	}
}

func TestListReviewFlags(t *testing.T) {
	db := newDB(t)
	k := create(t, db, "--name", "used soon", "--env", "dev", "--expires", "3d")
	run(t, db, k, "verify")
	create(t, db, "--name", "never", "--env", "dev")
	names := func(args ...string) string {
		var arr []struct{ Name string }
		r := run(t, db, "", append([]string{"list", "--json"}, args...)...)
		if err := json.Unmarshal([]byte(r.stdout), &arr); err != nil {
			t.Fatalf("%v: %v %s %s", args, err, r.stdout, r.stderr)
		}
		var n []string
		for _, a := range arr {
			n = append(n, a.Name)
		}
		return strings.Join(n, ",")
	}
	if got := names("--never-used"); got != "never" {
		t.Errorf("--never-used: %s", got)
	}
	if got := names("--expiring-within", "7d"); got != "used soon" {
		t.Errorf("--expiring-within: %s", got)
	}
	if got := names("--unused-for", "90d"); got != "" {
		t.Errorf("--unused-for 90d on new keys: %s", got)
	}
	if r := run(t, db, "", "list", "--unused-for", "often"); r.code != 2 {
		t.Errorf("bad --unused-for: %d", r.code)
	}
}

// show --json carries "uses_30d": 30 daily counts of accepted checks,
// oldest first, today last, on the command's clock.
func TestShowJSONHasDailyUses(t *testing.T) {
	db := newDB(t)
	at := time.Date(2026, 11, 26, 23, 0, 0, 0, time.UTC)
	runAt := func(stdin string, args ...string) result {
		t.Helper()
		var out, errb bytes.Buffer
		env := Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
			Getenv: func(k string) string { return map[string]string{"KEYDEN_DB": db}[k] }, Now: func() time.Time { return at }}
		return result{Run(context.Background(), args, env), out.String(), errb.String()}
	}
	secret := strings.TrimSpace(runAt("", "create", "--name", "k", "--channel", "default", "--env", "dev").stdout)
	for range 2 {
		if r := runAt(secret, "verify"); r.code != 0 {
			t.Fatalf("verify: %d %s", r.code, r.stderr)
		}
	}
	at = at.Add(2 * time.Hour) // the next UTC day
	runAt(secret, "verify")
	r := runAt("", "show", "--json", idOf(t, db, "k"))
	var shown struct {
		Uses []uint32 `json:"uses_30d"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || len(shown.Uses) != 30 {
		t.Fatalf("show --json: %v %s", err, r.stdout)
	}
	want := make([]uint32, 30)
	want[28], want[29] = 2, 1
	if !reflect.DeepEqual(shown.Uses, want) {
		t.Fatalf("uses_30d = %v, want %v", shown.Uses, want)
	}
	if strings.Contains(runAt("", "list", "--json").stdout, "uses_30d") {
		t.Fatal("list --json carries uses_30d")
	}
}
