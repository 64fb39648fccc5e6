package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// tmuxSession drives the real binary in a real terminal.
type tmuxSession struct {
	t      *testing.T
	socket string
}

func (s *tmuxSession) run(args ...string) string {
	s.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", s.socket, "-f", "/dev/null"}, args...)...).CombinedOutput()
	if err != nil {
		s.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

func (s *tmuxSession) screen() string {
	out, _ := exec.Command("tmux", "-L", s.socket, "capture-pane", "-p", "-t", "e2e").CombinedOutput()
	return string(out)
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
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("tmux is missing: .ci/run installs it")
		}
		t.Skip("tmux is not installed")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "keyden.db")
	s := &tmuxSession{t: t, socket: fmt.Sprintf("keyden-e2e-%d", os.Getpid())}
	// A plain SSH session: no display, so no system clipboard; OSC 52 must carry the key.
	cmd := fmt.Sprintf("env -i HOME=%s TERM=xterm-256color PATH=/usr/bin:/bin KEYDEN_DB=%s %s; sleep 30", dir, db, bin)
	s.run("new-session", "-d", "-s", "e2e", "-x", "80", "-y", "24", cmd)
	defer exec.Command("tmux", "-L", s.socket, "kill-server").Run()
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
	// tmux with set-clipboard on keeps what OSC 52 sent in its paste buffer.
	deadline := time.Now().Add(5 * time.Second)
	buf := ""
	for time.Now().Before(deadline) {
		out, _ := exec.Command("tmux", "-L", s.socket, "show-buffer").CombinedOutput()
		if buf = string(out); buf == key {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if buf != key {
		t.Fatalf("tmux's paste buffer holds %q, not the key", buf)
	}
	if _, errs, code := keyden(t, db, key, "verify", "--env", "prod"); code != 0 {
		t.Fatalf("the revealed key does not verify: %s", errs)
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
	deadline = time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && strings.Contains(s.screen(), "keyden") {
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(s.screen(), "e2e checkout") {
		t.Fatalf("q did not quit:\n%s", s.screen())
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
	out, err := exec.Command(vhs, "validate", "demo.tape").CombinedOutput()
	if err != nil {
		t.Fatalf("vhs validate demo.tape: %v\n%s", err, out)
	}
}
