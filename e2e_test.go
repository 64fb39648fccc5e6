package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"keyden/internal/testutil"
	"keyden/storage"
)

// tmuxSession drives the real binary in a real terminal.
type tmuxSession struct {
	t      *testing.T
	socket string
}

// tmuxSocket names a tmux server of a test run's own: with -count, the
// last run's server may still be exiting under the same name.
func tmuxSocket(name string) string {
	return fmt.Sprintf("keyden-%s-%d-%d", name, os.Getpid(), time.Now().UnixNano())
}

// needTmux skips the test without tmux on a developer's machine and fails
// it in CI, where .ci/run installs tmux and a skip would hide the test.
func needTmux(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is missing: .ci/run installs it")
		}
		t.Skip("tmux is not installed")
	}
}

// tmuxAppStore makes an empty store, acted on as root, in a test folder,
// for the app run in tmux (skipping where tmux is missing).
func tmuxAppStore(t *testing.T) (dir, db string, st *storage.Bolt) {
	t.Helper()
	needTmux(t)
	dir = t.TempDir()
	db = filepath.Join(dir, "keyden.db")
	st, err := storage.OpenBolt(db, storage.Options{Actor: "root"})
	if err != nil {
		t.Fatal(err)
	}
	return dir, db, st
}

// appCommand is the shell command that runs the app on db with a clean
// environment (the pane stays a while after it quits, to be read).
func appCommand(dir, db string) string {
	return fmt.Sprintf("env -i HOME=%s TERM=xterm-256color PATH=/usr/bin:/bin KEYDEN_DB=%s %s; sleep 30", dir, db, bin)
}

