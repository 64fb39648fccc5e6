package tui

import (
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

// auditLimit is how many of the newest events the audit view loads.
const auditLimit = 10000

type auditKeyMap struct {
	table              tableKeyMap
	input              inputKeyMap
	Filter, Open, Back key.Binding
}

func defaultAuditKeyMap() auditKeyMap {
	return auditKeyMap{
		table:  defaultTableKeyMap(),
		input:  defaultInputKeyMap(),
		Filter: key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Open:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "event")),
		Back:   key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", "back")),
	}
}

func (k auditKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Open, k.Filter, k.Back, k.table.Up, k.table.Down}
}
func (k auditKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.table.Up, k.table.Down, k.table.PageUp, k.table.PageDown, k.table.Top, k.table.Bottom}, {k.Open, k.Filter, k.Back}}
}

// auditLoadedMsg is the store's answer to the audit view's read.
type auditLoadedMsg struct {
	events []model.Event
	err    error
}

// auditView lists the audit log newest first, filterable as you type.
type auditView struct {
	sh        *shared
	st        *Styles
	keyMap    auditKeyMap
	now       func() time.Time
	events    []model.Event
	shown     []int
	loaded    bool
	err       error // why the last read failed
	filter    textinput.Model
	filtering bool
	table     vtable
	width     int
	height    int
	// rules is the store's generation of changes its read saw at least;
	// a load past it brings events the view reads again.
	rules uint64
}

func newAuditView(sh *shared) *auditView {
	fi := sh.st.textInput()
	fi.Prompt = "/ "
	fi.Placeholder = "actor, action, key, name, channel, env"
	return &auditView{sh: sh, st: sh.st, keyMap: defaultAuditKeyMap(), now: sh.now, filter: fi, rules: sh.data.rules, table: newVTable([]column{
		{title: "TIME", width: 16, priority: 0},
		{title: "ACTOR", width: 8, priority: 2, flex: true},
		{title: "ACTION", width: 11, priority: 1},
		{title: "NAME", width: 16, priority: 3, flex: true},
		{title: "ENV", width: 7, priority: 5},
		{title: "CHANNEL", width: 10, priority: 6, flex: true},
		{title: "KEY", width: 8, priority: 4},
		{title: "DETAIL", width: 16, priority: 7, flex: true},
	})}
}

// Init reads the newest events.
func (v *auditView) Init() tea.Cmd {
	st, ctx := v.sh.store, v.sh.ctx
	return func() tea.Msg {
		evs, err := st.Audit(ctx, storage.AuditFilter{Limit: auditLimit})
		return auditLoadedMsg{events: evs, err: err}
	}
}

// KeyMap is the filter line's while it takes text.
func (v *auditView) KeyMap() help.KeyMap {
	if v.filtering {
		return inputHelp{v.keyMap.input}
	}
	return v.keyMap
}

// statusText counts the events shown, not the keys screen's keys.
func (v *auditView) statusText() string {
	if !v.loaded {
		return "loading the audit log…"
	}
	s := format.Count(len(v.events), "event")
	if len(v.shown) != len(v.events) {
		s += " · " + itoa(len(v.shown)) + " shown"
	}
	if len(v.shown) > 0 {
		s += " · " + itoa(v.table.cursor+1) + "/" + itoa(len(v.shown))
	}
	if len(v.events) == auditLimit {
		s += " · the newest " + itoa(auditLimit) + " (keyden audit has all)"
	}
	return s
}
func (v *auditView) Typing() bool { return v.filtering }

func (v *auditView) SetSize(w, h int) {
	v.width, v.height = w, h
	v.table.SetSize(w-1, h-4) // title, blank, header … filter line
	v.filter.Width = max(10, w-4)
}

// setEvents shows a read, the cursor staying on its event.
func (v *auditView) setEvents(evs []model.Event) {
	var seq uint64
	had := v.loaded && len(v.shown) > 0
	if had {
		seq = v.events[v.shown[v.table.cursor]].Seq
	}
	v.events, v.loaded = evs, true
	v.apply()
	for r, i := range v.shown {
		if had && v.events[i].Seq == seq {
			v.table.cursor = r
			v.table.clamp()
			break
		}
	}
}

