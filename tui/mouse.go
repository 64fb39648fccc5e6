package tui

import (
	tea "github.com/charmbracelet/bubbletea"

	"keyden/format"
)

// wheelStep is how many rows a turn of the wheel moves, as terminals
// scroll text by three lines.
const wheelStep = 3

// clicked says whether msg is a press of the left button.
func clicked(msg tea.MouseMsg) bool {
	return msg.Action == tea.MouseActionPress && msg.Button == tea.MouseButtonLeft
}

// wheel is -1 or 1 for a turn of the wheel up or down, else 0.
func wheel(msg tea.MouseMsg) int {
	if msg.Action != tea.MouseActionPress {
		return 0
	}
	switch msg.Button {
	case tea.MouseButtonWheelUp:
		return -1
	case tea.MouseButtonWheelDown:
		return 1
	}
	return 0
}

// mouse moves the cursor for a click on a row (the header is at line top
// of the screen) or a turn of the wheel; it reports whether it did.
func (t *vtable) mouse(msg tea.MouseMsg, top int) bool {
	if d := wheel(msg); d != 0 {
		t.cursor += d * wheelStep
		t.clamp()
		return true
	}
	if !clicked(msg) {
		return false
	}
	r := t.offset + msg.Y - top - 1
	if msg.Y <= top || msg.Y > top+t.height || r >= t.n {
		return false
	}
	t.cursor = r
	t.clamp()
	return true
}

// mouse selects the tab or the row clicked, and scrolls with the wheel.
// The keys screen is the tabs, a blank line, then the table's header.
func (v *keysView) mouse(msg tea.MouseMsg) tea.Cmd {
	if v.filtering || v.picking || !v.loaded {
		return nil
	}
	if msg.Y == 0 && clicked(msg) {
		x := 0
		for i := 0; i <= len(v.envs); i++ {
			name := "All"
			if i > 0 {
				name = v.envs[i-1].Name
			}
			x += format.Cells(format.Safe(name)) + 2
			if msg.X < x {
				if i == v.tab {
					return nil
				}
				v.tab = i
				v.q.Env = v.envName()
				return v.refilter(false)
			}
		}
		return nil
	}
	if v.group != groupOff {
		v.gtable.mouse(msg, 2)
		return nil
	}
	v.table.mouse(msg, 2)
	return nil
}

// mouse selects the event clicked, and scrolls with the wheel: the audit
// view is its title, a blank line, then the table's header.
func (v *auditView) mouse(msg tea.MouseMsg) {
	if !v.filtering && len(v.shown) > 0 {
		v.table.mouse(msg, 2)
	}
}
