package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"

	"keyden/format"
	"keyden/model"
)

type eventKeyMap struct{ Key, Back, Up, Down key.Binding }

func defaultEventKeyMap() eventKeyMap {
	return eventKeyMap{
		Key:  key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "the key's details")),
		Back: key.NewBinding(key.WithKeys("esc", "q", "backspace"), key.WithHelp("esc", "back")),
		Up:   key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "scroll")),
		Down: key.NewBinding(key.WithKeys("down", "j")),
	}
}

func (k eventKeyMap) ShortHelp() []key.Binding  { return []key.Binding{k.Key, k.Back, k.Up} }
func (k eventKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// eventView shows one audit event whole, with a link to its key's details.
type eventView struct {
	noInit
	sh            *shared
	keyMap        eventKeyMap
	ev            model.Event
	width, height int
	scroll        scroller
}

func newEventView(sh *shared, ev model.Event) *eventView {
	v := &eventView{sh: sh, keyMap: defaultEventKeyMap(), ev: ev}
	v.keyMap.Key.SetEnabled(ev.KeyID != "")
	return v
}

func (v *eventView) KeyMap() help.KeyMap { return v.keyMap }

// statusText names the event, not the keys screen's counts.
func (v *eventView) statusText() string {
	s := "audit event " + itoa(int(v.ev.Seq))
	if w := v.scroll.where(); w != "" {
		s += " · " + w
	}
	return s
}
func (v *eventView) Typing() bool     { return false }
func (v *eventView) SetSize(w, h int) { v.width, v.height = w, h }

func (v *eventView) Update(msg tea.Msg) tea.Cmd {
	if m, ok := msg.(tea.MouseMsg); ok {
		v.scroll.by(wheel(m) * wheelStep)
		return nil
	}
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(km, v.keyMap.Up):
		v.scroll.by(-1)
	case key.Matches(km, v.keyMap.Down):
		v.scroll.by(1)
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
	w := max(20, min(100, v.width-2)-2) // inside the box's border and padding
	labelW := min(13, w/3)
	var lines []string
	// Who used a decoy (client IP, User-Agent) is what an alert is for.
	rows := [][2]string{{"Time", format.Stamp(e.Time)}, {"Actor", e.Actor}, {"SSH key", e.ActorKey}, {"Action", e.Action},
		{"Key", e.KeyID}, {"Key name", e.KeyName}, {"Channel", e.Channel}, {"Environment", e.Environment}, {"Detail", e.Detail},
		{"Client IP", e.ClientIP}, {"User agent", e.UserAgent}}
	for _, r := range rows {
		if r[1] == "" {
			continue
		}
		for i, l := range wrapTo(format.Safe(r[1]), w-labelW) {
			label := padRight("", labelW)
			if i == 0 {
				label = st.Label.Render(padRight(format.Truncate(r[0], labelW-1, ""), labelW))
			}
			lines = append(lines, label+l)
		}
	}
	if e.KeyID != "" && v.sh.data.set != nil {
		lines = append(lines, "")
		if _, ok := v.key(); ok {
			lines = append(lines, wrapTo(st.Subtle.Render("enter: the key's details, as it is now"), w)...)
		} else {
			lines = append(lines, wrapTo(st.Subtle.Render("The key is no longer in the store."), w)...)
		}
	}
	shown := v.scroll.window(lines, max(1, v.height-4))
	v.keyMap.Up.SetEnabled(v.scroll.more())
	title := v.scroll.withMark(st.Title.Render("Audit event "+itoa(int(e.Seq))), w, st.Subtle)
	return center(v.width, v.height, st.Box.Width(w+2).Render(title+"\n\n"+strings.Join(shown, "\n")))
}