func (v *auditView) apply() {
	words := strings.Fields(strings.ToLower(v.filter.Value()))
	v.shown = v.shown[:0]
	for i, e := range v.events {
		hay := strings.ToLower(strings.Join([]string{e.Actor, e.Action, e.KeyID, e.KeyName, e.Channel, e.Environment, e.Detail}, " "))
		ok := true
		for _, w := range words {
			if !strings.Contains(hay, w) {
				ok = false
				break
			}
		}
		if ok {
			v.shown = append(v.shown, i)
		}
	}
	v.table.SetRows(len(v.shown))
	// Columns as wide as their content (see the keys table), from the
	// first screens of events shown.
	w := make([]int, len(v.table.cols))
	for _, i := range v.shown[:min(len(v.shown), measureRows)] {
		for c := range w {
			w[c] = max(w[c], cellWidth(auditCell(&v.events[i], c)))
		}
	}
	v.table.SetContent(w)
}

// The audit table's NAME, CHANNEL and DETAIL columns.
const auditName, auditChannel, auditDetail = 3, 5, 7

// auditSubject is what an event of no key was about, for its NAME cell
// when DETAIL is hidden: the detail ("carol as admin"), or the channel
// where that column is hidden too. It is cut to NAME's width (enter shows
// the event whole): sizing NAME for it pushed CHANNEL off 80 columns.
func auditSubject(e *model.Event, channelShown bool) string {
	if e.Detail == "" && !channelShown {
		return e.Channel
	}
	return e.Detail
}

// auditCell is an event's text for column c of the audit table.
func auditCell(e *model.Event, c int) string {
	return [...]string{format.Stamp(e.Time)[:16], e.Actor, e.Action, e.KeyName, e.Environment, e.Channel, e.KeyID, e.Detail}[c]
}

func (v *auditView) Update(msg tea.Msg) tea.Cmd {
	if _, ok := msg.(dataMsg); ok && v.sh.data.rules != v.rules {
		// The log grew (a change here, in a shell or another session).
		v.rules = v.sh.data.rules
		return v.Init()
	}
	if m, ok := msg.(auditLoadedMsg); ok {
		if m.err != nil {
			v.sh.fail(m.err)
		}
		v.err = m.err
		v.setEvents(m.events)
		return nil
	}
	if m, ok := msg.(tea.MouseMsg); ok {
		v.mouse(m)
		return nil
	}
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if v.filtering {
		switch {
		case key.Matches(km, v.keyMap.input.Cancel):
			v.filtering = false
			v.filter.SetValue("")
			v.apply()
			return nil
		case key.Matches(km, v.keyMap.input.Accept):
			v.filtering = false
			v.filter.Blur()
			return nil
		}
		var cmd tea.Cmd
		v.filter, cmd = v.filter.Update(km)
		v.apply()
		return cmd
	}
	if v.table.Update(km) {
		return nil
	}
	switch {
	case key.Matches(km, v.keyMap.Filter):
		v.filtering = true
		return v.filter.Focus()
	case key.Matches(km, v.keyMap.Back):
		v.sh.nav.pop()
	case key.Matches(km, v.keyMap.Open) && len(v.shown) > 0:
		return v.sh.nav.push(newEventView(v.sh, v.events[v.shown[v.table.cursor]]))
	}
	return nil
}

func (v *auditView) View() string {
	var b strings.Builder
	b.WriteString(fitLine(v.st.Title.Render("Audit log")+v.st.Subtle.Render("  newest first"), v.width) + "\n\n")
	switch {
	case !v.loaded:
		b.WriteString(v.st.Subtle.Render("  Loading…"))
	case v.err != nil && len(v.events) == 0: // not "No events match."
		for _, l := range wrapTo("The audit log could not be read: "+format.Safe(sentence(v.err)), max(20, v.width-4)) {
			b.WriteString("  " + v.st.Error.Render(l) + "\n")
		}
	case len(v.shown) == 0:
		b.WriteString(v.st.Subtle.Render("  No events match."))
	default:
		b.WriteString(v.table.View(v.st.Header, func(r, c int) string {
			e := &v.events[v.shown[r]]
			// An event of no key (a member, channel or environment added,
			// changed or removed) says what it was about only in DETAIL: where
			// that column is hidden (80 columns), its row named nothing.
			if c == auditName && e.KeyID == "" && v.table.widths[auditDetail] == 0 {
				return auditSubject(e, v.table.widths[auditChannel] > 0)
			}
			return auditCell(e, c)
		}, func(r int) lipgloss.Style {
			if e := &v.events[v.shown[r]]; e.Action == model.ActionDelete || e.Action == model.ActionExpire {
				return v.st.Warning
			}
			return v.st.Row
		}, v.st.Selected))
	}
	// The filter line stays at the bottom and the table at the top, so
	// neither moves as the filter narrows the rows.
	body := lipgloss.NewStyle().Width(v.width).Height(v.height - 1).MaxHeight(v.height - 1).Render(b.String())
	if v.filtering || v.filter.Value() != "" {
		return body + "\n" + v.filter.View()
	}
	return body
}
