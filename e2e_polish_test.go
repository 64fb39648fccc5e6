package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"keyden/storage"
)

// In a real terminal: esc and a key sent together (as a quick typist's
// reach tmux, which passes them on in one read) are esc, then the key,
// not alt+key; a click on a tab and on a row selects them, and the wheel
// moves through the rows (SGR mouse reports, as terminals send them).
func TestEscThenKeyAndTheMouseInTmux(t *testing.T) {
	dir, db, st := tmuxAppStore(t)
	for i, env := range []string{"dev", "dev", "prod", "prod", "prod"} {
		if _, err := st.CreateKey(context.Background(), storage.CreateRequest{Name: fmt.Sprintf("key %d", i), Channel: "default", Environment: env}); err != nil {
			t.Fatal(err)
		}
	}
	cmd := appCommand(dir, db)
	s := startTmux(t, "escmouse", "/dev/null", 80, 24, cmd)
	s.waitFor("5 keys · ")
	s.keys("Enter")
	s.waitFor("Allowed IPs")
	s.keys("Escape", "e") // one send-keys: one write to the terminal
	s.waitFor("Environments")
	s.keys("Escape")
	s.waitFor("5 keys · ")

	// Cells are 1-based in the reports: the tabs are on line 2 (" All  dev
	// staging  prod"), the header on line 4, the rows from line 5.
	mouse := func(button, x, y int) {
		s.typeText(fmt.Sprintf("\x1b[<%d;%d;%dM\x1b[<%d;%d;%dm", button, x, y, button, x, y))
	}
	mouse(0, 21, 2) // prod
	s.waitFor("3 shown")
	mouse(0, 5, 7) // the third row
	s.waitFor("3/3")
	mouse(64, 5, 7) // wheel up
	s.waitFor("1/3")

	// The terminal reports the mouse (tmux knows the mode the app asked
	// for), except while a key is shown, so it can be selected by hand.
	mouseOn := func() bool {
		return strings.TrimSpace(s.run("display", "-p", "-t", "e2e", "#{mouse_button_flag}")) == "1"
	}
	s.waitUntil("mouse reports on over the table", mouseOn)
	s.keys("n")
	s.waitFor("New key")
	s.typeText("shown once")
	s.keys("Enter")
	s.waitFor("Your new key")
	s.waitUntil("mouse reports off on the reveal", func() bool { return !mouseOn() })
	s.keys("Escape")
	s.waitFor("6 keys · ")
	s.waitUntil("mouse reports on again", mouseOn)
}
