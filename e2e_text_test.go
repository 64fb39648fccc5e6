package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"keyden/internal/hostile"
	"keyden/storage"
)

// A store written around validation, opened in the TUI in a real tmux with
// set-clipboard on: the hostile text shows escaped, tmux's paste buffers
// stay empty (no OSC 52 got through) and the pane's title is unchanged (no
// OSC 0), even with escapes in the store's own path.
func TestStoredEscapesStayInertInTmux(t *testing.T) {
	needTmux(t)
	dir := t.TempDir()
	db := filepath.Join(dir, hostile.Text+".db")
	st, err := storage.OpenBolt(db, storage.Options{Actor: hostile.Actor})
	if err != nil {
		t.Fatal(err)
	}
	hostile.Fill(t, st)
	hostile.Bolt(t, db)

	// The app waits for a line on stdin, so the title is set and the
	// buffers are known empty before it draws anything.
	dbFile, script, conf := filepath.Join(dir, "db-path"), filepath.Join(dir, "run.sh"), filepath.Join(dir, "tmux.conf")
	files := map[string]string{
		dbFile: db,
		script: fmt.Sprintf("#!/bin/sh\nread go\nexec env -i HOME=%s TERM=xterm-256color PATH=/usr/bin:/bin KEYDEN_DB=\"$(cat %s)\" %s\n", dir, dbFile, bin),
		conf:   "set -g set-clipboard on\nset -g allow-rename on\n",
	}
	for name, text := range files {
		if err := os.WriteFile(name, []byte(text), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	s := startTmux(t, "text", conf, 200, 40, script+"; sleep 30")
	const title = "keyden-text-title"
	s.run("select-pane", "-t", "e2e", "-T", title)
	paneTitle := func() string { return strings.TrimSpace(s.run("display-message", "-p", "-t", "e2e", "#{pane_title}")) }
	buffers := func() string { return strings.TrimSpace(s.run("list-buffers")) }
	if got := paneTitle(); got != title {
		t.Fatalf("pane title %q before the app ran", got)
	}
	if b := buffers(); b != "" {
		t.Fatalf("tmux has buffers before the app ran: %s", b)
	}
	s.keys("Enter")

	// tmux handles output in order: once the status line under the table is
	// on screen, any OSC in the header or the rows above it has landed.
	inert := func(where string) {
		t.Helper()
		if got := paneTitle(); got != title {
			t.Errorf("%s: the pane title changed to %q", where, got)
		}
		if b := buffers(); b != "" {
			t.Errorf("%s: tmux's paste buffers were set: %s", where, b)
		}
	}
	scr := s.waitFor("1 key · ")
	inert("the keys table")
	for _, want := range []string{`\x1b]52;c;`, "keyden  " + dir + `/\x1b]52;c;`} {
		if !strings.Contains(scr, want) {
			t.Errorf("the table does not show %q:\n%s", want, scr)
		}
	}
	for i, screen := range []struct{ key, title, want, what string }{
		{"Enter", "Allowed IPs", hostile.Shown, "the details"},
		{"a", "Audit log", `\x1b]52;c;`, "the audit log (the actor)"},
		{"e", "Members", `\x1b]52;c;`, "the catalog (the member)"},
	} {
		if i > 0 {
			// Esc alone, then the next key: sent together they read as alt+key.
			s.keys("Escape")
			s.waitFor("LAST USED")
		}
		s.keys(screen.key)
		if scr = s.waitFor(screen.title); !strings.Contains(scr, screen.want) {
			t.Errorf("%s does not show %q:\n%s", screen.what, screen.want, scr)
		}
	}
	inert("the details, audit log and catalog")
	s.keys("q")
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && strings.Contains(s.screen(), "Members") {
		time.Sleep(50 * time.Millisecond)
	}
}

// serve's log lines (its store's location, store errors) reach the
// terminal escaped too.
func TestServeLogsStoredTextEscaped(t *testing.T) {
	db := filepath.Join(t.TempDir(), hostile.Text+".db")
	if _, errs, code := keyden(t, db, "", "init"); code != 0 {
		t.Fatal(errs)
	}
	cmd, _, logs := startServe(t, db)
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	out := logs.String()
	if bad, ok := hostile.Clean(out); !ok || !strings.Contains(out, hostile.Shown+".db") {
		t.Fatalf("serve's log holds %U or lacks the escaped path:\n%q", bad, out)
	}
}
