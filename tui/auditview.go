package tui

import (
	"fmt"
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
	return []key.Binding{k.table.Up, k.table.Down, k.Open, k.Filter, k.Back}
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
	filter    textinput.Model
	filtering bool
	table     vtable
	width     int
	height    int
}

func newAuditView(sh *shared) *auditView {
	fi := textinput.New()
	fi.Prompt = "/ "
	fi.Placeholder = "actor, action, key, name, channel, env"
	return &auditView{sh: sh, st: sh.st, keyMap: defaultAuditKeyMap(), now: sh.now, filter: fi, table: newVTable([]column{
		{title: "TIME", width: 19, priority: 0},
		{title: "ACTOR", width: 8, max: 14, priority: 1, flex: true},
		{title: "ACTION", width: 11, priority: 2},
		{title: "NAME", width: 12, max: 30, priority: 3, flex: true},
		{title: "ENV", width: 7, priority: 5},
		{title: "CHANNEL", width: 10, max: 16, priority: 6, flex: true},
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

func (v *auditView) KeyMap() help.KeyMap { return v.keyMap }
func (v *auditView) Typing() bool        { return v.filtering }

func (v *auditView) SetSize(w, h int) {
	v.width, v.height = w, h
	v.table.SetSize(w-1, h-5)
	v.filter.Width = max(10, w-4)
}

func (v *auditView) setEvents(evs []model.Event) {
	v.events, v.loaded = evs, true
	v.apply()
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
}

func (v *auditView) Update(msg tea.Msg) tea.Cmd {
	if m, ok := msg.(auditLoadedMsg); ok {
		if m.err != nil {
			v.sh.fail(m.err)
		}
		v.setEvents(m.events)
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
	b.WriteString(v.st.Title.Render("Audit log") + v.st.Subtle.Render(fmt.Sprintf("  newest first · %d of %s", len(v.shown), format.Count(len(v.events), "event"))) + "\n\n")
	switch {
	case !v.loaded:
		b.WriteString(v.st.Subtle.Render("  Loading…"))
	case len(v.shown) == 0:
		b.WriteString(v.st.Subtle.Render("  No events match."))
	default:
		b.WriteString(v.table.View(v.st.Header, func(r, c int) string {
			e := &v.events[v.shown[r]]
			return [...]string{format.Stamp(e.Time)[:19], e.Actor, e.Action, e.KeyName, e.Environment, e.Channel, e.KeyID, e.Detail}[c]
		}, func(r int) lipgloss.Style {
			if e := &v.events[v.shown[r]]; e.Action == model.ActionDelete || e.Action == model.ActionExpire {
				return v.st.Warning
			}
			return v.st.Row
		}, v.st.Selected))
	}
	if v.filtering || v.filter.Value() != "" {
		b.WriteString("\n" + v.filter.View())
	}
	return center(v.width, v.height, lipgloss.NewStyle().Width(v.width).Render(b.String()))
}
