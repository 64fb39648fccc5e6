package tui

import (
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"keyden/format"
	"keyden/model"
)

type detailsKeyMap struct {
	Delete, Back key.Binding
}

func defaultDetailsKeyMap() detailsKeyMap {
	return detailsKeyMap{
		Delete: key.NewBinding(key.WithKeys("d", "delete"), key.WithHelp("d", "delete")),
		Back:   key.NewBinding(key.WithKeys("esc", "q", "backspace"), key.WithHelp("esc", "back")),
	}
}

func (k detailsKeyMap) ShortHelp() []key.Binding  { return []key.Binding{k.Delete, k.Back} }
func (k detailsKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// detailsView shows every stored field of one key (never its secret).
type detailsView struct {
	out    *outbox // requests to the app
	st     *Styles
	keyMap detailsKeyMap
	key    model.Key
	gone   bool // deleted underneath us
	now    func() time.Time
	width  int
}

func newDetailsView(st *Styles, k model.Key, now func() time.Time) *detailsView {
	return &detailsView{st: st, keyMap: defaultDetailsKeyMap(), key: k, now: now}
}

func (d *detailsView) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(km, d.keyMap.Back):
		return d.out.send(cancelMsg{})
	case key.Matches(km, d.keyMap.Delete) && !d.gone:
		return d.out.send(askDeleteMsg{key: d.key})
	}
	return nil
}

func (d *detailsView) View() string {
	var b strings.Builder
	b.WriteString(d.st.Title.Render(format.Safe(d.key.Name)) + "\n\n")
	if d.gone {
		b.WriteString(d.st.Error.Render("This key was deleted by another keyden.") + "\n\n")
	}
	now := d.now()
	health := d.key.Health(now)
	for _, f := range format.KeyFields(&d.key, now) {
		val := f[1]
		if f[0] == "Status" && health != model.HealthOK {
			if st, ok := d.st.Health[health]; ok {
				val = st.Render(val + " · " + string(health))
			}
		}
		b.WriteString(d.st.Label.Render(padRight(f[0], 13)) + wrapHard(val, max(20, d.width-20)) + "\n")
	}
	return d.st.Box.Width(min(100, max(40, d.width-2))).Render(strings.TrimRight(b.String(), "\n"))
}
