package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"keyden/format"
	"keyden/model"
)

type catalogKeyMap struct {
	Up, Down, Switch, Add, Remove, Back key.Binding
	SwitchBack                          key.Binding // the part of Switch that goes left
	input                               inputKeyMap
}

func defaultCatalogKeyMap() catalogKeyMap {
	return catalogKeyMap{
		Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:   key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Switch: key.NewBinding(key.WithKeys("tab", "shift+tab", "left", "right"), key.WithHelp("tab", "next panel")),
		Add:    key.NewBinding(key.WithKeys("a", "n"), key.WithHelp("a", "add")),
		Remove: key.NewBinding(key.WithKeys("x", "d", "delete"), key.WithHelp("x", "remove")),
		Back:   key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", "back")),

		SwitchBack: key.NewBinding(key.WithKeys("shift+tab", "left")),
		input:      defaultInputKeyMap(),
	}
}

func (k catalogKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Add, k.Remove, k.Switch, k.Back, k.Up, k.Down}
}
func (k catalogKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// The catalog's panels.
const (
	sideEnvs = iota
	sideChannels
	sideMembers
	sides
)

// catalogView lists environments and channels, and adds and removes them.
type catalogView struct {
	noInit
	sh       *shared
	perm     *perms
	st       *Styles
	keyMap   catalogKeyMap
	envs     []model.Environment
	channels []model.Channel
	members  []model.Member
	counts   map[string]int // keys per "env:NAME" and "ch:NAME"
	side     int            // sideEnvs, sideChannels or sideMembers
	cursor   [sides]int
	adding   bool
	input    textinput.Model
	inputErr string
	addHint  string
	rows     int // rows a panel shows (0: all), on a short screen
	width    int
	height   int
}

func newCatalogView(sh *shared) *catalogView {
	c := &catalogView{sh: sh, perm: sh.perm, st: sh.st, keyMap: defaultCatalogKeyMap()}
	c.loaded()
	return c
}

// KeyMap is the add line's while it takes text.
func (c *catalogView) KeyMap() help.KeyMap {
	if c.adding {
		return inputHelp{c.keyMap.input}
	}
	return c.keyMap
}

// statusText counts what the catalog lists.
func (c *catalogView) statusText() string {
	return format.Count(len(c.envs), "env") + " · " + format.Count(len(c.channels), "channel") + " · " + format.Count(len(c.members), "member")
}
func (c *catalogView) Typing() bool     { return c.adding }
func (c *catalogView) SetSize(w, h int) { c.width, c.height = w, h }

// loaded takes in the latest load.
func (c *catalogView) loaded() {
	d := c.sh.data
	var counts map[string]int
	if d.set != nil {
		counts = countKeys(d.set)
	}
	c.setData(d.envs, d.channels, d.members, counts)
}

func (c *catalogView) setData(envs []model.Environment, chs []model.Channel, ms []model.Member, counts map[string]int) {
	c.envs, c.channels, c.members, c.counts = envs, chs, ms, counts
	for s := 0; s < sides; s++ {
		c.cursor[s] = min(c.cursor[s], max(0, c.len(s)-1))
	}
}

func (c *catalogView) len(side int) int {
	return [...]int{len(c.envs), len(c.channels), len(c.members)}[side]
}

func (c *catalogView) selectedName() string {
	i := c.cursor[c.side]
	switch {
	case c.side == sideEnvs && i < len(c.envs):
		return c.envs[i].Name
	case c.side == sideChannels && i < len(c.channels):
		return c.channels[i].Name
	case c.side == sideMembers && i < len(c.members):
		return c.members[i].User
	}
	return ""
}

// mayEdit says why the user may not change the current panel, if so.
func (c *catalogView) mayEdit() error {
	switch c.side {
	case sideEnvs:
		return c.perm.mayManage("change environments")
	case sideMembers:
		return c.perm.mayManage("change members")
	}
	if c.perm == nil || c.perm.members == nil {
		return nil
	}
	return c.perm.members.CanEditChannels(c.perm.actor)
}

func (c *catalogView) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case dataMsg:
		c.loaded()
	case catalogDoneMsg:
		return c.done(msg)
	case tea.KeyMsg:
		if c.adding {
			return c.updateAdd(msg)
		}
		return c.updateKeys(msg)
	}
	return nil
}

