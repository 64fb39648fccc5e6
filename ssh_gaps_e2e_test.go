package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"keyden/internal/testutil"
)

// A real client's session ends within about a second, with a sentence,
// once its key is taken from the member (member rm-key) or its member is
// removed (member rm), each from another process; the key then no longer
// signs in. Checked to fail on the commit before followMembers: both
// sessions stayed open.
func TestSSHRevokedSessionsEnd(t *testing.T) {
	needTmux(t)
	w := newSSHWorld(t)
	w.start()
	s := startTmux(t, "sshrevoke", "/dev/null", 120, 24, w.tui("ann"))
	s.run("new-window", "-t", "e2e", w.tui("bob"))
	panes := strings.Fields(s.run("list-panes", "-s", "-t", "e2e", "-F", "#{pane_id}"))
	pane := func(p string) string {
		out, _ := testutil.Command("tmux", "-L", s.socket, "capture-pane", "-p", "-J", "-t", p).CombinedOutput()
		return string(out)
	}
	for _, p := range panes {
		s.waitUntil("the app in "+p, func() bool { return strings.Contains(pane(p), "Press n to create") })
	}
	for i, c := range []struct{ member, sentence string }{
		{"ann", "the SSH key " + w.fps["ann"] + " is no longer a key of the member ann, so this session ends: ask the super admin root to add it again"},
		{"bob", "the SSH key " + w.fps["bob"] + " is no longer a key of the member bob, so this session ends"},
	} {
		args := []string{"member", "rm-key", "ann", w.fps["ann"]}
		if c.member == "bob" {
			args = []string{"member", "rm", "bob"}
		}
		if _, errs, code := keyden(t, w.db, "", args...); code != 0 {
			t.Fatal(errs)
		}
		removed := time.Now()
		s.waitUntil(c.member+"'s session told why it ends", func() bool { return strings.Contains(pane(panes[i]), c.sentence) })
		if d := time.Since(removed); d > 2*time.Second {
			t.Errorf("%s's session ended %v after the change", c.member, d)
		}
		s.waitUntil(c.member+"'s client gone", func() bool { return strings.Contains(pane(panes[i]), "SSH-EXITED") })
		if _, errs, code := w.ssh(c.member, "list"); code != 255 || !strings.Contains(errs, "Permission denied (publickey") {
			t.Errorf("%s's key after the change: exit %d %q", c.member, code, errs)
		}
	}
}

// A role changed by the super admin applies in an open session at its
// next action: promoted, ann deletes root's key; demoted again, she may not.
func TestSSHRoleChangeInOpenSession(t *testing.T) {
	needTmux(t)
	w := newSSHWorld(t)
	keyden(t, w.db, "", "create", "--name", "root one", "--env", "dev")
	w.start()
	s := startTmux(t, "sshrole", "/dev/null", 120, 24, w.tui("ann"))
	s.waitFor("root one")
	s.keys("d")
	s.waitFor("ann is an admin and may delete only keys it created")
	if _, errs, code := keyden(t, w.db, "", "member", "add", "ann", "--role", "super-admin"); code != 0 {
		t.Fatal(errs)
	}
	// The session takes the change from the feed: d asks once it has.
	s.waitUntil("the delete asked", func() bool {
		if strings.Contains(s.screen(), "Delete this key?") {
			return true
		}
		s.keys("d")
		return false
	})
	s.keys("y")
	s.waitFor("Deleted root one")
	keyden(t, w.db, "", "create", "--name", "root two", "--env", "dev")
	s.waitFor("root two")
	if _, errs, code := keyden(t, w.db, "", "member", "add", "ann", "--role", "admin"); code != 0 {
		t.Fatal(errs)
	}
	s.waitUntil("the delete refused", func() bool {
		scr := s.screen()
		if strings.Contains(scr, "ann is an admin and may delete only keys it created") {
			return true
		}
		if strings.Contains(scr, "Delete this key?") {
			s.keys("y") // asked before the change arrived: the store refuses
			return false
		}
		s.keys("d")
		return false
	})
	if out, _, _ := keyden(t, w.db, "", "list"); !strings.Contains(out, "root two") {
		t.Fatalf("root two was deleted by a demoted admin:\n%s", out)
	}
}

