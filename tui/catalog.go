package tui

import (
	"fmt"
	"math"
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
	zones    []zone
	origin   [2]int // where the body starts on the screen
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
	case tea.MouseMsg:
		c.mouse(msg)
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
	c.rows, c.zones = 0, c.zones[:0]
	vertical := lipgloss.Center
	if panels := c.panelsView(); lipgloss.Height(panels) <= room {
		b.WriteString(panels)
	} else {
		// At the top, so the bar of names stays on its line whatever the
		// height of the panel under it.
		vertical = lipgloss.Top
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
		c.zones = c.zones[:0]
		x := 0
		for s, name := range [...]string{"Environments", "Channels", "Members"} {
			w := len(name)
			if s == c.side {
				w += 2 // [ ]
			}
			c.zones = append(c.zones, zone{side: s, x: x, w: w, h: 1, tab: true})
			x += w + 1
		}
		b.WriteString(fitLine(strings.Join(tabs, " "), c.width) + "\n")
		c.zone(c.side, 0, 1, false)
		b.WriteString(c.listView(c.side, "", min(c.width, 110)-2))
	}
	b.WriteString(foot)
	body := b.String()
	// Where center puts the body, for the mouse.
	gw, gh := max(0, c.width-lipgloss.Width(body)), max(0, c.height-lipgloss.Height(body))
	c.origin = [2]int{gw - int(math.Round(float64(gw)*0.5)), 0}
	if vertical == lipgloss.Center {
		c.origin[1] = gh - int(math.Round(float64(gh)*0.5))
	}
	return lipgloss.Place(c.width, c.height, lipgloss.Center, vertical, body)
}

// zone is where a panel's box (or, on a short screen, its name) was drawn,
// relative to the catalog's body.
type zone struct {
	side, x, y, w, h int
	first            int  // the row on the box's first line of rows
	titled, tab      bool // the box has a title line; the zone is a name to click
}

// zone notes the box of side just drawn at x, y, its size and first row
// taken from the last listView.
func (c *catalogView) zone(side, x, y int, titled bool) {
	c.zones = append(c.zones, zone{side: side, x: x, y: y, titled: titled, first: -1})
}

// mouse picks the panel or row clicked; the wheel moves the cursor.
func (c *catalogView) mouse(msg tea.MouseMsg) {
	if d := wheel(msg); d != 0 {
		c.cursor[c.side] = max(0, min(c.len(c.side)-1, c.cursor[c.side]+d))
		return
	}
	if !clicked(msg) || c.adding {
		return
	}
	x, y := msg.X-c.origin[0], msg.Y-c.origin[1]
	for _, z := range c.zones {
		if x < z.x || x >= z.x+z.w || y < z.y || y >= z.y+z.h {
			continue
		}
		c.side = z.side
		if z.tab {
			return
		}
		top := z.y + 1 // the border
		if z.titled {
			top++
		}
		if r := z.first + y - top; y >= top && r < c.len(z.side) {
			c.cursor[z.side] = r
		}
		return
	}
}

// panelsView is the three panels side by side, or two over one.
func (c *catalogView) panelsView() string {
	// Each box is noted as a zone where it lands, for the mouse.
	box := func(side int, title string, w, x, y int) string {
		c.zone(side, x, y, true)
		return c.listView(side, title, w)
	}
	if c.width >= 120 {
		colW := (min(c.width, 160) - 10) / 3
		return lipgloss.JoinHorizontal(lipgloss.Top, box(sideEnvs, "Environments", colW, 0, 0), "  ",
			box(sideChannels, "Channels", colW, colW+4, 0), "  ", box(sideMembers, "Members", colW, 2*colW+8, 0))
	}
	colW := max(12, (min(c.width, 110)-6)/2)
	top := lipgloss.JoinHorizontal(lipgloss.Top, box(sideEnvs, "Environments", colW, 0, 0), "  ", box(sideChannels, "Channels", colW, colW+4, 0))
	return lipgloss.JoinVertical(lipgloss.Left, top, box(sideMembers, "Members", 2*colW+4, 0, lipgloss.Height(top)))
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
	// Columns are as wide as their widest cell, so a long name never pushes
	// its row out of line; a name too long for the panel is cut, never the
	// count after it.
	inner := w - 4
	switch side {
	case sideEnvs:
		nameW, tagW, countW := 0, 0, 0
		for _, e := range c.envs {
			nameW, tagW = max(nameW, safeCells(e.Name)), max(tagW, safeCells(e.Tag))
			countW = max(countW, len(format.Count(c.counts["env:"+e.Name], "key")))
		}
		nameW = min(nameW, max(6, inner-5-tagW-2-countW))
		for _, e := range c.envs {
			l := fmt.Sprintf("%s tag %s  %*s", fit(e.Name, nameW), fit(e.Tag, tagW), countW, format.Count(c.counts["env:"+e.Name], "key"))
			// Where there is room: which environments confirm by the typed name.
			if byName := "  by name"; e.ConfirmByName && lipgloss.Width(l+byName) <= inner {
				l += byName
			}
			lines = append(lines, l)
		}
	case sideChannels:
		nameW, countW := 0, 0
		for _, ch := range c.channels {
			nameW = max(nameW, safeCells(ch.Name))
			countW = max(countW, len(format.Count(c.counts["ch:"+ch.Name], "key")))
		}
		nameW = min(nameW, max(6, inner-2-countW))
		for _, ch := range c.channels {
			l := fmt.Sprintf("%s  %*s", fit(ch.Name, nameW), countW, format.Count(c.counts["ch:"+ch.Name], "key"))
			// The description takes the room left, cut on its own so the
			// count stays whole.
			if room := inner - format.Cells(l) - 2; ch.Description != "" && room >= 4 {
				l += "  " + format.Truncate(format.Safe(ch.Description), room, "…")
			}
			lines = append(lines, l)
		}
	case sideMembers:
		userW := 0
		for _, m := range c.members {
			userW = max(userW, safeCells(m.User))
		}
		userW = min(userW, max(6, inner-len("super-admin  (you)")-2))
		for _, m := range c.members {
			l := fit(m.User, userW) + "  " + format.Safe(string(m.Role))
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
	out := c.st.Box.Width(w).Render(strings.TrimRight(b.String(), "\n"))
	if n := len(c.zones); n > 0 && c.zones[n-1].first < 0 {
		z := &c.zones[n-1]
		z.first, z.w, z.h = first, lipgloss.Width(out), lipgloss.Height(out)
	}
	return out
}

// safeCells is the cells store text takes once made safe.
func safeCells(s string) int { return format.Cells(format.Safe(s)) }
