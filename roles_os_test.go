package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"keyden/internal/testutil"
)

// The roles with real OS users: root makes a store shared with a group,
// adds two admins, and each runs the real binary as itself.
func TestRolesWithRealOSUsers(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to create OS users: run the suite as root (CI does) to test roles with real users")
	}
	for _, tool := range []string{"useradd", "groupadd", "userdel", "groupdel", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("needs %s", tool)
		}
	}
	// Names of this process's own, so a second copy of the suite running
	// beside this one makes and deletes its own users (all 10 characters, as
	// the audit columns below expect).
	id := os.Getpid() % 100000
	group := fmt.Sprintf("kdt%05d", id)
	ann, bob, eve := fmt.Sprintf("k%05d-ann", id), fmt.Sprintf("k%05d-bob", id), fmt.Sprintf("k%05d-eve", id)
	users := []string{ann, bob, eve}
	sh := func(args ...string) {
		if out, err := testutil.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
	}
	testutil.Command("groupdel", group).Run()
	sh("groupadd", group)
	t.Cleanup(func() { testutil.Command("groupdel", group).Run() })
	for _, u := range users {
		testutil.Command("userdel", u).Run()
		sh("useradd", "--no-create-home", "--gid", group, u)
		t.Cleanup(func() { testutil.Command("userdel", u).Run() })
	}
	base := t.TempDir()
	os.Chmod(filepath.Dir(base), 0o755) // the test's own parent folder is 0700
	os.Chmod(base, 0o755)
	db := filepath.Join(base, "shared", "keyden.db")

	as := func(user, stdin string, args ...string) (string, string, int) {
		t.Helper()
		argv := []string{bin}
		if user != "root" {
			argv = []string{"setpriv", "--reuid=" + user, "--regid=" + group, "--init-groups", bin}
		}
		cmd := testutil.Command(argv[0], append(argv[1:], append([]string{"--db", db}, args...)...)...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=/nonexistent"}
		return runProcess(t, cmd, stdin)
	}
	ok := func(user string, args ...string) string {
		t.Helper()
		out, errs, code := as(user, "", args...)
		if code != 0 {
			t.Fatalf("%s: keyden %v: exit %d %s", user, args, code, errs)
		}
		return out
	}
	refused := func(user, says string, args ...string) {
		t.Helper()
		_, errs, code := as(user, "", args...)
		if code != 1 || !strings.Contains(errs, says) {
			t.Fatalf("%s: keyden %v: exit %d %q; want a refusal saying %q", user, args, code, errs, says)
		}
	}

	ok("root", "init", "--group", group)
	if fi, err := os.Stat(db); err != nil || fi.Mode().Perm() != 0o660 {
		t.Fatalf("shared store mode: %v %v", fi.Mode(), err)
	}
	ok("root", "member", "add", ann, "--role", "admin")
	ok("root", "member", "add", bob, "--role", "admin")
	refused(ann, "only a super admin may add members", "member", "add", eve)
	refused(eve, eve+" is not a member of this key store: ask the super admin root", "create", "--name", "eve's", "--env", "dev")

	annKey := strings.TrimSpace(ok(ann, "create", "--name", "ann's", "--env", "dev"))
	bobKey := strings.TrimSpace(ok(bob, "create", "--name", "bob's", "--env", "dev"))
	ids := map[string]string{}
	for _, line := range strings.Split(ok(eve, "list"), "\n")[1:] {
		f := strings.Fields(line)
		if len(f) > 1 {
			ids[f[1]] = f[0]
		}
	}
	if ids["ann's"] == "" || ids["bob's"] == "" {
		t.Fatalf("keys not listed: %v", ids)
	}
	// Verify is open to anyone who can read the store.
	if _, errs, code := as(eve, annKey, "verify"); code != 0 {
		t.Fatalf("verify as a non-member: %s", errs)
	}
	refused(bob, "may delete only keys it created", "delete", ids["ann's"], "--yes")
	refused(bob, "may disable only keys it created", "disable", ids["ann's"])
	refused(bob, "may rotate only keys it created", "rotate", ids["ann's"])
	refused(eve, "not a member", "delete", ids["bob's"], "--yes")
	ok(ann, "disable", ids["ann's"])
	ok(ann, "delete", ids["ann's"], "--yes")
	ok("root", "delete", ids["bob's"], "--yes")
	if _, _, code := as("root", bobKey, "verify"); code != 1 {
		t.Fatal("bob's key still verifies after root deleted it")
	}
	audit := ok("root", "audit")
	for _, want := range []string{ann + "  disable", ann + "  delete", "root        delete", bob + "  create"} {
		if !strings.Contains(audit, want) {
			t.Errorf("audit lacks %q:\n%s", want, audit)
		}
	}
}
