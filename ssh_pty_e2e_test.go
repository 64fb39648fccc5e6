package main

import (
	"strings"
	"testing"
)

// ssh -t … delete ID in a real OpenSSH client in tmux asks on the session's
// terminal as keyden asks locally: a prod key wants its name, typed and
// echoed; a wrong name, or ctrl+c, deletes nothing; the name deletes it.
// Without -t the delete still needs --yes. Checked to fail before commands
// got the PTY: each ssh -t delete said there was no terminal to ask on.
func TestSSHDeleteAsksOnThePTY(t *testing.T) {
	needTmux(t)
	w := newSSHWorld(t)
	w.start()
	if _, errs, code := w.ssh("ann", "create", "--name", "'web checkout'", "--env", "prod"); code != 0 {
		t.Fatalf("create over ssh: exit %d %q", code, errs)
	}
	id := keyID(t, w.db, "web checkout")
	if _, errs, code := w.ssh("ann", "delete", id); code != 2 || !strings.Contains(errs, "pass --yes") {
		t.Fatalf("delete without a PTY: exit %d %q", code, errs)
	}
	kept := func(what string) {
		t.Helper()
		if out, _, _ := keyden(t, w.db, "", "list", "--json"); !strings.Contains(out, id) {
			t.Fatalf("%s deleted the key", what)
		}
	}
	deleteOverSSH := func(name string) *tmuxSession {
		s := startTmux(t, "sshpty-"+name, "/dev/null", 120, 30, w.sshT("ann", "delete "+id))
		s.waitFor(`This is a prod key: type its name, "web checkout", to delete:`)
		return s
	}

	s := deleteOverSSH("wrong")
	s.typeText("web shop")
	s.waitFor("to delete: web shop") // echoed by the server
	s.keys("Enter")
	s.waitFor(`"web shop" is not the key's name, "web checkout". Not deleted.`)
	s.waitFor("SSH-EXITED=1")
	kept("a wrong name")

	s = deleteOverSSH("ctrlc")
	s.typeText("web")
	s.waitFor("to delete: web")
	s.keys("C-c")
	s.waitFor("Cancelled. Not deleted.")
	s.waitFor("SSH-EXITED=1")
	kept("ctrl+c")

	s = deleteOverSSH("name")
	s.typeText("web checkoux")
	s.keys("BSpace")
	s.typeText("t")
	s.keys("Enter")
	s.waitFor(`Deleted "web checkout"`)
	s.waitFor("SSH-EXITED=0")
	if out, _, _ := keyden(t, w.db, "", "list", "--json"); strings.Contains(out, id) {
		t.Fatalf("the name typed did not delete the key:\n%s", out)
	}
}

// ssh -t … rotate asks on the session's terminal what it asks locally: a
// rotate by --filter asks yes and says until when the old keys work; one
// key's rotate asks nothing (--grace is its answer) and says until when
// after. The real OpenSSH client in tmux. The question's grace line fails
// on the old code (it named only the keys).
func TestSSHRotateAsksOnThePTY(t *testing.T) {
	needTmux(t)
	w := newSSHWorld(t)
	w.start()
	if _, errs, code := w.ssh("ann", "create", "--name", "'web checkout'", "--env", "prod"); code != 0 {
		t.Fatalf("create over ssh: exit %d %q", code, errs)
	}
	id := keyID(t, w.db, "web checkout")
	overSSH := func(name, args string) *tmuxSession {
		return startTmux(t, "sshrotate-"+name, "/dev/null", 160, 30, w.sshT("ann", args))
	}
	s := overSSH("filter", "rotate --filter env:prod --grace 1h")
	s.waitFor("(--grace), or its own earlier expiry: apps using it must switch to the new key by then.")
	s.waitFor("Type yes to rotate:")
	s.typeText("yes")
	s.keys("Enter")
	s.waitFor(`Rotated "web checkout" (` + id + " → ")
	s.waitFor("SSH-EXITED=0")
	if out, _, _ := keyden(t, w.db, "", "show", id, "--json"); !strings.Contains(out, `"rotated_to"`) {
		t.Fatalf("yes did not rotate the key:\n%s", out)
	}
	newID := ""
	if out, _, _ := keyden(t, w.db, "", "list", "--json"); strings.Count(out, `"id"`) == 2 {
		for _, f := range strings.Split(out, `"id":"`)[1:] {
			if k := f[:strings.IndexByte(f, '"')]; k != id {
				newID = k
			}
		}
	}
	if newID == "" {
		t.Fatal("no new key listed")
	}
	s = overSSH("one", "rotate "+newID+" --grace 1h")
	screen := s.waitFor("SSH-EXITED=0")
	if strings.Contains(screen, "Type") || !strings.Contains(screen, "This is the only time the new key is shown.") {
		t.Fatalf("one key's rotate over ssh -t:\n%s", screen)
	}
}
