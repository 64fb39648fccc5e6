package format

import (
	"strings"
	"unicode"

	"github.com/charmbracelet/x/ansi"
	"github.com/rivo/uniseg"
)

// Cells is how many cells s may take on a terminal, escapes aside: for each
// grapheme cluster, the more of what terminals that count clusters give it
// (x/ansi's width) and what terminals that count code points give it
// (tmux, xterm: a cell for each spacing mark, Thai SARA AM, Devanagari ा).
// Validation keeps the two within a few cells for a name; measuring by the
// larger, a row of the TUI never runs past the screen's edge in either
// kind of terminal and lines up exactly in the second.
func Cells(s string) int {
	s = ansi.Strip(s)
	n, state := 0, -1
	for s != "" {
		var c string
		c, s, _, state = uniseg.FirstGraphemeClusterInString(s, state)
		n += clusterCells(c)
	}
	return n
}

func clusterCells(c string) int {
	perPoint := 0
	for _, r := range c {
		switch {
		case unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf):
		case ansi.StringWidth(string(r)) >= 2:
			perPoint += 2
		default:
			perPoint++
		}
	}
	return max(ansi.StringWidth(c), perPoint)
}

// Truncate cuts plain text s to at most w Cells, ending it with tail when
// it cut anything.
func Truncate(s string, w int, tail string) string {
	if Cells(s) <= w {
		return s
	}
	room := w - Cells(tail)
	n, state, rest := 0, -1, s
	for rest != "" && room > 0 {
		var c string
		c, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
		cw := clusterCells(c)
		if cw > room {
			break
		}
		room -= cw
		n += len(c)
	}
	return s[:n] + tail
}

// FitLines makes each line of s take no more than x/ansi says it does
// where a per-code-point terminal draws it wider, and no more than w Cells.
// Layout (lipgloss) pads lines and boxes by x/ansi's width, so a line whose
// text tmux draws k cells wider ends k cells further right: its right border
// out of line, or past the screen's edge, where it wraps. Such a line gives
// up k spaces of its last run of padding (before a box's right border, or
// at its end), and a line still too wide is cut from its end, escapes kept.
func FitLines(s string, w int) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if k := Cells(l) - ansi.StringWidth(l); k > 0 {
			end := len(l)
			if b := strings.LastIndex(l, "│"); b >= 0 && strings.HasSuffix(strings.TrimRight(ansi.Strip(l), " "), "│") {
				end = b // the padding before a box's right border
			}
			// Only padding: nothing but spaces and escapes up to the end.
			if j := strings.LastIndex(l[:end], strings.Repeat(" ", k)); j >= 0 && strings.TrimSpace(ansi.Strip(l[j:end])) == "" {
				l = l[:j] + l[j+k:]
			}
		}
		if over := Cells(l) - w; over > 0 {
			l = ansi.Truncate(l, ansi.StringWidth(l)-over, "")
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}
