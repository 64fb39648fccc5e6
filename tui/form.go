package tui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"keyden/format"
	"keyden/model"
	"keyden/storage"
)

// formKeyMap is the create form's bindings.
type formKeyMap struct {
	Next, Prev, Submit, Cancel, Cycle key.Binding
	// Left and Right move through a field's choices (Cycle is their help);
	// Space does too where the field takes no text.
	Left, Right, Space key.Binding
}

func defaultFormKeyMap() formKeyMap {
	return formKeyMap{
		Next:   key.NewBinding(key.WithKeys("tab", "down"), key.WithHelp("tab", "next")),
		Prev:   key.NewBinding(key.WithKeys("shift+tab", "up"), key.WithHelp("shift+tab", "back")),
		Cycle:  key.NewBinding(key.WithKeys("left", "right"), key.WithHelp("←/→", "choose")),
		Submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "create")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		Left:   key.NewBinding(key.WithKeys("left")),
		Right:  key.NewBinding(key.WithKeys("right")),
		Space:  key.NewBinding(key.WithKeys(" ")),
	}
}

func (k formKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Submit, k.Cancel, k.Next, k.Prev, k.Cycle}
}
func (k formKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// field is one form row: free text, a fixed choice, or text with presets.
type field struct {
	label   string
	hint    string
	input   textinput.Model
	choices []string // a choice field when set and free is false
	free    bool     // text with presets to cycle through
	// preset: a free field holds a preset, not typed text (as it opens,
	// and after ←/→), so typing replaces it: typing 90d after the
	// default made "never90d".
	preset  bool
	choice  int
	check   func(string) error
	touched bool
	err     error
	compact bool // the last frame showed only the chosen option
}

func (f *field) value() string {
	if f.choices != nil && !f.free {
		return f.choices[f.choice]
	}
	return f.input.Value()
}

func (f *field) validate() {
	f.err = nil
	if f.check != nil {
		f.err = f.check(f.value())
	}
}

// Form field positions.
const (
	fName = iota
	fChannel
	fEnv
	fType
	fScopes
	fExpiry
	fAllow
)

// createdMsg is the store's answer to the form's create.
type createdMsg struct {
	c   storage.Created
	err error
}

// formView is the create form. Every field is checked as it changes with
// the same model rules the command line uses.
type formView struct {
	noInit
	sh     *shared
	st     *Styles
	keyMap formKeyMap
	fields []*field
	focus  int
	now    func() time.Time
	width  int
	height int
	err    string
	// creating: the store has the request; esc waits for its answer, so
	// a key made meanwhile is still shown once.
	creating bool
	// Where the last frame drew the fields, for the mouse.
	rowsAt []fieldRows
	origin [2]int
	valueX int
}

func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

func newFormView(sh *shared, envs []model.Environment, chs []model.Channel, env, channel string) *formView {
	st, now := sh.st, sh.now
	text := func(placeholder string, limit int) textinput.Model {
		ti := st.textInput()
		ti.Prompt = ""
		ti.Placeholder = placeholder
		ti.CharLimit = limit
		return ti
	}
	var envNames, chNames []string
	envIdx, chIdx := 0, 0
	for i, e := range envs {
		envNames = append(envNames, e.Name)
		if e.Name == env {
			envIdx = i
		}
	}
	for i, c := range chs {
		chNames = append(chNames, c.Name)
		if c.Name == channel || (channel == "" && c.Name == model.DefaultChannel) {
			chIdx = i
		}
	}
	expiry := text("never", 40)
	expiry.SetValue("never")
	f := &formView{sh: sh, st: st, keyMap: defaultFormKeyMap(), now: now, fields: []*field{
		{label: "Name", hint: "what the key is for, such as web checkout", input: text("", 64),
			check: func(s string) error { _, err := model.ValidateKeyName(s); return err }},
		{label: "Channel", choices: chNames, choice: chIdx, check: nonEmptyChoice("channel", "add one with e")},
		{label: "Environment", choices: envNames, choice: envIdx, check: nonEmptyChoice("environment", "add one with e")},
		{label: "Type", hint: "how apps send it", choices: []string{string(model.TypeBearer), string(model.TypeXAPIKey)}},
		{label: "Scopes", hint: "space or comma separated, such as posts:read orders:*; empty: none", input: text("", 512),
			check: func(s string) error { _, err := model.NormalizeScopes(splitList(s)); return err }},
		{label: "Expires", hint: "←/→ never · 30d · 90d · 1y, or type a date such as 2027-01-31", input: expiry,
			choices: []string{"never", "30d", "90d", "1y"}, free: true, preset: true,
			check: func(s string) error { _, err := model.ParseExpiry(s, now()); return err }},
		{label: "Allowed IPs", hint: "IPs or CIDRs such as 10.0.0.0/8 203.0.113.7; empty: anywhere", input: text("", 1024),
			check: func(s string) error { _, err := model.NormalizeAllowedIPs(splitList(s)); return err }},
	}}
	for _, fl := range f.fields {
		fl.validate()
	}
	f.fields[fName].touched = false
	f.fields[fName].input.Focus()
	return f
}

func nonEmptyChoice(what, fix string) func(string) error {
	return func(s string) error {
		if s == "" {
			return errorf("there is no %s: %s", what, fix)
		}
		return nil
	}
}

func (f *formView) isText(i int) bool { return f.fields[i].choices == nil || f.fields[i].free }

func (f *formView) setFocus(i int) tea.Cmd {
	n := len(f.fields)
	f.fields[f.focus].input.Blur()
	f.fields[f.focus].touched = true
	f.focus = (i + n) % n
	if f.isText(f.focus) {
		return f.fields[f.focus].input.Focus()
	}
	return nil
}

func (f *formView) KeyMap() help.KeyMap { return f.keyMap }
func (f *formView) Typing() bool        { return true }
func (f *formView) SetSize(w, h int)    { f.width, f.height = w, h }

// created takes in the store's answer: the new key replaces the form, or
// the form says why not.
func (f *formView) created(msg createdMsg) tea.Cmd {
	f.creating = false
	if msg.err != nil {
		f.err = sentence(msg.err)
		return nil
	}
	return tea.Batch(f.sh.nav.replace(newRevealView(f.sh, msg.c.Key, msg.c.Secret, msg.c.Grown)), f.sh.reload(false))
}

func (f *formView) Update(msg tea.Msg) tea.Cmd {
	if m, ok := msg.(createdMsg); ok {
		return f.created(m)
	}
	km, ok := msg.(tea.KeyMsg)
	if f.creating || (!ok && f.sh.nav.top() != f) {
		return nil
	}
	if m, isMouse := msg.(tea.MouseMsg); isMouse {
		return f.mouse(m)
	}
	if !ok {
		var cmd tea.Cmd
		if f.isText(f.focus) {
			f.fields[f.focus].input, cmd = f.fields[f.focus].input.Update(msg)
		}
		return cmd
	}
	cur := f.fields[f.focus]
	switch {
	case key.Matches(km, f.keyMap.Cancel):
		f.sh.nav.pop()
		return nil
	case key.Matches(km, f.keyMap.Next):
		return f.setFocus(f.focus + 1)
	case key.Matches(km, f.keyMap.Prev):
		return f.setFocus(f.focus - 1)
	case key.Matches(km, f.keyMap.Submit):
		return f.submit()
	case cur.choices != nil && (key.Matches(km, f.keyMap.Left, f.keyMap.Right) || (!cur.free && key.Matches(km, f.keyMap.Space))):
		step := 1
		if key.Matches(km, f.keyMap.Left) {
			step = len(cur.choices) - 1
		}
		if cur.free {
			// From typed text, → starts at the first preset.
			idx := -1
			for i, c := range cur.choices {
				if c == cur.input.Value() {
					idx = i
				}
			}
			cur.choice = (idx + step + len(cur.choices)) % len(cur.choices)
			if idx < 0 {
				cur.choice = 0
			}
			cur.input.SetValue(cur.choices[cur.choice])
			cur.input.CursorEnd()
			cur.preset = true
		} else {
			cur.choice = (cur.choice + step) % len(cur.choices)
		}
		cur.touched = true
		cur.validate()
		return nil
	}
	if !f.isText(f.focus) {
		return nil
	}
	before := cur.input.Value()
	replaced := cur.preset && (km.Type == tea.KeyRunes || km.Type == tea.KeyBackspace)
	if replaced {
		cur.input.SetValue("")
		cur.preset = false
	}
	var cmd tea.Cmd
	cur.input, cmd = cur.input.Update(km)
	if replaced || cur.input.Value() != before {
		cur.touched = true
		cur.validate()
	}
	return cmd
}

// submit sends the request when every field is valid; otherwise it
// shows every error and moves to the first bad field.
func (f *formView) submit() tea.Cmd {
	first := -1
	for i, fl := range f.fields {
		fl.touched = true
		fl.validate()
		if fl.err != nil && first < 0 {
			first = i
		}
	}
	if first >= 0 {
		return f.setFocus(first)
	}
	v := func(i int) string { return f.fields[i].value() }
	name, _ := model.ValidateKeyName(v(fName))
	exp, _ := model.ParseExpiry(v(fExpiry), f.now())
	req := storage.CreateRequest{
		Name: name, Channel: v(fChannel), Environment: v(fEnv), Type: model.KeyType(v(fType)),
		Scopes: splitList(v(fScopes)), AllowedIPs: splitList(v(fAllow)), ExpiresAt: exp,
	}
	f.creating = true
	st, ctx := f.sh.store, f.sh.ctx
	return func() tea.Msg {
		c, err := st.CreateKey(ctx, req)
		return createdMsg{c: c, err: err}
	}
}

func (f *formView) View() string {
	inner := max(20, min(96, f.width-2)-2) // inside the box's border and padding
	labelW := 13
	if inner < 34 {
		labelW = inner / 3
	}
	valW := inner - labelW - 2
	wide := inner >= 60
	var blocks [][]string // each field's lines
	for i, fl := range f.fields {
		label := f.st.Label.Render(padRight(fl.label, labelW))
		marker := "  "
		if i == f.focus {
			label = f.st.Focused.Render(padRight(fl.label, labelW))
			marker = f.st.Focused.Render("▸ ")
		}
		var val string
		switch {
		case fl.choices != nil && !fl.free:
			val = f.choicesView(fl, i == f.focus, valW)
		default:
			fl.input.Width = max(5, valW-1)
			val = fl.input.View()
		}
		block := []string{marker + label + val}
		sub := ""
		switch {
		case fl.err != nil && fl.touched:
			sub = f.st.Error.Render("✗ " + sentenceCase(format.Safe(fl.err.Error())))
		case i == f.focus && fl.hint != "":
			sub = f.st.Subtle.Render(fl.hint)
		}
		// Hints and errors wrap at spaces under the value, or under the
		// label where the value column is narrow.
		indent := 2
		if wide {
			indent = labelW + 2
		}
		if sub != "" {
			for _, l := range strings.Split(lipgloss.NewStyle().Width(inner-indent).Render(sub), "\n") {
				block = append(block, strings.Repeat(" ", indent)+strings.TrimRight(l, " "))
			}
		} else if wide {
			block = append(block, "")
		}
		blocks = append(blocks, block)
	}
	var foot []string
	if f.err != "" {
		foot = append(foot, "")
		for _, l := range strings.Split(lipgloss.NewStyle().Width(inner).Render(f.st.Error.Render(format.Safe(f.err))), "\n") {
			foot = append(foot, strings.TrimRight(l, " "))
		}
	}
	// On a short screen the fields scroll to keep the focused one in view.
	room := max(1, f.height-4-len(foot))
	first, last := f.focus, f.focus+1
	used := len(blocks[f.focus])
	for grew := true; grew; {
		grew = false
		if last < len(blocks) && used+len(blocks[last]) <= room {
			used += len(blocks[last])
			last++
			grew = true
		}
		if first > 0 && used+len(blocks[first-1]) <= room {
			used += len(blocks[first-1])
			first--
			grew = true
		}
	}
	title := f.st.Title.Render("New key")
	if first > 0 || last < len(blocks) {
		title += f.st.Subtle.Render(fmt.Sprintf("  field %d of %d", f.focus+1, len(blocks)))
	}
	lines := []string{title, ""}
	f.rowsAt = f.rowsAt[:0]
	for i, b := range blocks[first:last] {
		f.rowsAt = append(f.rowsAt, fieldRows{field: first + i, y: len(lines), h: len(b)})
		lines = append(lines, b...)
	}
	lines = append(lines, foot...)
	box := f.st.Box.Width(inner + 2).Render(strings.Join(lines, "\n"))
	// Where center puts the box, and the fields in it, for the mouse: the
	// box's border and padding come first.
	gw, gh := max(0, f.width-lipgloss.Width(box)), max(0, f.height-lipgloss.Height(box))
	f.origin = [2]int{gw - int(math.Round(float64(gw)*0.5)) + 2, gh - int(math.Round(float64(gh)*0.5)) + 1}
	f.valueX = 2 + labelW
	return center(f.width, f.height, box)
}

// fieldRows is where a field's lines are in the box's text.
type fieldRows struct{ field, y, h int }

// mouse focuses the field clicked; a click on one of a choice field's
// options chooses it.
func (f *formView) mouse(msg tea.MouseMsg) tea.Cmd {
	if !clicked(msg) {
		return nil
	}
	x, y := msg.X-f.origin[0], msg.Y-f.origin[1]
	for _, r := range f.rowsAt {
		if y < r.y || y >= r.y+r.h {
			continue
		}
		cmd := f.setFocus(r.field)
		fl := f.fields[r.field]
		if fl.choices != nil && !fl.free && !fl.compact && y == r.y {
			// The options as choicesView draws them: "● name", two apart.
			at := f.valueX
			for j, c := range fl.choices {
				w := 2 + format.Cells(format.Safe(c))
				if x >= at && x < at+w {
					fl.choice, fl.touched = j, true
					fl.validate()
				}
				at += w + 2
			}
		}
		return cmd
	}
	return nil
}

// choicesView shows a choice field's options, or where they do not fit
// in w cells, the chosen one with arrows and its place.
func (f *formView) choicesView(fl *field, focused bool, w int) string {
	opts := make([]string, len(fl.choices))
	for j, c := range fl.choices {
		if j == fl.choice {
			opts[j] = f.st.Focused.Render("● " + format.Safe(c))
		} else {
			opts[j] = f.st.Subtle.Render("○ " + format.Safe(c))
		}
	}
	fl.compact = false
	if all := strings.Join(opts, "  "); lipgloss.Width(all) <= w {
		return all
	}
	fl.compact = true
	place := fmt.Sprintf(" %d/%d", fl.choice+1, len(fl.choices))
	name := format.Truncate(format.Safe(fl.choices[fl.choice]), max(1, w-4-len(place)), "…")
	return f.st.Focused.Render("‹ "+name+" ›") + f.st.Subtle.Render(place)
}
