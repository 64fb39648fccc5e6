package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"keyden/format"
	"keyden/model"
)

type eventKeyMap struct{ Key, Back key.Binding }

func defaultEventKeyMap() eventKeyMap {
	return eventKeyMap{
		Key:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "the key's details")),
		Back: key.NewBinding(key.WithKeys("esc", "q", "backspace"), key.WithHelp("esc", "back")),
	}
}

func (k eventKeyMap) ShortHelp() []key.Binding  { return []key.Binding{k.Key, k.Back} }
func (k eventKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// eventView shows one audit event whole, with a link to its key's details.
type eventView struct {
	noInit
	sh            *shared
	keyMap        eventKeyMap
	ev            model.Event
	width, height int
}

func newEventView(sh *shared, ev model.Event) *eventView {
	v := &eventView{sh: sh, keyMap: defaultEventKeyMap(), ev: ev}
	v.keyMap.Key.SetEnabled(ev.KeyID != "")
	return v
}

func (v *eventView) KeyMap() help.KeyMap { return v.keyMap }
func (v *eventView) Typing() bool        { return false }
func (v *eventView) SetSize(w, h int)    { v.width, v.height = w, h }

func (v *eventView) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(km, v.keyMap.Back):
		v.sh.nav.pop()
	case key.Matches(km, v.keyMap.Key):
		if v.sh.data.set == nil {
			v.sh.status("Still loading the store: try again in a moment.", false)
			return nil
		}
		if k, ok := v.key(); ok {
			return v.sh.nav.push(newDetailsView(v.sh, *k))
		}
		v.sh.status("The key "+v.ev.KeyID+" is no longer in the store: it was deleted.", false)
	}
	return nil
}

// key is the event's key as the store holds it now, if it still does.
func (v *eventView) key() (*model.Key, bool) {
	if v.sh.data.set == nil { // not loaded yet
		return nil, false
	}
	return v.sh.data.set.Lookup(v.ev.KeyID)
}

func (v *eventView) View() string {
	st, e := v.sh.st, v.ev
	var b strings.Builder
	b.WriteString(st.Title.Render("Audit event "+itoa(int(e.Seq))) + "\n\n")
	rows := [][2]string{{"Time", format.Stamp(e.Time)}, {"Actor", e.Actor}, {"Action", e.Action},
		{"Key", e.KeyID}, {"Key name", e.KeyName}, {"Channel", e.Channel}, {"Environment", e.Environment}, {"Detail", e.Detail}}
	for _, r := range rows {
		if r[1] == "" {
			continue
		}
		b.WriteString(st.Label.Render(padRight(r[0], 13)) + wrapHard(format.Safe(r[1]), max(20, v.width-20)) + "\n")
	}
	if e.KeyID != "" && v.sh.data.set != nil {
		if _, ok := v.key(); ok {
			b.WriteString("\n" + st.Subtle.Render("enter: the key's details, as it is now") + "\n")
		} else {
			b.WriteString("\n" + st.Subtle.Render("The key is no longer in the store.") + "\n")
		}
	}
	return center(v.width, v.height, st.Box.Width(min(100, max(40, v.width-2))).Render(strings.TrimRight(b.String(), "\n")))
}
