package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"keyden/keygen"
	"keyden/storage"
	"keyden/storage/etcdstore"
)

type result struct {
	code           int
	stdout, stderr string
}

// run runs keyden in-process on db with stdin and args, and no terminal.
func run(t *testing.T, db, stdin string, args ...string) result {
	t.Helper()
	return runEnv(t, map[string]string{"KEYDEN_DB": db}, stdin, args...)
}

func runEnv(t *testing.T, vars map[string]string, stdin string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	env := Env{
		Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return vars[k] },
		LookupEnv: func(k string) (string, bool) {
			v, ok := vars[k]
			return v, ok
		},
		// As in keyden-etcd: these tests run in-process, with nothing to hand off.
		OpenEtcd: func(cfg storage.EtcdConfig, opt storage.Options) (storage.Store, error) {
			return etcdstore.Open(cfg, opt)
		},
	}
	code := Run(context.Background(), args, env)
	return result{code, out.String(), errb.String()}
}

func newDB(t *testing.T) string { return filepath.Join(t.TempDir(), "keyden.db") }

func sum(t *testing.T, path string) [32]byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

func create(t *testing.T, db string, args ...string) string {
	t.Helper()
	r := run(t, db, "", append([]string{"create"}, args...)...)
	if r.code != 0 {
		t.Fatalf("create %v: %d %s", args, r.code, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

func TestCreatePrintsOnlyTheKey(t *testing.T) {
	db := newDB(t)
	r := run(t, db, "", "create", "--name", "web checkout", "--channel", "default", "--env", "prod")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if strings.Count(r.stdout, "\n") != 1 || !strings.HasSuffix(r.stdout, "\n") {
		t.Fatalf("stdout is not one line: %q", r.stdout)
	}
	key := strings.TrimSpace(r.stdout)
	if len(key) != 64 || !strings.HasPrefix(key, "kd_prod_") {
		t.Fatalf("key %q", key)
	}
	if _, err := keygen.Parse(key); err != nil {
		t.Fatal(err)
	}
	if r.stderr != "" {
		t.Fatalf("stderr without a terminal: %q", r.stderr)
	}
}

func TestCreateJSON(t *testing.T) {
	db := newDB(t)
	r := run(t, db, "", "create", "--name", "ci", "--env", "dev", "--scope", "deploy:*", "--allow-ip", "10.0.0.0/8",
		"--type", "x-api-key", "--expires", "90d", "--json")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	for _, f := range []string{"secret", "id", "name", "channel", "environment", "type", "scopes", "allowed_ips",
		"created_at", "created_by", "expires_at", "hint"} {
		if _, ok := got[f]; !ok {
			t.Errorf("JSON lacks %s", f)
		}
	}
	if got["type"] != "x-api-key" || got["environment"] != "dev" || got["expires_at"] == nil {
		t.Errorf("fields %v", got)
	}
	if s, _ := got["secret"].(string); !strings.HasPrefix(s, "kd_dev_") || len(s) != 64 {
		t.Errorf("secret %q", s)
	}
}

func TestListNeverShowsSecretsOrHashes(t *testing.T) {
	db := newDB(t)
	run(t, db, "", "channel", "add", "mobile")
	k1 := create(t, db, "--name", "one", "--env", "prod")
	k2 := create(t, db, "--name", "two", "--env", "dev", "--channel", "mobile")
	h1, h2 := keygen.HashKey(k1), keygen.HashKey(k2)
	forbidden := []string{k1, k2, k1[8:40], hex.EncodeToString(h1[:]), hex.EncodeToString(h2[:])}
	for _, args := range [][]string{{"list"}, {"list", "--json"}, {"show", "--json", idOf(t, db, "one")}, {"show", idOf(t, db, "two")}, {"audit", "--json"}} {
		r := run(t, db, "", args...)
		if r.code != 0 {
			t.Fatalf("%v: %s", args, r.stderr)
		}
		for _, f := range forbidden {
			if strings.Contains(r.stdout, f) {
				t.Fatalf("%v printed a secret or hash", args)
			}
		}
		if strings.Contains(strings.ToLower(r.stdout), "hash") {
			t.Fatalf("%v mentions a hash: %s", args, r.stdout)
		}
	}
	table := run(t, db, "", "list").stdout
	for _, col := range []string{"NAME", "CHANNEL", "ENV", "HINT", "CREATED", "LAST USED", "CREATED BY", "one", "two", "never"} {
		if !strings.Contains(table, col) {
			t.Errorf("table lacks %q:\n%s", col, table)
		}
	}
	for _, tt := range []struct {
		args []string
		want int
	}{{[]string{"list", "--json"}, 2}, {[]string{"list", "--json", "--channel", "mobile"}, 1},
		{[]string{"list", "--json", "--env", "prod"}, 1}, {[]string{"list", "--json", "--env", "staging"}, 0}} {
		var arr []map[string]any
		r := run(t, db, "", tt.args...)
		if err := json.Unmarshal([]byte(r.stdout), &arr); err != nil || len(arr) != tt.want {
			t.Errorf("%v: %d keys, %v: %s", tt.args, len(arr), err, r.stdout)
		}
	}
}

func idOf(t *testing.T, db, name string) string {
	t.Helper()
	var arr []struct{ ID, Name string }
	json.Unmarshal([]byte(run(t, db, "", "list", "--json").stdout), &arr)
	for _, k := range arr {
		if k.Name == name {
			return k.ID
		}
	}
	t.Fatalf("no key named %s", name)
	return ""
}

func TestVerifyOutcomes(t *testing.T) {
	db := newDB(t)
	prod := create(t, db, "--name", "prod key", "--env", "prod")
	dev := create(t, db, "--name", "dev key", "--env", "dev")
	swap := "A"
	if prod[20] == 'A' {
		swap = "B"
	}
	bad := prod[:20] + swap + prod[21:]
	tests := []struct {
		name   string
		stdin  string
		args   []string
		code   int
		stream string
		want   string
	}{
		{"ok", prod, []string{"--env", "prod"}, 0, "out", "prod key"},
		{"ok with newline", prod + "\n", []string{"--env", "prod"}, 0, "out", "prod key"},
		{"ok with ip", prod, []string{"--ip", "203.0.113.7"}, 0, "out", "prod key"},
		{"malformed", "not-a-key", nil, 1, "err", "refused (malformed)"},
		{"checksum", bad, nil, 1, "err", "refused (malformed)"},
		{"wrong env", dev, []string{"--env", "prod"}, 1, "err", "refused (wrong_environment)"},
		{"unknown", mustKey(t), nil, 1, "err", "refused (unknown)"},
		{"json refusal", dev, []string{"--env", "prod", "--json"}, 1, "out", `"reason": "wrong_environment"`},
		{"json ok", prod, []string{"--json", "--ip", "2001:db8::7"}, 0, "out", `"ok": true`},
		{"empty stdin", "", nil, 2, "err", "no key on standard input"},
		{"bad ip", prod, []string{"--ip", "10.0.0.0/8"}, 2, "err", "is not an IP address"},
		{"unknown env", prod, []string{"--env", "qa"}, 1, "err", "there is no environment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, db, tt.stdin, append([]string{"verify"}, tt.args...)...)
			got := r.stdout
			if tt.stream == "err" {
				got = r.stderr
			}
			if r.code != tt.code || !strings.Contains(strings.ToLower(got), strings.ToLower(tt.want)) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want %d and %q", r.code, r.stdout, r.stderr, tt.code, tt.want)
			}
			if strings.Contains(r.stdout+r.stderr, prod) || strings.Contains(r.stdout+r.stderr, dev) {
				t.Fatal("verify echoed a key")
			}
		})
	}
	var shown struct {
		UseCount     int    `json:"use_count"`
		LastUsedFrom string `json:"last_used_from"`
		LastUsedAt   string `json:"last_used_at"`
	}
	json.Unmarshal([]byte(run(t, db, "", "show", "--json", idOf(t, db, "prod key")).stdout), &shown)
	if shown.UseCount != 4 || shown.LastUsedFrom != "2001:db8::7" || shown.LastUsedAt == "" {
		t.Fatalf("last used not recorded: %+v", shown)
	}
}

func mustKey(t *testing.T) string {
	k, err := keygen.Generate(keygen.FormatDefault, "kd", "prod")
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestVerifyNeverTakesTheKeyFromArgv(t *testing.T) {
	db := newDB(t)
	k := create(t, db, "--name", "x", "--env", "prod")
	before := sum(t, db)
	r := run(t, db, "", "verify", k)
	if r.code != 2 || strings.Contains(r.stderr+r.stdout, k) || !strings.Contains(r.stderr, "standard input") {
		t.Fatalf("exit %d stderr %q", r.code, r.stderr)
	}
	if sum(t, db) != before {
		t.Fatal("store changed")
	}
}

func TestDeleteNeedsConfirmation(t *testing.T) {
	db := newDB(t)
	k := create(t, db, "--name", "doomed", "--env", "prod")
	id := idOf(t, db, "doomed")
	before := sum(t, db)
	r := run(t, db, "yes\n", "delete", id)
	if r.code != 2 || !strings.Contains(r.stderr, "--yes") {
		t.Fatalf("delete without --yes: %d %q", r.code, r.stderr)
	}
	if sum(t, db) != before {
		t.Fatal("store changed")
	}
	if r := run(t, db, k, "verify"); r.code != 0 {
		t.Fatal("key gone after refused delete")
	}
	r = run(t, db, "", "delete", id, "--yes")
	if r.code != 0 || !strings.Contains(r.stdout, "Deleted") {
		t.Fatalf("delete --yes: %d %q", r.code, r.stderr)
	}
	if r := run(t, db, k, "verify"); r.code != 1 || !strings.Contains(r.stderr, "unknown") {
		t.Fatalf("verify after delete: %d %q", r.code, r.stderr)
	}
	if r := run(t, db, "", "delete", id, "--yes"); r.code != 1 || !strings.Contains(r.stderr, "no key with id") {
		t.Fatalf("second delete: %d %q", r.code, r.stderr)
	}
}

func TestChannelAndEnvCommands(t *testing.T) {
	db := newDB(t)
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"channel", "add", "partner-a", "--description", "Partner A"}, 0, "Added channel partner-a"},
		{[]string{"channel", "add", "partner-a"}, 1, "already exists"},
		{[]string{"channel", "add", "Partner A"}, 2, "lower-case"},
		{[]string{"channel", "list"}, 0, "partner-a"},
		{[]string{"env", "add", "qa"}, 0, "kd_qa_"},
		{[]string{"env", "add", "preprod", "--tag", "pp"}, 0, "kd_pp_"},
		{[]string{"env", "add", "x", "--tag", "TOOLONGTAG"}, 2, "tag"},
		{[]string{"env", "list", "--json"}, 0, `"name": "preprod",
    "tag": "pp"`},
		{[]string{"create", "--name", "a", "--channel", "partner-a", "--env", "qa"}, 0, "kd_qa_"},
		{[]string{"create", "--name", "b", "--channel", "partner-a", "--env", "pp"}, 0, "kd_pp_"},
		{[]string{"channel", "rm", "partner-a"}, 1, "used by 2 keys"},
		{[]string{"env", "rm", "qa"}, 1, "used by 1 key:"},
		{[]string{"env", "rm", "nothing"}, 1, "there is no environment"},
		{[]string{"channel", "rm", "default"}, 0, "Removed channel default"},
		{[]string{"member", "list"}, 0, "super-admin"},
		{[]string{"channel"}, 2, "needs a command"},
	}
	for _, s := range steps {
		r := run(t, db, "", s.args...)
		if r.code != s.code || !strings.Contains(r.stdout+r.stderr, s.want) {
			t.Fatalf("%v: exit %d out %q err %q; want %d %q", s.args, r.code, r.stdout, r.stderr, s.code, s.want)
		}
	}
}

