package format

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
)

// Cells counts what a per-code-point terminal (tmux) moves for each
// cluster when that is more than x/ansi's width: Thai SARA AM and
// Devanagari vowel signs take a cell of their own there.
func TestCellsIsTheWiderMeasure(t *testing.T) {
	for s, want := range map[string]int{
		"plain":         5,
		"日本語":           6,
		"Tiếng Việt":    10,
		"e\u0323\u0302": 1, // ệ with two combining marks
		"น้ำ":           2, // tone mark (no cell) and SARA AM (a cell)
		"ภาษาไทย น้ำ ก้ำ":    13,
		"नमस्ते":             4, // virama and े (Mn) take no cell
		"सुप्रभात":           6, // ा (Mc) takes one
		"\x1b[1mbold\x1b[0m": 4,
	} {
		if got := Cells(s); got != want {
			t.Errorf("Cells(%q) = %d, want %d", s, got, want)
		}
	}
}

func TestTruncateByCells(t *testing.T) {
	for _, tt := range []struct {
		s    string
		w    int
		want string
	}{
		{"plain name", 20, "plain name"},
		{"plain name", 6, "plain…"},
		{"日本語のキー", 7, "日本語…"},
		{"ภาษาไทย น้ำ ก้ำ สวัสดี", 12, "ภาษาไทย น้ำ …"},
	} {
		got := Truncate(tt.s, tt.w, "…")
		if got != tt.want || Cells(got) > tt.w {
			t.Errorf("Truncate(%q, %d) = %q (%d cells), want %q", tt.s, tt.w, got, Cells(got), tt.want)
		}
	}
	if got := Truncate(strings.Repeat("ก้ำ", 10), 5, "…"); Cells(got) > 5 {
		t.Errorf("%q is %d cells", got, Cells(got))
	}
}

// A box's line holding Thai text gives up the cells tmux draws beyond
// x/ansi's count from the padding before its border, so the border stays
// in line; a line still wider than the screen is cut.
func TestFitLines(t *testing.T) {
	var lines []string
	for _, text := range []string{"plain", "น้ำ ก้ำ", "\x1b[1mน้ำ\x1b[0m"} {
		// As lipgloss pads a box: to 12 cells by x/ansi's count.
		lines = append(lines, "│ "+text+strings.Repeat(" ", 12-ansi.StringWidth(text))+" │")
	}
	box := strings.Join(lines, "\n")
	box = strings.ReplaceAll(box, "│\n", "│    \n") + "    " // centred: margins after the border
	for i, l := range strings.Split(FitLines(box, 80), "\n") {
		if Cells(l) != 20 || !strings.HasSuffix(l, " │    ") {
			t.Errorf("line %d is %d cells: %q", i, Cells(l), l)
		}
	}
	if got := FitLines("abcdefgh", 5); got != "abcde" {
		t.Errorf("cut to %q", got)
	}
}

// A line whose text fills its box keeps its spaces between words: only
// padding is given up (then the line is cut if too wide).
func TestFitLinesTakesOnlyPadding(t *testing.T) {
	l := "│ a  น้ำน้ำ│"
	if got := FitLines(l, 80); got != l {
		t.Errorf("%q became %q", l, got)
	}
}
