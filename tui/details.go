package tui

import (
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"keyden/format"
	"keyden/model"
	"keyden/storage"
)

type detailsKeyMap struct {
	Rotate, Disable, Delete, Follow, NextLink, Back key.Binding
	Up, Down, PageUp, PageDown                      key.Binding
}

func defaultDetailsKeyMap() detailsKeyMap {
	return detailsKeyMap{
		Rotate:   key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "rotate")),
		Disable:  key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "disable")),
		Delete:   key.NewBinding(key.WithKeys("d", "delete"), key.WithHelp("d", "delete")),
		Follow:   key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open link")),
		NextLink: key.NewBinding(key.WithKeys("tab", "shift+tab"), key.WithHelp("tab", "next link")),
		Back:     key.NewBinding(key.WithKeys("esc", "q", "backspace"), key.WithHelp("esc", "back")),
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "scroll")),
		Down:     key.NewBinding(key.WithKeys("down", "j")),
		PageUp:   key.NewBinding(key.WithKeys("pgup", "ctrl+b")),
		PageDown: key.NewBinding(key.WithKeys("pgdown", "ctrl+f", " ")),
	}
}

// Details lists a key's newest audit events, up to detailsEventLimit,
// found among the log's newest detailsEventScan: opening a key's details
// never reads the whole log of a big store.
const (
	detailsEventLimit = 50
	detailsEventScan  = 100000
)

// detailsEventsMsg is the store's answer to details' read of its key's events.
type detailsEventsMsg struct {
	id     string
	events []model.Event
	err    error
}

// link is a "Replaces" or "Replaced by" line: enter opens that key.
type link struct{ label, id string }

// detailsView shows every stored field of one key (never its secret), its
// links to the keys it replaced or was replaced by, and its audit events;
// it offers every action that applies to the key.
type detailsView struct {
	sh     *shared
	st     *Styles
	keyMap detailsKeyMap
	key    model.Key
	gone   bool // deleted underneath us
	now    func() time.Time
	width  int
	height int

	events   []model.Event
	evLoaded bool
	evErr    error // why the events could not be read
	links    []link
	link     int // the link enter follows
	scroll   scroller
}

func newDetailsView(sh *shared, k model.Key) *detailsView {
	d := &detailsView{sh: sh, st: sh.st, keyMap: defaultDetailsKeyMap(), now: sh.now}
	d.setKey(k)
	return d
}

// Init reads the key's audit events.
func (d *detailsView) Init() tea.Cmd { return d.loadEvents() }

func (d *detailsView) loadEvents() tea.Cmd {
	st, ctx, id := d.sh.store, d.sh.ctx, d.key.ID
	return func() tea.Msg {
		evs, err := st.Audit(ctx, storage.AuditFilter{KeyID: id, Limit: detailsEventLimit, MaxScan: detailsEventScan})
		return detailsEventsMsg{id: id, events: evs, err: err}
	}
}

// setKey shows k, keeping the chosen link where it still is.
func (d *detailsView) setKey(k model.Key) {
	d.key = k
	d.links = d.links[:0]
	if k.RotatedTo != "" {
		d.links = append(d.links, link{"Replaced by", k.RotatedTo})
	}
	if k.RotatedFrom != "" {
		d.links = append(d.links, link{"Replaces", k.RotatedFrom})
	}
	d.link = min(d.link, max(0, len(d.links)-1))
	km := &d.keyMap
	km.Follow.SetEnabled(len(d.links) > 0)
	km.NextLink.SetEnabled(len(d.links) > 1)
	verb := "disable"
	if k.Disabled {
		verb = "enable"
	}
	km.Disable.SetHelp("x", verb)
}

func (d *detailsView) KeyMap() help.KeyMap { return d }
func (d *detailsView) Typing() bool        { return false }
func (d *detailsView) SetSize(w, h int)    { d.width, d.height = w, h }