// Bad input: one sentence, the right exit code, and the store byte-for-byte unchanged.
func TestBadInputChangesNothing(t *testing.T) {
	db := newDB(t)
	create(t, db, "--name", "existing", "--env", "prod")
	before := sum(t, db)
	tests := []struct {
		args []string
		code int
		says string
	}{
		{[]string{"create", "--env", "prod"}, 2, "needs a name"},
		{[]string{"create", "--name", "", "--env", "prod"}, 2, "name is empty"},
		{[]string{"create", "--name", strings.Repeat("x", 65), "--env", "prod"}, 2, "shorten it to 64"},
		{[]string{"create", "--name", "bell\a", "--env", "prod"}, 2, "control"},
		{[]string{"create", "--name", "n"}, 2, "needs an environment"},
		{[]string{"create", "--name", "n", "--env", "qa"}, 1, "there is no environment \"qa\""},
		{[]string{"create", "--name", "n", "--env", "prod", "--channel", "nope"}, 1, "there is no channel"},
		{[]string{"create", "--name", "n", "--env", "prod", "--channel", "No Pe"}, 2, "lower-case"},
		{[]string{"create", "--name", "n", "--env", "prod", "--scope", "Bad Scope"}, 2, "scope"},
		{[]string{"create", "--name", "n", "--env", "prod", "--allow-ip", "10.0.0.1/8"}, 2, "did you mean 10.0.0.0/8"},
		{[]string{"create", "--name", "n", "--env", "prod", "--allow-ip", "nowhere"}, 2, "not an IP address"},
		{[]string{"create", "--name", "n", "--env", "prod", "--expires", "2001-01-01"}, 2, "in the past"},
		{[]string{"create", "--name", "n", "--env", "prod", "--expires", "0d"}, 2, "not a positive duration"},
		{[]string{"create", "--name", "n", "--env", "prod", "--expires", "soon"}, 2, "not an expiry"},
		{[]string{"create", "--name", "n", "--env", "prod", "--expires", "500y"}, 2, "100y"},
		{[]string{"create", "--name", "n", "--env", "prod", "--type", "basic"}, 2, "bearer or x-api-key"},
		{[]string{"create", "--name", "n", "--env", "prod", "--bogus"}, 2, "unknown flag"},
		{[]string{"create", "extra", "--name", "n", "--env", "prod"}, 2, "takes no arguments"},
		{[]string{"frobnicate"}, 2, "unknown command"},
		{[]string{"show"}, 2, "exactly one key id"},
		{[]string{"show", "knothere"}, 1, "no key with id"},
		{[]string{"audit", "--since", "soon"}, 2, "neither a duration nor a date"},
		{[]string{"audit", "--limit", "-1"}, 2, "--limit"},
		{[]string{"init"}, 1, "already exists"},
		{[]string{"init", "--prefix", "K1"}, 2, "prefix"},
		{[]string{"env", "add", "Bad_Env"}, 2, "lower-case"},
		{[]string{"backup", filepath.Dir(db)}, 1, "is a folder: give a file path in it"},
	}
	for _, tt := range tests {
		r := run(t, db, "", tt.args...)
		if r.code != tt.code || !strings.Contains(r.stderr, tt.says) {
			t.Errorf("%v: exit %d stderr %q; want %d and %q", tt.args, r.code, r.stderr, tt.code, tt.says)
		}
		if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || r.stdout != "" {
			t.Errorf("%v: not one sentence on stderr alone: out %q err %q", tt.args, r.stdout, r.stderr)
		}
		if sum(t, db) != before {
			t.Fatalf("%v changed the store", tt.args)
		}
	}
}

