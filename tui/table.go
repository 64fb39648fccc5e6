package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"keyden/format"
)

// column is one table column. Columns with a lower priority number are
// kept first when the terminal is narrow; flex columns share what is left.
type column struct {
	title    string
	width    int // minimum width
	max      int // 0: no maximum
	priority int
	flex     bool
}

// tableKeyMap moves the cursor.
type tableKeyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
}

func defaultTableKeyMap() tableKeyMap {
	return tableKeyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b"), key.WithHelp("pgup", "page up")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f", " "), key.WithHelp("pgdn", "page down")),
		Top:      key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g", "top")),
		Bottom:   key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "bottom")),
	}
}

// vtable is a table over rows it never holds: it asks for the cells of the
// rows on screen only, so a million rows cost what a screenful does.
type vtable struct {
	cols   []column
	keys   tableKeyMap
	n      int // number of rows
	cursor int
	offset int
	height int // rows on screen, header excluded
	width  int
	widths []int // computed per column; 0 hides it
}

func newVTable(cols []column) vtable {
	return vtable{cols: cols, keys: defaultTableKeyMap(), height: 10, width: 80}
}

// SetSize lays the columns out for a width and a number of visible rows.
func (t *vtable) SetSize(width, height int) {
	t.width, t.height = width, max(1, height)
	t.layout()
	t.clamp()
}

// SetRows changes how many rows there are, keeping the cursor in range.
func (t *vtable) SetRows(n int) {
	t.n = n
	t.clamp()
}

func (t *vtable) clamp() {
	if t.cursor >= t.n {
		t.cursor = t.n - 1
	}
	if t.cursor < 0 {
		t.cursor = 0
	}
	if t.cursor < t.offset {
		t.offset = t.cursor
	}
	if t.cursor >= t.offset+t.height {
		t.offset = t.cursor - t.height + 1
	}
	if t.offset > max(0, t.n-t.height) {
		t.offset = max(0, t.n-t.height)
	}
	if t.offset < 0 {
		t.offset = 0
	}
}

// layout chooses which columns fit and how wide each is.
func (t *vtable) layout() {
	t.widths = make([]int, len(t.cols))
	order := make([]int, len(t.cols))
	for i := range order {
		order[i] = i
	}
	// Stable by priority.
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && t.cols[order[j]].priority < t.cols[order[j-1]].priority; j-- {
			order[j], order[j-1] = order[j-1], order[j]
		}
	}
	used := 0
	for _, i := range order {
		need := t.cols[i].width
		if used > 0 {
			need++ // a space between columns
		}
		if used+need > t.width {
			continue
		}
		t.widths[i] = t.cols[i].width
		used += need
	}
	// Share what is left among visible flex columns, up to their maximum.
	for spare := t.width - used; spare > 0; {
		grew := false
		for i, c := range t.cols {
			if spare == 0 {
				break
			}
			if c.flex && t.widths[i] > 0 && (c.max == 0 || t.widths[i] < c.max) {
				t.widths[i]++
				spare--
				grew = true
			}
		}
		if !grew {
			break
		}
	}
}

// Update moves the cursor; it reports whether it used the key.
func (t *vtable) Update(msg tea.KeyMsg) bool {
	switch {
	case key.Matches(msg, t.keys.Up):
		t.cursor--
	case key.Matches(msg, t.keys.Down):
		t.cursor++
	case key.Matches(msg, t.keys.PageUp):
		t.cursor -= t.height
		t.offset -= t.height
	case key.Matches(msg, t.keys.PageDown):
		t.cursor += t.height
		t.offset += t.height
	case key.Matches(msg, t.keys.Top):
		t.cursor = 0
	case key.Matches(msg, t.keys.Bottom):
		t.cursor = t.n - 1
	default:
		return false
	}
	t.clamp()
	return true
}

// View renders the header and the visible rows. cell gives a row's cell
// text; rowStyle its style (selected is applied on top for the cursor row).
func (t *vtable) View(header lipgloss.Style, cell func(row, col int) string, rowStyle func(row int) lipgloss.Style, selected lipgloss.Style) string {
	var b strings.Builder
	titles := make([]string, len(t.cols))
	for i, c := range t.cols {
		titles[i] = c.title
	}
	b.WriteString(header.Render(t.line(func(i int) string { return titles[i] })))
	for r := t.offset; r < min(t.n, t.offset+t.height); r++ {
		b.WriteByte('\n')
		text := t.line(func(i int) string { return cell(r, i) })
		st := rowStyle(r)
		if r == t.cursor {
			st = selected.Inherit(st)
			text = "▸" + text[1:]
		}
		b.WriteString(st.Render(text))
	}
	return b.String()
}

// line joins cells, each cut or padded to its column's width, with a
// leading space where the cursor mark goes.
func (t *vtable) line(cell func(col int) string) string {
	var b strings.Builder
	b.WriteByte(' ')
	first := true
	for i, w := range t.widths {
		if w == 0 {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		b.WriteString(fit(cell(i), w))
	}
	return padRight(b.String(), t.width+1)
}

// fit cuts s to w cells (with …) or pads it with spaces. A cell is store
// text, so it goes through format.Safe first: a stored escape is shown, not
// run, and cannot throw the width count off. Cells are format.Cells, the
// wider of the two ways terminals count, so a Thai or Hindi name never
// pushes its row past the screen's edge in tmux.
func fit(s string, w int) string {
	return padRight(format.Truncate(format.Safe(s), w, "…"), w)
}

func padRight(s string, w int) string {
	if n := format.Cells(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}
