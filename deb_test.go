package main

import (
	"bytes"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"keyden/internal/testutil"
)

// The .deb a release makes installs a keyden that works, with its man
// page and shell completion, and removing it leaves the user's store
// alone. It installs into /usr, so it runs only as root with dpkg, where
// no keyden package is installed already (CI's machine); elsewhere it
// says why it skipped.
func TestDebPackageInstallsAndRemovesCleanly(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: building and installing a package takes a while")
	}
	if os.Geteuid() != 0 {
		t.Skip("installing a .deb needs root")
	}
	for _, tool := range []string{"dpkg", "man", "bash", "git"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s here", tool)
		}
	}
	if _, err := os.Stat("/usr/share/bash-completion/bash_completion"); err != nil {
		t.Skip("bash-completion is not installed (.ci/run installs it)")
	}
	// Two suites at once share one dpkg: take turns.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "keyden-deb-test.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	if out, err := testutil.Command("dpkg-query", "-W", "-f=${Status}", "keyden").Output(); err == nil && strings.Contains(string(out), "installed") {
		t.Skip("a keyden package is installed on this machine already; not touching it")
	}

	dist := t.TempDir()
	rel := testutil.Command("bash", "scripts/release.sh")
	rel.Env = append(os.Environ(), "ARCHES=amd64", "DIST="+dist)
	out, err := rel.CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/release.sh: %v\n%s", err, out)
	}
	deb := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(deb, '\n'); i >= 0 {
		deb = deb[i+1:]
	}
	if !strings.HasSuffix(deb, ".deb") {
		t.Fatalf("release.sh did not name a .deb: %q", out)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := testutil.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	// No systemd runs here to see it; the script that stops keyden ssh on
	// removal must at least be in the package.
	if prerm := run("dpkg-deb", "--info", deb, "prerm"); !strings.Contains(prerm, "systemctl disable --now keyden-ssh.service") {
		t.Errorf("the package does not stop keyden ssh when removed:\n%s", prerm)
	}
	run("dpkg", "-i", deb)
	removed := false
	defer func() {
		if !removed {
			testutil.Command("dpkg", "-r", "keyden").Run()
		}
	}()

	for _, f := range []string{"/usr/bin/keyden-etcd", "/usr/lib/systemd/system/keyden-ssh.service", "/usr/share/man/man1/keyden.1.gz", "/usr/share/zsh/vendor-completions/_keyden"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("the package did not install %s: %v", f, err)
		}
	}
	if _, err := testutil.Command("getent", "passwd", "keyden").Output(); err != nil {
		t.Errorf("the package did not make the keyden user its systemd unit runs as: %v", err)
	}

	commit := strings.TrimSpace(run("git", "rev-parse", "HEAD"))
	if v := run("/usr/bin/keyden", "--version"); !strings.Contains(v, "commit "+commit[:12]) || !strings.Contains(v, "built ") {
		t.Errorf("keyden --version = %q, want the commit %s and a build date", v, commit[:12])
	}

	home := t.TempDir()
	db := filepath.Join(home, "keys.db")
	env := []string{"HOME=" + home, "KEYDEN_DB=" + db, "PATH=/usr/bin:/bin"}
	installed := func(stdin string, args ...string) (string, string, int) {
		cmd := testutil.Command("/usr/bin/keyden", args...)
		cmd.Env = env
		return runProcess(t, cmd, stdin)
	}
	if _, errs, code := installed("", "init"); code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	if _, errs, code := installed("", "env", "add", "canary"); code != 0 {
		t.Fatalf("env add: %d %s", code, errs)
	}
	secret, errs, code := installed("", "create", "--name", "packaged", "--env", "dev")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errs)
	}
	if _, errs, code := installed(strings.TrimSpace(secret)+"\n", "verify"); code != 0 {
		t.Errorf("verify of the key just made: %d %s", code, errs)
	}

	// An etcd location is handed to the packaged keyden-etcd: the answer is
	// about etcd (nothing listens there), not a missing helper binary.
	if _, errs, code := installed("", "--db", "etcd://127.0.0.1:9/keys", "info"); code == 0 || !strings.Contains(errs, "etcd") || strings.Contains(errs, "keyden-etcd") {
		t.Errorf("keyden on an etcd store from the package: exit %d: %s", code, errs)
	}

	man := testutil.Command("man", "-P", "cat", "keyden")
	man.Env = append(env, "MANWIDTH=80")
	if out, err := man.CombinedOutput(); err != nil || !strings.Contains(string(out), "keyden - Create, review, rotate and delete API keys") {
		t.Errorf("man keyden: %v\n%s", err, out)
	}

	// Completing `keyden create --env ca` the way bash does on tab.
	script := `source /usr/share/bash-completion/bash_completion
source /usr/share/bash-completion/completions/keyden
COMP_LINE="keyden create --env ca"; COMP_POINT=${#COMP_LINE}
COMP_WORDS=(keyden create --env ca); COMP_CWORD=3
__start_keyden keyden ca create
printf '%s\n' "${COMPREPLY[@]}"`
	bashc := testutil.Command("bash", "--norc", "--noprofile", "-c", script)
	bashc.Env = env
	// (compopt complains on stderr outside a real tab press; stdout is the answer.)
	if out, err := bashc.Output(); err != nil || strings.TrimSpace(string(out)) != "canary" {
		t.Errorf("bash completion of an environment: %v\n%q", err, out)
	}

	before := fileSum(t, db)
	run("dpkg", "-r", "keyden")
	removed = true
	if _, err := os.Stat("/usr/bin/keyden"); !os.IsNotExist(err) {
		t.Errorf("/usr/bin/keyden is still there after dpkg -r: %v", err)
	}
	if after := fileSum(t, db); !bytes.Equal(before, after) {
		t.Error("dpkg -r changed the user's key store")
	}
}

func fileSum(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return s[:]
}
