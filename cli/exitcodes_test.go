package cli

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Exit codes as the README states them: 1 when the store refuses (an unknown
// channel, environment or id, a disabled key), 2 for bad usage found before
// the store is read. Each case here once got the other code, or 0.
func TestExitCodesMatchTheReadme(t *testing.T) {
	db := newDB(t)
	key := create(t, db, "--name", "off", "--env", "prod")
	id := idOf(t, db, "off")
	if r := run(t, db, "", "disable", id); r.code != 0 {
		t.Fatal(r.stderr)
	}
	create(t, db, "--name", "deleted", "--env", "prod")
	gone := idOf(t, db, "deleted")
	if r := run(t, db, "", "delete", gone, "--yes"); r.code != 0 {
		t.Fatal(r.stderr)
	}
	tests := []struct {
		stdin string
		args  []string
		code  int
		says  string
	}{
		{"", []string{"list", "--channel", "nope"}, 1, `there is no channel "nope"`},
		{"", []string{"list", "--env", "nope"}, 1, `there is no environment "nope"`},
		{"", []string{"list", "--channel", "No Pe"}, 2, "--channel"},
		{"", []string{"list", "--env", "No Pe"}, 2, `--env "No Pe" is not an environment name or tag`},
		{"", []string{"create", "--name", "n", "--env", "No Pe"}, 2, "is not an environment name or tag"},
		{key, []string{"verify", "--env", "No Pe"}, 2, "is not an environment name or tag"},
		{"", []string{"rotate", id}, 1, "is disabled: enable it first"},
		{"", []string{"audit", "--key", "knothere"}, 1, `no key with id "knothere"`},
		{"", []string{"create", "--name", "n", "--env", "prod", "--expires", "1ns"}, 2, "less than a minute away"},
		{"", []string{"create", "--name", "n", "--env", "prod", "--expires", "500ms"}, 2, "less than a minute away"},
		{"", []string{"create", "--name", "n", "--env", "prod", "--expires", "59s"}, 2, "less than a minute away"},
		{"", []string{"rotate", id, "--expires", "1ns"}, 2, "less than a minute away"},
		{"", []string{"channel", "rm", "nope"}, 1, `there is no channel "nope"`},
		{"", []string{"channel", "rm", "No_Pe"}, 2, "is not allowed"},
		{"", []string{"env", "rm", "No_Pe"}, 2, "is not allowed"},
		{"", []string{"member", "rm", "bad!user"}, 2, "is not valid"},
	}
	for _, tt := range tests {
		before := sum(t, db)
		r := run(t, db, tt.stdin, tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.says) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%v: exit %d stderr %q; want %d and one sentence with %q", tt.args, r.code, r.stderr, tt.code, tt.says)
		}
		if sum(t, db) != before {
			t.Errorf("%v changed the store", tt.args)
		}
	}
	// A deleted key's history is still there to read.
	if r := run(t, db, "", "audit", "--key", gone); r.code != 0 || !strings.Contains(r.stdout, "delete") {
		t.Errorf("audit of a deleted key: %d %q %q", r.code, r.stdout, r.stderr)
	}
	// A minute is enough.
	if r := run(t, db, "", "create", "--name", "brief", "--env", "prod", "--expires", "1m"); r.code != 0 {
		t.Errorf("--expires 1m: %d %q", r.code, r.stderr)
	}
}

// A malformed serve flag is bad usage (2) found before the store is opened:
// the store file is never made.
func TestServeBadUsageBeforeTheStore(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tt := range []struct {
		args []string
		says string
		env  map[string]string
	}{
		{[]string{"--listen", "127.0.0.1:99999"}, "no valid port", nil},
		{[]string{"--listen", "127.0.0.1:-1"}, "no valid port", nil},
		{[]string{"--listen", "127.0.0.1:http"}, "no valid port", nil},
		{[]string{"--listen", "[::1]:8080x"}, "no valid port", nil},
		{[]string{"--listen", "127.0.0.1"}, "is not an address", nil},
		{[]string{"--listen", "1.2.3.4.5:8080"}, "no valid host", nil},
		{[]string{"--listen", "host_name:8080"}, "no valid host", nil},
		{[]string{"--listen", "127.0.0.1:8080", "--trusted-proxy", "nope"}, "--trusted-proxy", nil},
		{[]string{"--listen", "127.0.0.1:8080", "--max-connections", "-1"}, "--max-connections", nil},
		{[]string{"--listen", "127.0.0.1:8080", "--max-staleness", "500ms"}, "--max-staleness 500ms is too short", nil},
		{[]string{"--listen", "127.0.0.1:8080", "--max-staleness", "soon"}, "max-staleness", nil},
		// A bad setting is found before the port is tried: this one is taken.
		{[]string{"--listen", taken.Addr().String()}, "KEYDEN_LOCK_TIMEOUT", map[string]string{"KEYDEN_LOCK_TIMEOUT": "soon"}},
	} {
		db := filepath.Join(t.TempDir(), "k.db")
		env := map[string]string{"KEYDEN_DB": db}
		for k, v := range tt.env {
			env[k] = v
		}
		r := runEnv(t, env, "", append([]string{"serve"}, tt.args...)...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.says) {
			t.Errorf("serve %v: exit %d %q; want 2 and %q", tt.args, r.code, r.stderr, tt.says)
		}
		if _, err := os.Stat(db); !os.IsNotExist(err) {
			t.Errorf("serve %v opened the store before refusing: %v", tt.args, err)
		}
	}
}
