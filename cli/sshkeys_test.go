package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"keyden/sshd"
	"keyden/storage"
)

const (
	annSSH = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIH4lLz8DQEQjPgZWJpAOenX7cbcd8ZsI7kdTTcax5UPU ann@laptop"
	annFP  = "SHA256:yV2LeM9i2Q1MQY2Unb51CkrF24emCiHAsCNYikxJu+w"
	bobSSH = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB78VYMiDdZUHhVcCgRTu/9TZtcgynJ6RHEJztQfyGZt bob@laptop"
	bobFP  = "SHA256:hoz/k5+UWJxpc6Hrw4XhcPZ0HNeGuGyTGkwUg5XVnsQ"
)

// member add --ssh-key / --ssh-keys-from and member rm-key: bad lines are
// bad usage that changes nothing; keys show in member list and its JSON.
func TestMemberSSHKeyCommands(t *testing.T) {
	db := newDB(t)
	file := filepath.Join(t.TempDir(), "authorized_keys")
	if err := os.WriteFile(file, []byte("# bob's laptop\n"+bobSSH+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(bad, []byte(bobSSH+"\nssh-ed25519 nonsense\n"), 0o600)
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"member", "add", "ann", "--ssh-key", "not a key"}, 2, "is not an SSH public key"},
		{[]string{"member", "add", "ann", "--ssh-key", `command="ls" ` + annSSH}, 2, "has options"},
		{[]string{"member", "add", "ann", "--ssh-keys-from", bad}, 2, "line 2"},
		{[]string{"member", "add", "ann", "--ssh-key", annSSH}, 0, "ann signs in to keyden ssh with " + annFP},
		{[]string{"member", "add", "bob", "--ssh-key", annSSH}, 1, "already belongs to ann"},
		{[]string{"member", "add", "bob", "--ssh-keys-from", file}, 0, bobFP},
		{[]string{"member", "add", "bob", "--ssh-keys-from", file}, 1, "already has these SSH keys"},
		{[]string{"member", "list"}, 0, annFP + " ann@laptop"},
		{[]string{"member", "list", "--json"}, 0, `"fingerprint": "` + bobFP},
		{[]string{"member", "rm-key", "bob", "nonsense"}, 2, "not a key fingerprint"},
		{[]string{"member", "rm-key", "bob", bobSSH}, 0, "Took the SSH key " + bobFP + " from bob"},
		{[]string{"member", "rm-key", "bob", bobFP}, 1, "bob has no SSH key"},
		{[]string{"audit"}, 0, "member-key-rm"},
	}
	for _, s := range steps {
		r := run(t, db, "", s.args...)
		if r.code != s.code || !strings.Contains(r.stdout+r.stderr, s.want) {
			t.Fatalf("%v: exit %d out %q err %q; want %d %q", s.args, r.code, r.stdout, r.stderr, s.code, s.want)
		}
	}
}

// keyden ssh's host key lives next to a store file; for a store on etcd,
// also one named by KEYDEN_DB, in the default store's folder under HOME.
func TestDefaultHostKey(t *testing.T) {
	home := t.TempDir()
	vars := map[string]string{"HOME": home, "KEYDEN_DB": "etcd://127.0.0.1:2379/keys"}
	a := &app{env: Env{Getenv: func(k string) string { return vars[k] }}}
	if got, want := a.defaultHostKey(nil), filepath.Join(home, ".local", "share", "keyden", "ssh_host_ed25519_key"); got != want {
		t.Fatalf("on etcd: %s, want %s", got, want)
	}
	db := filepath.Join(t.TempDir(), "k.db")
	st, err := storage.OpenBolt(db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := a.defaultHostKey(st), filepath.Join(filepath.Dir(db), "ssh_host_ed25519_key"); got != want {
		t.Fatalf("on a file: %s, want %s", got, want)
	}
}

// keyden ssh's flags are checked before the store is opened or a port taken.
func TestSSHFlags(t *testing.T) {
	db := newDB(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ssh", "--listen", "nowhere"}, "is not an address"},
		{[]string{"ssh", "--max-sessions", "0"}, "--max-sessions must be 1 or more"},
		{[]string{"ssh", "--idle-timeout", "10ms"}, "--idle-timeout 10ms is too short"},
		{[]string{"ssh", "--max-input-rate", "10"}, "too low to type in"},
		// A mistyped --host-key folder is not made (it was, with a new key).
		{[]string{"ssh", "--host-key", filepath.Join(t.TempDir(), "typo", "host")}, "/typo for the host key host does not exist: check --host-key"},
	} {
		r := run(t, db, "", c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d %q, want 2 %q", c.args, r.code, r.stderr, c.want)
		}
	}
	if _, err := os.Stat(db); err == nil {
		t.Fatal("bad flags made a store")
	}
	// A host key others may read is refused, naming the fix.
	run(t, db, "", "info")
	key := filepath.Join(t.TempDir(), "host")
	if _, _, err := sshd.HostKey(key); err != nil {
		t.Fatal(err)
	}
	os.Chmod(key, 0o644)
	r := run(t, db, "", "ssh", "--listen", "127.0.0.1:0", "--host-key", key)
	if r.code != 1 || !strings.Contains(r.stderr, "chmod 600 "+key) {
		t.Fatalf("a readable host key: exit %d %q", r.code, r.stderr)
	}
}