func TestHelpOnEveryCommand(t *testing.T) {
	a := &app{env: Env{Getenv: func(string) string { return "" }}}
	var walk func(prefix []string, cmds []string)
	root := a.rootCommand()
	n := 0
	for _, c := range root.Commands() {
		paths := [][]string{{c.Name()}}
		for _, sub := range c.Commands() {
			paths = append(paths, []string{c.Name(), sub.Name()})
		}
		for _, p := range paths {
			r := run(t, newDB(t), "", append(p, "--help")...)
			if r.code != 0 || !strings.Contains(r.stdout, "Usage:") {
				t.Errorf("%v --help: %d %q", p, r.code, r.stderr)
			}
			n++
		}
	}
	_ = walk
	if n < 15 {
		t.Fatalf("only %d commands have help", n)
	}
	if r := run(t, newDB(t), "", "--version"); r.code != 0 || !strings.HasPrefix(r.stdout, "keyden ") {
		t.Fatalf("--version: %q", r.stdout)
	}
}

func TestDBFlagAndEnvironment(t *testing.T) {
	envDB, flagDB := newDB(t), newDB(t)
	r := runEnv(t, map[string]string{"KEYDEN_DB": envDB}, "", "--db", flagDB, "create", "--name", "x", "--env", "dev")
	if r.code != 0 {
		t.Fatal(r.stderr)
	}
	if _, err := os.Stat(flagDB); err != nil {
		t.Fatal("--db was not used")
	}
	if _, err := os.Stat(envDB); err == nil {
		t.Fatal("KEYDEN_DB was used despite --db")
	}
	run(t, envDB, "", "channel", "add", "web")
	if _, err := os.Stat(envDB); err != nil {
		t.Fatal("KEYDEN_DB was not used")
	}
	home := t.TempDir()
	for vars, want := range map[*map[string]string]string{
		{"HOME": home}: filepath.Join(home, ".local/share/keyden/keyden.db"),
		{"HOME": home, "XDG_DATA_HOME": filepath.Join(home, "xdg")}: filepath.Join(home, "xdg/keyden/keyden.db"),
	} {
		v := *vars
		if got := DefaultDBPath(func(k string) string { return v[k] }); got != want {
			t.Errorf("DefaultDBPath(%v) = %s, want %s", v, got, want)
		}
	}
}

