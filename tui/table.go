package tui

import (
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"keyden/format"
)

// column is one table column. Columns with a lower priority number are
// kept first when the terminal is narrow. A table told its content's
// widths (SetContent) sizes each column from it: width is then the
// shortest useful width, fixed columns get their content's width first,
// then flex columns grow to theirs in priority order. Without content,
// flex columns share what is left up to their maximum.
type column struct {
	title    string
	width    int // minimum width
	max      int // 0: no maximum
	priority int
	flex     bool
	right    bool // numbers: aligned right
	whole    bool // measured, never cut: shown whole or left out
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
	// content is the widest cell of each column over the rows, nil when
	// not measured; sortCol (-1: none) is marked in the header with arrow.
	content []int
	sortCol int
	arrow   string
	// marked, when set, says which rows carry a mark, drawn in a gutter
	// cell before the cursor's.
	marked func(row int) bool
}

// cellsWidth is the room for the columns: the width less the mark's gutter.
func (t *vtable) cellsWidth() int {
	if t.marked != nil {
		return t.width - 1
	}
	return t.width
}

func newVTable(cols []column) vtable {
	return vtable{cols: cols, keys: defaultTableKeyMap(), height: 10, width: 80, sortCol: -1}
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

// SetContent sizes the columns from the widest cell of each (nil: by
// their declared widths).
func (t *vtable) SetContent(widths []int) {
	t.content = widths
	t.layout()
}

// SetSort marks column col (-1: none) in the header with arrow.
func (t *vtable) SetSort(col int, arrow string) {
	if t.sortCol != col || t.arrow != arrow {
		t.sortCol, t.arrow = col, arrow
		t.layout()
	}
}

// title is column i's header text, with the sort arrow when sorted by it.
func (t *vtable) title(i, w int) string {
	if i != t.sortCol {
		return t.cols[i].title
	}
	return format.Truncate(t.cols[i].title, max(0, w-2), "…") + " " + t.arrow
}

// Hidden lists the titles of the columns that do not fit, lower-cased.
func (t *vtable) Hidden() []string {
	var out []string
	for i, w := range t.widths {
		if w == 0 {
			out = append(out, strings.ToLower(t.cols[i].title))
		}
	}
	return out
}

// layout chooses which columns fit and how wide each is.
func (t *vtable) layout() {
	t.widths = make([]int, len(t.cols))
	want := make([]int, len(t.cols)) // what each column would take
	low := make([]int, len(t.cols))  // its shortest useful width
	for i, c := range t.cols {
		low[i], want[i] = c.width, c.width
		switch {
		case t.content != nil:
			want[i] = max(format.Cells(t.title(i, 1<<10)), t.content[i])
			if c.max > 0 {
				want[i] = min(want[i], c.max)
			}
			low[i] = min(low[i], want[i])
			if c.whole {
				low[i] = want[i]
			}
			if i == t.sortCol { // room for the arrow, when the title fits
				low[i] = max(low[i], min(want[i], format.Cells(t.title(i, 1<<10))))
			}
		case c.flex && c.max > 0:
			want[i] = c.max
		case c.flex:
			want[i] = t.cellsWidth()
		}
	}
	order := make([]int, len(t.cols))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return t.cols[a].priority - t.cols[b].priority })
	used := 0
	for _, i := range order {
		need := low[i]
		if used > 0 {
			need++ // a space between columns
		}
		if used+need > t.cellsWidth() {
			if t.content != nil {
				break // drop from the right: a narrower column further on would jump the gap
			}
			continue
		}
		t.widths[i] = low[i]
		used += need
	}
	spare := t.cellsWidth() - used
	grow := func(i, to int) {
		if t.widths[i] > 0 && to > t.widths[i] {
			d := min(spare, to-t.widths[i])
			t.widths[i] += d
			spare -= d
		}
	}
	for _, i := range order {
		if !t.cols[i].flex {
			grow(i, want[i])
		}
	}
	if t.content != nil {
		for _, i := range order {
			grow(i, want[i])
		}
		return
	}
	// Share what is left among visible flex columns, up to their maximum.
	for spare > 0 {
		grew := false
		for i, c := range t.cols {
			if spare > 0 && c.flex && t.widths[i] > 0 && t.widths[i] < want[i] {
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
	b.WriteString(header.Render(t.line(func(i int) string { return t.title(i, t.widths[i]) })))
	for r := t.offset; r < min(t.n, t.offset+t.height); r++ {
		b.WriteByte('\n')
		text := t.line(func(i int) string { return cell(r, i) })
		gutter := 0 // the cursor's cell, after the mark's
		if t.marked != nil {
			gutter = 1
			if t.marked(r) {
				text = "✓" + text[1:]
				gutter = len("✓")
			}
		}
		st := rowStyle(r)
		if r == t.cursor {
			st = selected.Inherit(st)
			text = text[:gutter] + "▸" + text[gutter+1:]
		}
		b.WriteString(st.Render(text))
	}
	return b.String()
}

// line joins cells, each cut or padded to its column's width, with a
// leading space where the cursor goes (after one for the row's mark).
func (t *vtable) line(cell func(col int) string) string {
	var b strings.Builder
	b.WriteByte(' ')
	if t.marked != nil {
		b.WriteByte(' ')
	}
	first := true
	for i, w := range t.widths {
		if w == 0 {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		text := fit(cell(i), w)
		if t.cols[i].right {
			text = strings.Repeat(" ", w-format.Cells(strings.TrimRight(text, " "))) + strings.TrimRight(text, " ")
		}
		b.WriteString(text)
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
