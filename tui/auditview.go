package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"keyden/format"
	"keyden/model"
)

// auditLimit is how many of the newest events the audit view loads.
const auditLimit = 10000

type auditKeyMap struct {
	table        tableKeyMap
	Filter, Back key.Binding
}

func defaultAuditKeyMap() auditKeyMap {
	return auditKeyMap{
		table:  defaultTableKeyMap(),
		Filter: key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Back:   key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", "back")),
	}
}

func (k auditKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.table.Up, k.table.Down, k.Filter, k.Back}
}
func (k auditKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.table.Up, k.table.Down, k.table.PageUp, k.table.PageDown, k.table.Top, k.table.Bottom}, {k.Filter, k.Back}}
}

// auditView lists the audit log newest first, filterable as you type.
type auditView struct {
	out       *outbox
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

func newAuditView(st *Styles, now func() time.Time) *auditView {
	fi := textinput.New()
	fi.Prompt = "/ "
	fi.Placeholder = "actor, action, key, name, channel, env"
	return &auditView{st: st, keyMap: defaultAuditKeyMap(), now: now, filter: fi, table: newVTable([]column{
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
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if v.filtering {
		switch km.String() {
		case "esc":
			v.filtering = false
			v.filter.SetValue("")
			v.apply()
			return nil
		case "enter":
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
		return v.out.send(cancelMsg{})
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
	return lipgloss.NewStyle().Width(v.width).Render(b.String())
}
