package tui

import (
	"fmt"

	tea "github.com/charmbracelet/bubbletea"

	"keyden/format"
	"keyden/keyindex"
	"keyden/model"
)

// catalogDoneMsg is the store's answer to a catalog change.
type catalogDoneMsg struct {
	what string
	err  error
}

// change runs one catalog change on the store; what says it was done.
func (c *catalogView) change(fn func() (what string, err error)) tea.Cmd {
	return func() tea.Msg {
		what, err := fn()
		return catalogDoneMsg{what: what, err: err}
	}
}

func (c *catalogView) done(msg catalogDoneMsg) tea.Cmd {
	if msg.err != nil {
		c.sh.fail(msg.err)
	} else {
		c.sh.status(msg.what, true)
	}
	return c.sh.reload(false)
}

func (c *catalogView) addEnv(e model.Environment) tea.Cmd {
	st, ctx := c.sh.store, c.sh.ctx
	return c.change(func() (string, error) {
		e, err := st.AddEnvironment(ctx, e)
		return fmt.Sprintf("Added environment %s (tag %s).", e.Name, e.Tag), err
	})
}

func (c *catalogView) addChannel(ch model.Channel) tea.Cmd {
	st, ctx := c.sh.store, c.sh.ctx
	return c.change(func() (string, error) {
		_, err := st.AddChannel(ctx, ch)
		return "Added channel " + ch.Name + ".", err
	})
}

func (c *catalogView) addMember(user string, role model.Role) tea.Cmd {
	st, ctx := c.sh.store, c.sh.ctx
	return c.change(func() (string, error) {
		m, err := st.AddMember(ctx, user, role)
		return fmt.Sprintf("%s is now a member as %s.", m.User, m.Role), err
	})
}

// askRemove asks before removing the selected environment, channel or
// member, saying when keyden will refuse because keys use it.
func (c *catalogView) askRemove() tea.Cmd {
	side, name := c.side, c.selectedName()
	what := [...]string{"environment", "channel", "member"}[side]
	n := c.counts[[...]string{"env:", "ch:", "-"}[side]+name]
	body := c.st.Subtle.Render([...]string{"No key can be made in it any more.", "No key can be made in it any more.",
		"They can no longer make or change keys here."}[side]) + "\n"
	if n > 0 {
		until := "they are deleted"
		if side == sideChannels {
			until = "they are moved to another channel (keyden move ID… --channel C) or deleted"
		}
		body = c.st.Warning.Render(fmt.Sprintf("The %s %s is used by %s: keyden will refuse until %s.", what, format.Safe(name), format.Count(n, "key"), until)) + "\n"
	}
	st, ctx := c.sh.store, c.sh.ctx
	q := ask{title: "Remove the " + what + " " + format.Safe(name) + "?", verb: "remove",
		body: func(int) string { return body },
		yes: func(int) tea.Cmd {
			return c.change(func() (string, error) {
				switch side {
				case sideEnvs:
					return "Removed environment " + name + ".", st.RemoveEnvironment(ctx, name)
				case sideMembers:
					return "Removed member " + name + ".", st.RemoveMember(ctx, name)
				}
				return "Removed channel " + name + ".", st.RemoveChannel(ctx, name)
			})
		}}
	return c.sh.nav.push(newConfirmView(c.sh, q))
}

// countKeys counts the live keys per environment ("env:NAME") and channel
// ("ch:NAME").
func countKeys(set *keyindex.Index) map[string]int {
	envs, chs := set.Counts()
	m := make(map[string]int, len(envs)+len(chs))
	for name, n := range envs {
		m["env:"+name] = n
	}
	for name, n := range chs {
		m["ch:"+name] = n
	}
	return m
}