// ShortHelp offers what applies to this key, the actions first; what the
// user may not do is left out (pressing it anyway says why).
func (d *detailsView) ShortHelp() []key.Binding {
	k, perm := d.keyMap, d.sh.perm
	out := []key.Binding{k.Follow}
	if !d.gone {
		if d.key.RotatedTo == "" && !d.key.Disabled && !d.key.Decoy && perm.mayChange(model.KeyRotate, &d.key) == nil {
			out = append(out, k.Rotate)
		}
		if perm.mayChange(model.KeyDisable, &d.key) == nil {
			out = append(out, k.Disable)
		}
		if perm.mayChange(model.KeyDelete, &d.key) == nil {
			out = append(out, k.Delete)
		}
	}
	return append(out, k.Back, k.NextLink, k.Up)
}

func (d *detailsView) FullHelp() [][]key.Binding { return [][]key.Binding{d.ShortHelp()} }

// statusText is the key's id and where the view is in its lines.
func (d *detailsView) statusText() string {
	s := format.Safe(d.key.ID)
	if d.evLoaded {
		s += " · " + format.Count(len(d.events), "event")
	}
	if w := d.scroll.where(); w != "" {
		s += " · " + w
	}
	return s
}

func (d *detailsView) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dataMsg:
		// Keep the key shown current with each load.
		k, ok := d.sh.data.set.Lookup(d.key.ID)
		if !ok {
			d.gone = true
			d.setKey(d.key)
			return nil
		}
		changed := k.Disabled != d.key.Disabled || k.RotatedTo != d.key.RotatedTo || !k.ExpiresAt.Equal(d.key.ExpiresAt)
		d.setKey(*k)
		if changed {
			return d.loadEvents()
		}
	case disabledMsg:
		if msg.err == nil && msg.id == d.key.ID {
			d.setKey(msg.key)
			return d.loadEvents()
		}
	case detailsEventsMsg:
		if msg.id != d.key.ID {
			return nil
		}
		if msg.err != nil {
			d.sh.fail(msg.err)
		}
		d.events, d.evLoaded, d.evErr = msg.events, msg.err == nil, msg.err
	case tea.MouseMsg:
		if msg.Action == tea.MouseActionPress {
			switch msg.Button {
			case tea.MouseButtonWheelUp:
				d.scroll.by(-3)
			case tea.MouseButtonWheelDown:
				d.scroll.by(3)
			}
		}
	case tea.KeyMsg:
		km := d.keyMap
		switch {
		case key.Matches(msg, km.Back):
			d.sh.nav.pop()
		case key.Matches(msg, km.Up):
			d.scroll.by(-1)
		case key.Matches(msg, km.Down):
			d.scroll.by(1)
		case key.Matches(msg, km.PageUp):
			d.scroll.by(-d.room())
		case key.Matches(msg, km.PageDown):
			d.scroll.by(d.room())
		case key.Matches(msg, km.NextLink) && len(d.links) > 1:
			d.link = (d.link + 1) % len(d.links)
		case key.Matches(msg, km.Follow) && len(d.links) > 0:
			return d.follow(d.links[d.link])
		case d.gone && (key.Matches(msg, km.Delete) || key.Matches(msg, km.Rotate) || key.Matches(msg, km.Disable)):
			d.sh.status("This key was deleted by another keyden.", false)
		case key.Matches(msg, km.Delete):
			return d.sh.home.askDelete(d.key)
		case key.Matches(msg, km.Rotate):
			return d.sh.home.askRotate(d.key)
		case key.Matches(msg, km.Disable):
			return d.sh.home.toggleDisabled(d.key)
		}
	}
	return nil
}

// follow opens the details of the key l names, on top of these.
func (d *detailsView) follow(l link) tea.Cmd {
	if k, ok := d.sh.data.set.Lookup(l.id); ok {
		return d.sh.nav.push(newDetailsView(d.sh, *k))
	}
	d.sh.status("The key "+l.id+" is no longer in the store: it was deleted.", false)
	return nil
}

// room is how many lines of details fit in the box, the title excluded.
func (d *detailsView) room() int { return max(1, d.height-4) }

// inner is the width of the text inside the box.
func (d *detailsView) inner() int { return max(20, min(100, d.width-2)-2) }