// ssh -A: the command works, the server refuses the agent and never opens
// an agent channel. ssh -N -L: a connection to the forwarded port is closed
// and never reaches the target.
func TestSSHNoAgentNoLocalForwarding(t *testing.T) {
	w := newSSHWorld(t)
	w.start()
	sock := filepath.Join(w.dir, "agent.sock")
	agent := testutil.Command("ssh-agent", "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ssh-agent never listened")
		}
		time.Sleep(20 * time.Millisecond)
	}
	args := w.sshArgs(w.keys["ann"], "-v", "-o", "BatchMode=yes", "-A", "127.0.0.1", "list", "--json")
	for i, a := range args {
		if a == "IdentityAgent=none" {
			args[i] = "IdentityAgent=" + sock
		}
	}
	cmd := testutil.Command("ssh", args...)
	cmd.Env = []string{"HOME=" + w.dir, "PATH=/usr/bin:/bin", "SSH_AUTH_SOCK=" + sock}
	out, errs, code := runProcess(t, cmd, "")
	local, _, _ := keyden(t, w.db, "", "list", "--json")
	if code != 0 || out != local {
		t.Fatalf("list --json with ssh -A: exit %d %q\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "Requesting authentication agent forwarding") || strings.Contains(errs, "auth-agent@openssh.com") {
		t.Fatalf("ssh -A: the agent was asked for, or a channel opened:\n%s", errs)
	}

	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	var reached atomic.Int32
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			reached.Add(1)
			c.Close()
		}
	}()
	local = "127.0.0.1:" + fmt.Sprint(freePort(t))
	fwd := testutil.Command("ssh", append(w.sshArgs(w.keys["ann"], "-o", "BatchMode=yes", "-N", "-L", local+":"+target.Addr().String()), "127.0.0.1")...)
	fwd.Env = []string{"HOME=" + w.dir, "PATH=/usr/bin:/bin"}
	fwdErr := &testutil.SyncBuffer{}
	fwd.Stderr = fwdErr
	if err := fwd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fwd.Process.Kill(); fwd.Wait() })
	var c net.Conn
	deadline = time.Now().Add(10 * time.Second)
	for c == nil {
		if c, err = net.Dial("tcp", local); err != nil {
			c = nil
			if time.Now().After(deadline) {
				t.Fatalf("ssh -L never listened: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if n, err := c.Read(make([]byte, 16)); err != io.EOF {
		t.Fatalf("the forwarded connection: %d bytes, %v", n, err)
	}
	c.Close()
	if reached.Load() != 0 {
		t.Fatal("the forwarded connection reached its target")
	}
	// ssh says why, in keyden's words.
	const why = "open failed: administratively prohibited: keyden ssh forwards no ports"
	for deadline = time.Now().Add(10 * time.Second); !strings.Contains(fwdErr.String(), why); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("ssh -L said %q, not why", fwdErr.String())
		}
	}
}

// --login-grace closes a connection that never signs in; a grace under a
// second is bad usage.
func TestSSHLoginGrace(t *testing.T) {
	w := newSSHWorld(t)
	if _, errs, code := keyden(t, w.db, "", "ssh", "--login-grace", "0s"); code != 2 || !strings.Contains(errs, "--login-grace 0s is too short") {
		t.Fatalf("--login-grace 0s: exit %d %q", code, errs)
	}
	w.start("--login-grace", "1s")
	c, err := net.Dial("tcp", w.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("a silent connection: %v after %v", err, time.Since(start))
	}
	if d := time.Since(start); d < 900*time.Millisecond || d > 5*time.Second {
		t.Fatalf("a silent connection was closed after %v", d)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(w.log.String(), "not signed in within 1s"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the log:\n%s", w.log)
		}
	}
}
