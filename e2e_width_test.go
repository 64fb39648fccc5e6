package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode"

	"github.com/charmbracelet/x/ansi"

	"keyden/storage"
)

// wcwidth is how tmux moves the cursor: a cell for each code point but
// combining marks and format characters, two for a wide one.
func wcwidth(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		case ansi.StringWidth(string(r)) == 2:
			n += 2
		default:
			n++
		}
	}
	return n
}

// Legitimate Thai, Devanagari, Korean, CJK and Vietnamese names in the TUI
// at 120 columns in tmux: no row wraps (the header stays on top, the rows
// follow one another) and every row's HINT starts under its title. Thai
// SARA AM and Devanagari vowel signs take a cell each in tmux that x/ansi
// does not count: the rows ran past the edge and wrapped.
func TestComplexScriptNamesLineUpInTmux(t *testing.T) {
	dir, db, st := tmuxAppStore(t)
	names := []string{"नमस्ते दुनिया सुप्रभात", "क्षत्रिय स्त्री चन्द्र", "กำ", "日本語のキー 鍵の名前",
		"한국어 서비스 키", "Tiếng Việt khoá", "plain ascii name", "ภาษาไทย น้ำ ก้ำ สวัสดี"}
	for _, n := range names {
		if _, err := st.CreateKey(context.Background(), storage.CreateRequest{Name: n, Channel: "default", Environment: "prod"}); err != nil {
			t.Fatal(err)
		}
	}
	cmd := appCommand(dir, db)
	s := startTmux(t, "width", "/dev/null", 120, 30, cmd)
	scr := s.waitFor(fmt.Sprintf("%d keys · ", len(names)))
	lines := strings.Split(scr, "\n")
	if !strings.HasPrefix(lines[0], " keyden ") {
		t.Errorf("the header is not on the first line:\n%s", scr)
	}
	head, hint := -1, -1
	var rows []int
	for i, l := range lines {
		if wcwidth(l) > 120 {
			t.Errorf("line %d is %d cells wide:\n%s", i, wcwidth(l), l)
		}
		if j := strings.Index(l+" ", " HINT "); j >= 0 && head < 0 { // HINT may end the line
			head, hint = i, wcwidth(l[:j+1])
		}
		if j := strings.Index(l, "kd_prod_"); j >= 0 && head >= 0 {
			rows = append(rows, i)
			if at := wcwidth(l[:j]); at != hint {
				t.Errorf("the hint starts at cell %d, its title at %d:\n%s\n%s", at, hint, lines[head], l)
			}
		}
	}
	if len(rows) != len(names) || rows[0] != head+1 || rows[len(rows)-1] != head+len(names) {
		t.Errorf("the rows are on lines %v under the header on line %d (a row wrapped):\n%s", rows, head, scr)
	}

	// The Thai name's details: the box's right border is in one column on
	// every line, the name's two among them.
	for _, r := range rows {
		if strings.Contains(lines[r], "ภาษาไทย") {
			break
		}
		s.keys("Down")
	}
	s.keys("Enter")
	scr = s.waitFor("Allowed IPs")
	border, boxed := -1, 0
	for _, l := range strings.Split(scr, "\n") {
		j := strings.LastIndex(l, "│")
		if j < 0 || !strings.Contains(l[:j], "│") {
			continue
		}
		boxed++
		if at := wcwidth(l[:j]); border < 0 {
			border = at
		} else if at != border {
			t.Errorf("the border is at cell %d, not %d, on\n%s\nof\n%s", at, border, l, scr)
		}
	}
	if !strings.Contains(scr, "Name         ภาษาไทย") {
		t.Errorf("the details are not of the Thai name:\n%s", scr)
	}
	if boxed < 10 {
		t.Errorf("only %d lines of a box:\n%s", boxed, scr)
	}
}
