package tui

import (
	"strings"
	"unicode"

	"github.com/charmbracelet/lipgloss"
)

// scroller is the part of a box's lines shown when they are more than
// the room: details and the reveal scroll with ↑/↓ and the wheel.
type scroller struct {
	offset int
	total  int // lines at the last frame
	room   int
}

// window clamps the offset for lines in room and returns the lines shown.
func (s *scroller) window(lines []string, room int) []string {
	s.total, s.room = len(lines), max(1, room)
	s.by(0)
	return lines[s.offset:min(len(lines), s.offset+s.room)]
}

func (s *scroller) by(n int) { s.offset = max(0, min(s.offset+n, s.total-s.room)) }

// more says whether some lines are out of view.
func (s *scroller) more() bool { return s.total > s.room }

// mark says which way there is more to see.
func (s *scroller) mark() string {
	up, down := s.offset > 0, s.offset+s.room < s.total
	switch {
	case up && down:
		return "↑↓"
	case up:
		return "↑ "
	case down:
		return " ↓"
	}
	return ""
}

// where is "lines 3–10/20" when some are out of view.
func (s *scroller) where() string {
	if !s.more() {
		return ""
	}
	return "lines " + itoa(s.offset+1) + "–" + itoa(min(s.total, s.offset+s.room)) + "/" + itoa(s.total)
}

// withMark puts the scroll mark at the right end of a title w cells wide.
func (s *scroller) withMark(title string, w int, st lipgloss.Style) string {
	if !s.more() {
		return title
	}
	return padRight(title, w-2) + st.Render(s.mark())
}

// wrapTo breaks styled text at spaces into lines of at most w cells.
func wrapTo(s string, w int) []string {
	if s == "" {
		return nil
	}
	lines := strings.Split(lipgloss.NewStyle().Width(w).Render(holdHyphens(s)), "\n")
	for i, l := range lines {
		lines[i] = strings.ReplaceAll(strings.TrimRight(l, " "), heldHyphen, "-")
	}
	return lines
}

// heldHyphen stands for a hyphen while text wraps: a private-use rune,
// which format.Safe escapes, so stored text never holds one.
const heldHyphen = ""

// holdHyphens keeps the wrap from breaking at a hyphen that does not join
// two words: lipgloss breaks after every hyphen, which cut "'-'" in an
// error into "…digits and '-" and "', starting…", and "--filter" after
// its dashes. A hyphen between letters or digits ("mobile-app") may still
// end a line.
func holdHyphens(s string) string {
	if !strings.Contains(s, "-") {
		return s
	}
	rs := []rune(s)
	word := func(i int) bool { return i >= 0 && i < len(rs) && (unicode.IsLetter(rs[i]) || unicode.IsDigit(rs[i])) }
	var b strings.Builder
	for i, r := range rs {
		if r == '-' && !(word(i-1) && word(i+1)) {
			b.WriteString(heldHyphen)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
