package tui

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"keyden/model"
)

type catalogKeyMap struct {
	Up, Down, Switch, Add, Remove, Back key.Binding
}

func defaultCatalogKeyMap() catalogKeyMap {
	return catalogKeyMap{
		Up:     key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:   key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Switch: key.NewBinding(key.WithKeys("tab", "shift+tab", "left", "right"), key.WithHelp("tab", "envs ⇄ channels")),
		Add:    key.NewBinding(key.WithKeys("a", "n"), key.WithHelp("a", "add")),
		Remove: key.NewBinding(key.WithKeys("x", "d", "delete"), key.WithHelp("x", "remove")),
		Back:   key.NewBinding(key.WithKeys("esc", "q"), key.WithHelp("esc", "back")),
	}
}

func (k catalogKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Switch, k.Add, k.Remove, k.Back}
}
func (k catalogKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// Requests the catalog view sends to the app, which runs them on the store.
type (
	addEnvMsg     struct{ env model.Environment }
	addChannelMsg struct{ ch model.Channel }
	rmEnvMsg      struct{ name string }
	rmChannelMsg  struct{ name string }
)

// catalogView lists environments and channels, and adds and removes them.
type catalogView struct {
	out      *outbox // requests to the app
	st       *Styles
	keyMap   catalogKeyMap
	envs     []model.Environment
	channels []model.Channel
	counts   map[string]int // keys per "env:NAME" and "ch:NAME"
	side     int            // 0 environments, 1 channels
	cursor   [2]int
	adding   bool
	removing bool
	input    textinput.Model
	inputErr string
	width    int
}

func newCatalogView(st *Styles) *catalogView {
	return &catalogView{st: st, keyMap: defaultCatalogKeyMap()}
}

func (c *catalogView) setData(envs []model.Environment, chs []model.Channel, counts map[string]int) {
	c.envs, c.channels, c.counts = envs, chs, counts
	c.cursor[0] = min(c.cursor[0], max(0, len(envs)-1))
	c.cursor[1] = min(c.cursor[1], max(0, len(chs)-1))
}

func (c *catalogView) len(side int) int {
	if side == 0 {
		return len(c.envs)
	}
	return len(c.channels)
}

func (c *catalogView) selectedName() string {
	i := c.cursor[c.side]
	if c.side == 0 && i < len(c.envs) {
		return c.envs[i].Name
	}
	if c.side == 1 && i < len(c.channels) {
		return c.channels[i].Name
	}
	return ""
}

func (c *catalogView) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	if c.adding {
		return c.updateAdd(km)
	}
	if c.removing {
		c.removing = false
		if km.String() == "y" {
			if c.side == 0 {
				return c.out.send(rmEnvMsg{name: c.selectedName()})
			}
			return c.out.send(rmChannelMsg{name: c.selectedName()})
		}
		return nil
	}
	switch {
	case key.Matches(km, c.keyMap.Back):
		return c.out.send(cancelMsg{})
	case key.Matches(km, c.keyMap.Up):
		c.cursor[c.side] = max(0, c.cursor[c.side]-1)
	case key.Matches(km, c.keyMap.Down):
		c.cursor[c.side] = min(max(0, c.len(c.side)-1), c.cursor[c.side]+1)
	case key.Matches(km, c.keyMap.Switch):
		c.side = 1 - c.side
	case key.Matches(km, c.keyMap.Add):
		c.adding, c.inputErr = true, ""
		c.input = textinput.New()
		c.input.CharLimit = 64
		if c.side == 0 {
			c.input.Placeholder = "name [tag], such as qa or preprod pp"
		} else {
			c.input.Placeholder = "name [description], such as mobile-app iOS and Android"
		}
		return c.input.Focus()
	case key.Matches(km, c.keyMap.Remove):
		if c.selectedName() != "" {
			c.removing = true
		}
	}
	return nil
}

func (c *catalogView) updateAdd(km tea.KeyMsg) tea.Cmd {
	switch km.String() {
	case "esc":
		c.adding = false
		return nil
	case "enter":
		name, rest, _ := strings.Cut(strings.TrimSpace(c.input.Value()), " ")
		rest = strings.TrimSpace(rest)
		if c.side == 0 {
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
			return c.out.send(addEnvMsg{env: model.Environment{Name: name, Tag: rest}})
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
		return c.out.send(addChannelMsg{ch: model.Channel{Name: name, Description: rest}})
	}
	var cmd tea.Cmd
	c.input, cmd = c.input.Update(km)
	c.inputErr = ""
	return cmd
}

func (c *catalogView) View() string {
	colW := max(30, (min(c.width, 110)-6)/2)
	left := c.listView(0, "Environments", colW)
	right := c.listView(1, "Channels", colW)
	var b strings.Builder
	b.WriteString(lipgloss.JoinHorizontal(lipgloss.Top, left, "  ", right))
	b.WriteString("\n")
	what := map[int]string{0: "environment", 1: "channel"}[c.side]
	switch {
	case c.adding:
		b.WriteString("\nAdd " + what + ": " + c.input.View() + "\n")
		if c.inputErr != "" {
			b.WriteString(c.st.Error.Render("✗ "+c.inputErr) + "\n")
		}
	case c.removing:
		n := c.counts[map[int]string{0: "env:", 1: "ch:"}[c.side]+c.selectedName()]
		if n > 0 {
			b.WriteString("\n" + c.st.Warning.Render(fmt.Sprintf("The %s %s is used by %d key(s); keyden will refuse. Press y to try anyway, any other key to cancel.", what, c.selectedName(), n)) + "\n")
		} else {
			b.WriteString("\n" + c.st.Warning.Render(fmt.Sprintf("Remove the %s %s? y to remove, any other key to cancel.", what, c.selectedName())) + "\n")
		}
	}
	return b.String()
}

func (c *catalogView) listView(side int, title string, w int) string {
	var b strings.Builder
	st := c.st.Subtle
	if side == c.side {
		st = c.st.Title
	}
	b.WriteString(st.Render(title) + "\n")
	var lines []string
	if side == 0 {
		for _, e := range c.envs {
			lines = append(lines, fmt.Sprintf("%-12s tag %-8s %d keys", e.Name, e.Tag, c.counts["env:"+e.Name]))
		}
	} else {
		for _, ch := range c.channels {
			l := fmt.Sprintf("%-14s %5d keys", ch.Name, c.counts["ch:"+ch.Name])
			if ch.Description != "" {
				l += "  " + ch.Description
			}
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		lines = append(lines, "none yet: press a to add")
	}
	for i, l := range lines {
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
