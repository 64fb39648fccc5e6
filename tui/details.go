package tui

import (
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
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
	noInit
	sh     *shared
	st     *Styles
	keyMap detailsKeyMap
	key    model.Key
	gone   bool // deleted underneath us
	now    func() time.Time
	width  int
	height int
}

func newDetailsView(sh *shared, k model.Key) *detailsView {
	return &detailsView{sh: sh, st: sh.st, keyMap: defaultDetailsKeyMap(), key: k, now: sh.now}
}

func (d *detailsView) KeyMap() help.KeyMap { return d.keyMap }
func (d *detailsView) Typing() bool        { return false }
func (d *detailsView) SetSize(w, h int)    { d.width, d.height = w, h }

func (d *detailsView) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dataMsg:
		// Keep the key shown current with each load.
		if k, ok := d.sh.data.set.Lookup(d.key.ID); ok {
			d.key = *k
		} else {
			d.gone = true
		}
	case tea.KeyMsg:
		switch {
		case key.Matches(msg, d.keyMap.Back):
			d.sh.nav.pop()
		case key.Matches(msg, d.keyMap.Delete) && !d.gone:
			return d.sh.home.askDelete(d.key)
		}
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
	return center(d.width, d.height, d.st.Box.Width(min(100, max(40, d.width-2))).Render(strings.TrimRight(b.String(), "\n")))
}