func TestBusyStoreSentence(t *testing.T) {
	db := newDB(t)
	create(t, db, "--name", "x", "--env", "dev")
	holder, err := bolt.Open(db, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	start := time.Now()
	r := runEnv(t, map[string]string{"KEYDEN_DB": db, "KEYDEN_LOCK_TIMEOUT": "200ms"}, "", "create", "--name", "y", "--env", "dev")
	if r.code != 1 || !strings.Contains(r.stderr, "is busy (another keyden is writing); try again") {
		t.Fatalf("exit %d %q", r.code, r.stderr)
	}
	if time.Since(start) > 3*time.Second {
		t.Fatal("waited far past the timeout")
	}
}

func TestCompactStore(t *testing.T) {
	db := newDB(t)
	if r := run(t, db, "", "init", "--format", "compact", "--prefix", "acme"); r.code != 0 || !strings.Contains(r.stdout, "40 characters") {
		t.Fatalf("%d %q %q", r.code, r.stdout, r.stderr)
	}
	k := create(t, db, "--name", "short", "--env", "prod")
	if len(k) != 40 || !strings.HasPrefix(k, "acme_prod_") {
		t.Fatalf("key %q", k)
	}
	if r := run(t, db, k, "verify", "--env", "prod"); r.code != 0 {
		t.Fatal(r.stderr)
	}
}

func TestBackupCommand(t *testing.T) {
	db := newDB(t)
	k := create(t, db, "--name", "backed up", "--env", "prod")
	dst := filepath.Join(t.TempDir(), "copy.db")
	if r := run(t, db, "", "backup", dst); r.code != 0 {
		t.Fatal(r.stderr)
	}
	if r := run(t, dst, k, "verify"); r.code != 0 {
		t.Fatalf("key not in backup: %s", r.stderr)
	}
}

// An explicit store path whose folder is missing is refused (a typo must
// not silently make a new, empty store); `--db ""` is bad usage, not the
// default; the default location and init make their folders.
func TestStorePathRules(t *testing.T) {
	base := t.TempDir()
	missing := filepath.Join(base, "nonexistent", "dir", "x.db")
	for _, r := range []result{
		runEnv(t, nil, "", "--db", missing, "list"),
		runEnv(t, map[string]string{"KEYDEN_DB": missing}, "", "list"),
	} {
		if r.code != 1 || !strings.Contains(r.stderr, "there is no key store at "+missing) || !strings.Contains(r.stderr, "keyden init") {
			t.Errorf("missing folder: exit %d %q", r.code, r.stderr)
		}
	}
	if r := runEnv(t, nil, "", "--db", missing, "create", "--name", "x", "--env", "dev"); r.code != 1 || !strings.Contains(r.stderr, "does not exist") || !strings.Contains(r.stderr, "keyden init") {
		t.Errorf("create in a missing folder: exit %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(base, "nonexistent")); !os.IsNotExist(err) {
		t.Fatal("a folder was made for a mistyped path")
	}
	if r := runEnv(t, nil, "", "--db", "", "list"); r.code != 2 || !strings.Contains(r.stderr, "--db is empty") {
		t.Errorf(`--db "": exit %d %q`, r.code, r.stderr)
	}
	if r := runEnv(t, nil, "", "--db", missing, "init"); r.code != 0 {
		t.Errorf("init: exit %d %q", r.code, r.stderr)
	}
	home := filepath.Join(base, "home")
	if r := runEnv(t, map[string]string{"HOME": home}, "", "list"); r.code != 0 {
		t.Errorf("default location: exit %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(home, ".local", "share", "keyden", "keyden.db")); err != nil {
		t.Errorf("the default store was not made: %v", err)
	}
}

func TestBackupAndMigrateSentences(t *testing.T) {
	db := newDB(t)
	create(t, db, "--name", "a", "--env", "dev")
	if r := run(t, db, "", "backup", ""); r.code != 2 || !strings.Contains(r.stderr, "the backup path is empty") {
		t.Errorf(`backup "": exit %d %q`, r.code, r.stderr)
	}
	notes := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notes, []byte(strings.Repeat("shopping list\n", 500)), 0o600)
	if r := run(t, notes, "", "backup", filepath.Join(t.TempDir(), "b.db")); r.code != 1 || !strings.Contains(r.stderr, "notes.txt is not a keyden store but some other file") {
		t.Errorf("backup of a non-store: exit %d %q", r.code, r.stderr)
	}
	r := run(t, db, "", "migrate", "--from", db, "--to", notes)
	if r.code != 1 || !strings.Contains(r.stderr, "notes.txt is not a keyden store") || strings.Contains(r.stderr, "check --db") {
		t.Errorf("migrate --to notes.txt: exit %d %q", r.code, r.stderr)
	}
}

// The TUI on a damaged store: one sentence before the terminal is taken over.
func TestTUIOnDamagedStoreIsASentence(t *testing.T) {
	db := newDB(t)
	for i := range 40 {
		create(t, db, "--name", "k"+strconv.Itoa(i), "--env", "dev")
	}
	raw, _ := os.ReadFile(db)
	os.WriteFile(db, raw[:20000], 0o600)
	var out, errb bytes.Buffer
	called := false
	code := Run(context.Background(), nil, Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv:     func(k string) string { return map[string]string{"KEYDEN_DB": db}[k] },
		IsTerminal: func(any) bool { return true },
		TUI:        func(context.Context, storage.Store, AppInfo) error { called = true; return nil },
	})
	if code != 1 || called || !strings.Contains(errb.String(), "is damaged") || strings.Count(errb.String(), "\n") != 1 {
		t.Fatalf("exit %d, TUI started %v: %q", code, called, errb.String())
	}
}

// Counts say "1 key", never "1 keys" (check and migrate, the commands that count).
func TestCountsAreSingularForOne(t *testing.T) {
	db := newDB(t)
	create(t, db, "--name", "a", "--env", "dev")
	if r := run(t, db, "", "check"); r.code != 0 || !strings.Contains(r.stdout, "is sound: 1 key and 2 audit events read") {
		t.Errorf("check: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	to := filepath.Join(t.TempDir(), "copy.db")
	if r := run(t, db, "", "migrate", "--from", db, "--to", to); r.code != 0 || !strings.Contains(r.stdout, "Copied 1 key, with") {
		t.Errorf("migrate: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// infoFails is a store whose Info fails: the settings cannot be read.
type infoFails struct{ store }

func (infoFails) Info(context.Context) (storage.Info, error) {
	return storage.Info{}, storage.ErrUnavailable
}

// env add needs the store's prefix for its sentence: a store that cannot
// give it refuses before the environment is added, never printing a guess.
func TestEnvAddNeedsTheStoresPrefix(t *testing.T) {
	db := newDB(t)
	if r := run(t, db, "", "init", "--prefix", "ab"); r.code != 0 {
		t.Fatalf("init: %d %s", r.code, r.stderr)
	}
	st, err := storage.OpenBolt(db, storage.Options{Actor: Actor()})
	if err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	a := &app{env: Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" },
		Now: time.Now, IsTerminal: func(any) bool { return false }}, store: infoFails{st}}
	if code := a.run(context.Background(), []string{"env", "add", "qa"}); code != ExitRefused || out.Len() != 0 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
	if r := run(t, db, "", "env", "list"); strings.Contains(r.stdout, "qa") {
		t.Errorf("the environment was added: %q", r.stdout)
	}
}

// The root help names both kinds of store.
func TestRootHelpNamesEtcd(t *testing.T) {
	r := run(t, newDB(t), "", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "in a local file or in etcd") || strings.Contains(r.stdout, "one local file") {
		t.Errorf("exit %d: %q", r.code, r.stdout)
	}
}

// A decoy's alert names who used it: audit's text says the client IP the
// use came from, as --json does (it said only "a decoy was used").
func TestAuditTextSaysWhoUsedADecoy(t *testing.T) {
	db := newDB(t)
	bait := create(t, db, "--name", "bait", "--env", "dev", "--decoy")
	if r := run(t, db, bait, "verify", "--ip", "203.0.113.9"); r.code != 1 {
		t.Fatalf("verify of a decoy: %d %q", r.code, r.stderr)
	}
	r := run(t, db, "", "audit", "--limit", "1")
	if r.code != 0 || !strings.Contains(r.stdout, "decoy-use") || !strings.Contains(r.stdout, "; from 203.0.113.9") {
		t.Fatalf("audit: %d %q %q", r.code, r.stdout, r.stderr)
	}
}

// KEYDEN_DB set empty (a script's KEYDEN_DB=$STORE with STORE unset) is
// refused as --db "" is, and the default store is neither made nor used.
func TestEmptyKeydenDBIsRefused(t *testing.T) {
	home := t.TempDir()
	for _, args := range [][]string{{"list"}, {"create", "--name", "x", "--env", "dev"}, {"delete", "--filter", "env:dev", "--yes"}, {}} {
		r := runEnv(t, map[string]string{"KEYDEN_DB": "", "HOME": home}, "", args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "KEYDEN_DB is set but empty") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%v: exit %d %q", args, r.code, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(home, ".local")); !os.IsNotExist(err) {
		t.Errorf("the default store's folder was made: %v", err)
	}
	// --db names the store: KEYDEN_DB is not read.
	db := newDB(t)
	if r := runEnv(t, map[string]string{"KEYDEN_DB": "", "HOME": home}, "", "--db", db, "init"); r.code != 0 {
		t.Errorf("--db with KEYDEN_DB empty: exit %d %q", r.code, r.stderr)
	}
}