func (c *catalogView) updateKeys(km tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(km, c.keyMap.Back):
		c.sh.nav.pop()
	case key.Matches(km, c.keyMap.Up):
		c.cursor[c.side] = max(0, c.cursor[c.side]-1)
	case key.Matches(km, c.keyMap.Down):
		c.cursor[c.side] = min(max(0, c.len(c.side)-1), c.cursor[c.side]+1)
	case key.Matches(km, c.keyMap.Switch):
		step := 1
		if key.Matches(km, c.keyMap.SwitchBack) {
			step = sides - 1
		}
		c.side = (c.side + step) % sides
	case key.Matches(km, c.keyMap.Add):
		if err := c.mayEdit(); err != nil {
			c.sh.fail(err)
			return nil
		}
		c.adding, c.inputErr = true, ""
		c.input = c.st.textInput()
		c.input.Prompt = ""
		c.input.CharLimit = 200
		c.addHint = [...]string{"name [tag], such as qa or preprod pp",
			"name [description], such as mobile-app iOS and Android", "user [admin|super-admin], such as ann admin"}[c.side]
		return c.input.Focus()
	case key.Matches(km, c.keyMap.Remove):
		if err := c.mayEdit(); err != nil {
			c.sh.fail(err)
			return nil
		}
		if c.selectedName() != "" {
			return c.askRemove()
		}
	}
	return nil
}

func (c *catalogView) updateAdd(km tea.KeyMsg) tea.Cmd {
	switch {
	case key.Matches(km, c.keyMap.input.Cancel):
		c.adding = false
		return nil
	case key.Matches(km, c.keyMap.input.Accept):
		name, rest, _ := strings.Cut(strings.TrimSpace(c.input.Value()), " ")
		rest = strings.TrimSpace(rest)
		if c.side == sideMembers {
			if err := model.ValidateUser(name); err != nil {
				c.inputErr = err.Error()
				return nil
			}
			role := model.RoleAdmin
			if rest != "" {
				r, err := model.ParseRole(rest)
				if err != nil {
					c.inputErr = err.Error()
					return nil
				}
				role = r
			}
			c.adding = false
			return c.addMember(name, role)
		}
		if c.side == sideEnvs {
			if err := model.ValidateEnvName(name); err != nil {
				c.inputErr = err.Error()
				return nil
			}
			if rest != "" {
				if err := model.ValidateTag(rest); err != nil {
					c.inputErr = err.Error()
					return nil
				}
			}
			c.adding = false
			return c.addEnv(model.Environment{Name: name, Tag: rest, ConfirmByName: model.ConfirmByNameFor(name)})
		}
		if err := model.ValidateChannelName(name); err != nil {
			c.inputErr = err.Error()
			return nil
		}
		if _, err := model.ValidateDescription(rest); err != nil {
			c.inputErr = err.Error()
			return nil
		}
		c.adding = false
		return c.addChannel(model.Channel{Name: name, Description: rest})
	}
	var cmd tea.Cmd
	c.input, cmd = c.input.Update(km)
	c.inputErr = ""
	return cmd
}

func (c *catalogView) View() string {
	var b strings.Builder
	foot := c.footView()
	room := c.height - lipgloss.Height(foot)
	// A box is its width plus 2 for the border; boxes are 2 apart.
	c.rows = 0
	if panels := c.panelsView(); lipgloss.Height(panels) <= room {
		b.WriteString(panels)
	} else {
		// Too short for all three: the chosen panel alone, rows scrolling
		// with the cursor, and the names of the others to tab to.
		var tabs []string
		for s, name := range [...]string{"Environments", "Channels", "Members"} {
			if s == c.side {
				tabs = append(tabs, c.st.Title.Render("["+name+"]"))
			} else {
				tabs = append(tabs, c.st.Subtle.Render(name))
			}
		}
		c.rows = max(1, room-4)
		b.WriteString(fitLine(strings.Join(tabs, " "), c.width) + "\n")
		b.WriteString(c.listView(c.side, "", min(c.width, 110)-2))
	}
	b.WriteString(foot)
	return center(c.width, c.height, b.String())
}

