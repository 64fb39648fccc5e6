package tui

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"
)

// A bidi override or a zero width typed or pasted into the filter line is
// left out, so the line shows what the query holds. Before, the line drew
// them as typed: U+202E reversed what followed it on screen.
func TestTypedTextKeepsOnlyWhatSafeLeaves(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.press("/")
	h.tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("\u202emob\u200bile"), Paste: true})
	h.waitFor(t, "2 shown")
	a := h.final(t)
	if a.keys.q.Text != "mobile" {
		t.Errorf("the filter holds %q, want %q", a.keys.q.Text, "mobile")
	}
	if v := a.View(); strings.ContainsAny(v, "\u202e\u200b") {
		t.Errorf("the screen holds a bidi override or a zero width:\n%s", v)
	}
}