func (d *detailsView) lines() []string {
	st, now, w := d.st, d.now(), d.inner()
	labelW := 13
	if w < 34 {
		labelW = w / 3
	}
	valW := w - labelW
	var out []string
	row := func(label, val string, style lipgloss.Style) {
		for i, l := range strings.Split(lipgloss.NewStyle().Width(valW).Render(val), "\n") {
			lab := padRight("", labelW)
			if i == 0 {
				lab = st.Label.Render(padRight(format.Truncate(label, labelW-1, ""), labelW))
			}
			out = append(out, lab+style.Render(strings.TrimRight(l, " ")))
		}
	}
	if d.gone {
		out = append(out, st.Error.Render("This key was deleted by another keyden."), "")
	}
	health := d.key.Health(now)
	for _, f := range format.KeyFields(&d.key, now) {
		style := lipgloss.NewStyle()
		if f[0] == "Status" {
			style = d.st.Health[health]
		}
		if i := d.linkIndex(f[0]); i >= 0 {
			label, val := f[0], f[1]
			there := true
			if set := d.sh.data.set; set != nil {
				_, there = set.Lookup(d.links[i].id)
			}
			switch {
			case !there: // said before enter finds it gone
				val += "  (deleted)"
				if i == d.link {
					label = "▸" + label
				}
			case i == d.link:
				label, val = "▸"+label, val+"  (enter)"
				style = st.Focused
			}
			row(label, val, style)
			continue
		}
		row(f[0], f[1], style)
		if f[0] == "Uses" {
			row("Last 30 days", d.usesLine(now, valW), st.Subtle)
		}
	}
	out = append(out, "", st.Title.Render("Audit events"))
	switch {
	case d.evErr != nil: // not "Loading…" for ever
		for _, l := range wrapTo("They could not be read: "+format.Safe(sentence(d.evErr)), w) {
			out = append(out, st.Error.Render(l))
		}
	case !d.evLoaded:
		out = append(out, st.Subtle.Render("Loading…"))
	case len(d.events) == 0:
		out = append(out, st.Subtle.Render("None."))
	}
	for _, e := range d.events {
		line := format.Stamp(e.Time)[:16] + "  " + format.Safe(e.Actor) + "  " + format.Safe(e.Action)
		if e.Detail != "" {
			line += "  " + format.Safe(e.Detail)
		}
		out = append(out, fit(line, w))
	}
	if d.evLoaded && !d.madeIn(d.events) {
		for _, l := range wrapWords("Older events: keyden audit --key "+format.Safe(d.key.ID), w) {
			out = append(out, st.Subtle.Render(l))
		}
	}
	return out
}

// usesLine is the key's uses per day over the last 30 days as a
// sparkline, a cell a day where there is room (else three days a cell,
// as in the table's 30D column), oldest on the left, and their sum.
func (d *detailsView) usesLine(now time.Time, w int) string {
	days := d.key.Uses30d(now)
	var sum uint64
	for _, n := range days {
		sum += uint64(n)
	}
	cells := len(days)
	if w < cells+16 {
		cells = len(days) / 3
	}
	return format.Sparkline(days[:], cells) + "  " + format.Count(int(sum), "use")
}

// madeIn says whether evs reach back to the event that made the key.
func (d *detailsView) madeIn(evs []model.Event) bool {
	if len(evs) == 0 {
		return false
	}
	return evs[len(evs)-1].Action == model.ActionCreate
}

func (d *detailsView) linkIndex(label string) int {
	for i, l := range d.links {
		if l.label == label {
			return i
		}
	}
	return -1
}

func (d *detailsView) View() string {
	shown := d.scroll.window(d.lines(), d.room())
	d.keyMap.Up.SetEnabled(d.scroll.more())
	title := d.scroll.withMark(d.st.Title.Render(format.Truncate(format.Safe(d.key.Name), d.inner()-3, "…")), d.inner(), d.st.Subtle)
	body := title + "\n\n" + strings.Join(shown, "\n")
	return center(d.width, d.height, d.st.Box.Width(d.inner()+2).Render(body))
}