// startTmux runs the shell command cmd in tmux session "e2e", w×h cells, on
// a tmux server of the test's own (see tmuxSocket) started with the config
// file conf, and kills that server when the test ends. The server runs in
// the foreground (-D) as the test binary's child, so it dies with a killed
// test binary (its panes with it, hung up) where a daemon would run on.
func startTmux(t *testing.T, name, conf string, w, h int, cmd string) *tmuxSession {
	t.Helper()
	sweepTmuxOnce.Do(sweepTmux)
	s := &tmuxSession{t: t, socket: tmuxSocket(name)}
	srv := testutil.Command("tmux", "-D", "-L", s.socket, "-f", conf)
	// In a session of its own, as a daemon is: in the test's, twenty ssh
	// panes (TestSSHTwentySessions) were slow enough under load for
	// keyden ssh to refuse the eleventh not yet signed in.
	srv.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	out := &testutil.SyncBuffer{}
	srv.Stdout, srv.Stderr = out, out
	if err := srv.Start(); err != nil {
		t.Fatalf("tmux: %v", err)
	}
	exited := make(chan struct{})
	go func() { srv.Wait(); close(exited) }()
	t.Cleanup(func() {
		testutil.Command("tmux", "-N", "-L", s.socket, "kill-server").Run()
		srv.Process.Kill()
		<-exited
	})
	// -N: a client never starts a server of its own, so this one answers
	// once it listens.
	deadline := time.Now().Add(10 * time.Second)
	for testutil.Command("tmux", "-N", "-L", s.socket, "start-server").Run() != nil {
		select {
		case <-exited:
			t.Fatalf("tmux server exited: %s", out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("tmux server not answering after 10 s: %s", out)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out, err := testutil.Command("tmux", "-N", "-L", s.socket, "new-session", "-d", "-s", "e2e", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), cmd).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	return s
}

// A test binary killed outright (go test's -timeout, a cancelled CI job)
// takes its tmux server with it, and the program in the server's pane.
func TestTmuxDiesWithTheTestBinary(t *testing.T) {
	if pidFile := os.Getenv("KEYDEN_TEST_TMUX_PIDS"); pidFile != "" {
		s := startTmux(t, "orphan", "/dev/null", 80, 24, "sleep 300")
		os.WriteFile(pidFile, []byte(s.run("display-message", "-p", "-t", "e2e", "#{pid} #{pane_pid}")), 0o600)
		time.Sleep(time.Hour) // until killed
		return
	}
	needTmux(t)
	pidFile := filepath.Join(t.TempDir(), "pids")
	tb := testutil.Command(os.Args[0], "-test.run=^TestTmuxDiesWithTheTestBinary$")
	tb.Env = append(os.Environ(), "KEYDEN_TEST_TMUX_PIDS="+pidFile)
	if err := tb.Start(); err != nil {
		t.Fatal(err)
	}
	var pids []int
	testutil.WaitFor(t, "the tmux server and its pane", func() bool {
		b, _ := os.ReadFile(pidFile)
		pids = nil
		for _, f := range strings.Fields(string(b)) {
			if p, err := strconv.Atoi(f); err == nil {
				pids = append(pids, p)
			}
		}
		return len(pids) == 2
	})
	t.Cleanup(func() {
		for _, p := range pids {
			syscall.Kill(p, syscall.SIGKILL)
		}
	})
	tb.Process.Kill()
	tb.Wait()
	testutil.WaitFor(t, "the tmux server and its pane to end", func() bool { return testutil.Gone(pids[0]) && testutil.Gone(pids[1]) })
}

var sweepTmuxOnce sync.Once

// sweepTmux ends the tmux servers, and removes the sockets, of test
// binaries that are gone (killed before their cleanups ran): runs before
// -D left daemons behind, and a killed server leaves its socket.
func sweepTmux() {
	dir := os.Getenv("TMUX_TMPDIR")
	if dir == "" {
		dir = "/tmp"
	}
	dir = filepath.Join(dir, fmt.Sprintf("tmux-%d", os.Getuid()))
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		f := strings.Split(e.Name(), "-") // keyden-NAME-PID-NANOS (see tmuxSocket)
		if len(f) < 4 || f[0] != "keyden" {
			continue
		}
		pid, err := strconv.Atoi(f[len(f)-2])
		if _, err2 := strconv.Atoi(f[len(f)-1]); err != nil || err2 != nil || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		if c, err := net.Dial("unix", filepath.Join(dir, e.Name())); err == nil {
			c.Close()
			testutil.Command("tmux", "-N", "-L", e.Name(), "kill-server").Run()
		}
		os.Remove(filepath.Join(dir, e.Name()))
	}
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := testutil.Command("tmux", append([]string{"-L", s.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string {
	out, _ := testutil.Command("tmux", "-L", s.socket, "capture-pane", "-p", "-t", "e2e").CombinedOutput()
	return string(out)
}

// buffers is tmux's paste buffers, newest first.
func (s *tmuxSession) buffers() []string {
	var bufs []string
	for _, name := range strings.Fields(s.run("list-buffers", "-F", "#{buffer_name}")) {
		bufs = append(bufs, s.run("show-buffer", "-b", name))
	}
	return bufs
}

// waitUntil polls cond until it holds or 10 s pass.
func (s *tmuxSession) waitUntil(what string, cond func() bool) {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			s.t.Fatalf("%s never happened:\n%s", what, s.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *tmuxSession) waitFor(text string) string {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if scr := s.screen(); strings.Contains(scr, text) {
			return scr
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("the terminal never showed %q:\n%s", text, s.screen())
	return ""
}

func (s *tmuxSession) keys(keys ...string) {
	s.run(append([]string{"send-keys", "-t", "e2e"}, keys...)...)
}
func (s *tmuxSession) typeText(text string) { s.run("send-keys", "-t", "e2e", "-l", text) }

var keyRE = regexp.MustCompile(`kd_prod_[0-9A-Za-z]{56}`)

// The whole flow in a real terminal: create through the form, read the key
// on the reveal screen, find the OSC 52 copy in tmux's paste buffer, leave,
// find the row, delete it through the confirm, and see verify refuse it.
func TestTUIEndToEndInTmux(t *testing.T) {
	needTmux(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "keyden.db")
	// A plain SSH session: no display, so no system clipboard; OSC 52 must carry the key.
	cmd := fmt.Sprintf("env -i HOME=%s TERM=xterm-256color PATH=/usr/bin:/bin KEYDEN_DB=%s KEYDEN_CLIPBOARD_CLEAR=2s %s; sleep 30", dir, db, bin)
	s := startTmux(t, "e2e", "/dev/null", 80, 24, cmd)
	s.run("set-option", "-g", "set-clipboard", "on")

	s.waitFor("Press n to create")
	s.keys("n")
	s.waitFor("New key")
	s.typeText("e2e checkout")
	s.keys("Tab")
	s.keys("Tab")
	s.keys("Right")
	s.keys("Right") // environment: prod
	s.waitFor("● prod")
	s.keys("Enter")
	s.waitFor("Your new key")
	// "Copying…" until the clipboard attempts are done (slow on a busy machine).
	scr := s.waitFor("OSC 52")
	key := keyRE.FindString(scr)
	if key == "" {
		t.Fatalf("no key on the reveal screen:\n%s", scr)
	}
	if !strings.Contains(scr, "OSC 52") || !strings.Contains(scr, "No system clipboard here") {
		t.Fatalf("the reveal screen does not say honestly where the key went:\n%s", scr)
	}
	// tmux with set-clipboard on keeps what OSC 52 sent as a paste buffer
	// (looked for among them all: the 2 s clear may already have come).
	s.waitUntil("the key in a tmux paste buffer", func() bool { return slices.Contains(s.buffers(), key) })
	if _, errs, code := keyden(t, db, key, "verify", "--env", "prod"); code != 0 {
		t.Fatalf("the revealed key does not verify: %s", errs)
	}
	// tmux ignores the OSC 52 clear: after the clear the newest buffer must
	// be keyden's replacement, and the reveal must say only what keyden knows.
	s.waitUntil("the overwrite of the newest tmux buffer", func() bool {
		bufs := s.buffers()
		return len(bufs) > 0 && bufs[0] == "keyden: cleared"
	})
	scr = s.waitFor("Asked your terminal to overwrite")
	if strings.Contains(scr, "clears what it copied") || !strings.Contains(scr, "earlier copies keyden can't reach") {
		t.Fatalf("the reveal after the clear:\n%s", scr)
	}

	s.keys("Escape")
	scr = s.waitFor("LAST USED")
	if keyRE.MatchString(scr) || strings.Contains(scr, "Your new key") {
		t.Fatalf("the key is still on screen after leaving:\n%s", scr)
	}
	s.keys("d")
	s.waitFor("to confirm:")
	s.typeText("e2e checkout")
	s.keys("Right")
	s.waitFor("[ Yes, delete ]")
	s.keys("Enter")
	s.waitFor("Deleted e2e checkout")
	_, errs, code := keyden(t, db, key, "verify")
	if code != 1 || !strings.Contains(errs, "unknown") {
		t.Fatalf("verify after a delete in the TUI: exit %d %q", code, errs)
	}
	s.keys("q")
	// Back in the shell, keyden says where copies may remain.
	s.waitUntil("the note on leaving", func() bool {
		out, _ := testutil.Command("tmux", "-L", s.socket, "capture-pane", "-p", "-J", "-t", "e2e").CombinedOutput()
		return strings.Contains(string(out), "may keep copies of the keys keyden copied. In tmux, `tmux list-buffers`")
	})
	if strings.Contains(s.screen(), "e2e checkout") {
		t.Fatalf("q did not quit:\n%s", s.screen())
	}
	if bufs := s.buffers(); bufs[0] == key {
		t.Fatal("quitting left the key as tmux's newest buffer")
	}
}

// demo.tape must stay a valid VHS script (rendering needs ttyd, which CI lacks).
func TestDemoTapeIsValid(t *testing.T) {
	vhs, err := exec.LookPath("vhs")
	if err != nil {
		if home, _ := os.UserHomeDir(); home != "" {
			if _, err := os.Stat(filepath.Join(home, "go", "bin", "vhs")); err == nil {
				vhs = filepath.Join(home, "go", "bin", "vhs")
			}
		}
	}
	if vhs == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("vhs is missing: .ci/run installs it")
		}
		t.Skip("vhs is not installed: go install github.com/charmbracelet/vhs@v0.10.0")
	}
	out, err := testutil.Command(vhs, "validate", "demo.tape").CombinedOutput()
	if err != nil {
		t.Fatalf("vhs validate demo.tape: %v\n%s", err, out)
	}
}