// panelsView is the three panels side by side, or two over one.
func (c *catalogView) panelsView() string {
	var b strings.Builder
	if c.width >= 120 {
		colW := (min(c.width, 160) - 10) / 3
		b.WriteString(lipgloss.JoinHorizontal(lipgloss.Top, c.listView(sideEnvs, "Environments", colW), "  ",
			c.listView(sideChannels, "Channels", colW), "  ", c.listView(sideMembers, "Members", colW)))
	} else {
		colW := max(12, (min(c.width, 110)-6)/2)
		top := lipgloss.JoinHorizontal(lipgloss.Top, c.listView(sideEnvs, "Environments", colW), "  ", c.listView(sideChannels, "Channels", colW))
		b.WriteString(lipgloss.JoinVertical(lipgloss.Left, top, c.listView(sideMembers, "Members", 2*colW+4)))
	}
	return b.String()
}

// footView is the add line, when open, and its error.
func (c *catalogView) footView() string {
	var b strings.Builder
	b.WriteString("\n")
	what := [...]string{"environment", "channel", "member"}[c.side]
	switch {
	case c.adding:
		// The prompt and an error wrap at spaces: cut at the screen's edge,
		// the example or the fix would be lost.
		c.input.Width = max(5, min(c.width, 110)-4)
		b.WriteString("\n" + strings.Join(wrapTo("Add "+what+": "+c.st.Subtle.Render(c.addHint), min(c.width, 110)), "\n") + "\n")
		b.WriteString("› " + c.input.View() + "\n")
		if c.inputErr != "" {
			b.WriteString(strings.Join(wrapTo(c.st.Error.Render("✗ "+sentenceCase(format.Safe(c.inputErr))), min(c.width, 110)), "\n") + "\n")
		}
	}
	return strings.TrimSuffix(b.String(), "\n")
}

func (c *catalogView) listView(side int, title string, w int) string {
	var b strings.Builder
	st := c.st.Subtle
	if side == c.side {
		st = c.st.Title
	}
	if title != "" {
		b.WriteString(st.Render(title) + "\n")
	}
	var lines []string
	switch side {
	case sideEnvs:
		for _, e := range c.envs {
			l := fmt.Sprintf("%s tag %s %s", padSafe(e.Name, 12), padSafe(e.Tag, 8), format.Count(c.counts["env:"+e.Name], "key"))
			// Where there is room: which environments confirm by the typed name.
			if byName := "  by name"; e.ConfirmByName && lipgloss.Width(l+byName) <= w-4 {
				l += byName
			}
			lines = append(lines, l)
		}
	case sideChannels:
		for _, ch := range c.channels {
			l := fmt.Sprintf("%s %10s", padSafe(ch.Name, 14), format.Count(c.counts["ch:"+ch.Name], "key"))
			if ch.Description != "" {
				l += "  " + format.Safe(ch.Description)
			}
			lines = append(lines, l)
		}
	case sideMembers:
		for _, m := range c.members {
			l := padSafe(m.User, 16) + " " + format.Safe(string(m.Role))
			if c.perm != nil && m.User == c.perm.actor {
				l += "  (you)"
			}
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		lines = append(lines, "none yet: press a to add")
	}
	first, last := 0, len(lines)
	if c.rows > 0 && len(lines) > c.rows {
		first = max(0, min(c.cursor[side]-c.rows/2, len(lines)-c.rows))
		last = first + c.rows
	}
	for i := first; i < last; i++ {
		l := lines[i]
		l = fit(l, w-4)
		if side == c.side && i == c.cursor[side] {
			b.WriteString(c.st.Selected.Render("▸ "+l) + "\n")
		} else {
			b.WriteString("  " + l + "\n")
		}
	}
	box := c.st.Box
	return box.Width(w).Render(strings.TrimRight(b.String(), "\n"))
}

// padSafe is store text made safe and padded to w cells (fmt's %-12s pads by
// runes, which a wide name knocks out of line).
func padSafe(s string, w int) string { return padRight(format.Safe(s), w) }
