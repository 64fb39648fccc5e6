package tui

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"

	"keyden/format"
	"keyden/model"
)

type confirmKeyMap struct {
	Toggle, Yes, No, Confirm, Cancel, Grace key.Binding
}

func defaultConfirmKeyMap() confirmKeyMap {
	return confirmKeyMap{
		Toggle:  key.NewBinding(key.WithKeys("left", "right", "tab", "shift+tab"), key.WithHelp("←/→", "choose")),
		Yes:     key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes")),
		No:      key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "no")),
		Confirm: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "answer")),
		Cancel:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		Grace:   key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "grace")),
	}
}

func (k confirmKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Toggle, k.Grace, k.Confirm, k.Cancel}
}
func (k confirmKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Toggle, k.Grace, k.Yes, k.No, k.Confirm, k.Cancel}}
}

// Grace periods offered when rotating; the default is 24h.
var graceChoices = []struct {
	label string
	d     time.Duration
}{{"now", 0}, {"1h", time.Hour}, {"24h", 24 * time.Hour}, {"3d", 72 * time.Hour}, {"7d", 168 * time.Hour}}

// confirmedMsg says the admin answered yes to action on key.
type confirmedMsg struct {
	action string
	key    model.Key
	grace  time.Duration // for rotate
}

// confirmView asks before a destructive action. The answer starts at No;
// for a key of an environment set to confirm by name (prod, by default)
// the admin must also type the key's name.
type confirmView struct {
	out      *outbox // requests to the app
	st       *Styles
	keyMap   confirmKeyMap
	action   string // "delete" or "rotate"
	key      model.Key
	grace    int // index into graceChoices
	yes      bool
	typeName bool
	name     textinput.Model
	now      func() time.Time
	width    int
	note     string
}

func newConfirmView(st *Styles, action string, k model.Key, byName bool, now func() time.Time) *confirmView {
	c := &confirmView{st: st, keyMap: defaultConfirmKeyMap(), action: action, key: k, now: now,
		typeName: byName, grace: 2}
	c.keyMap.Grace.SetEnabled(action == "rotate")
	if c.typeName {
		c.name = textinput.New()
		c.name.Prompt = "› "
		c.name.CharLimit = 128
		c.name.Focus()
		// Where the name is typed, letters go to it: y and n are not shortcuts.
		c.keyMap.Yes.SetEnabled(false)
		c.keyMap.No.SetEnabled(false)
	}
	return c
}

func (c *confirmView) nameOK() bool { return !c.typeName || c.name.Value() == c.key.Name }

func (c *confirmView) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(km, c.keyMap.Cancel), key.Matches(km, c.keyMap.No):
		return c.out.send(cancelMsg{})
	case key.Matches(km, c.keyMap.Yes):
		return c.out.send(c.answer())
	case key.Matches(km, c.keyMap.Grace):
		step := 1
		if km.String() == "up" {
			step = len(graceChoices) - 1
		}
		c.grace = (c.grace + step) % len(graceChoices)
		return nil
	case key.Matches(km, c.keyMap.Toggle):
		c.yes = !c.yes
		return nil
	case key.Matches(km, c.keyMap.Confirm):
		if !c.yes {
			return c.out.send(cancelMsg{})
		}
		if !c.nameOK() {
			c.note = "Type the key's name exactly to confirm."
			return nil
		}
		return c.out.send(c.answer())
	}
	if c.typeName {
		var cmd tea.Cmd
		c.name, cmd = c.name.Update(km)
		c.note = ""
		return cmd
	}
	return nil
}

func (c *confirmView) answer() confirmedMsg {
	return confirmedMsg{action: c.action, key: c.key, grace: graceChoices[c.grace].d}
}

func (c *confirmView) View() string {
	k := c.key
	var b strings.Builder
	b.WriteString(c.st.Error.Bold(true).Render(fmt.Sprintf("%s this key?", capitalize(c.action))) + "\n\n")
	rows := [][2]string{
		{"Name", k.Name}, {"Channel", k.Channel}, {"Environment", k.Environment},
		{"Hint", k.Hint}, {"Last used", format.Ago(k.LastUsedAt, c.now())},
	}
	for _, r := range rows {
		b.WriteString(c.st.Label.Render(padRight(r[0], 13)) + format.Safe(r[1]) + "\n")
	}
	if c.action == "rotate" {
		b.WriteString("\n" + c.st.Warning.Render("A new key replaces it, shown once. Apps using this key must switch to the new one: the old key stops working when the grace ends.") + "\n")
		var opts []string
		for i, g := range graceChoices {
			if i == c.grace {
				opts = append(opts, c.st.Focused.Render("["+g.label+"]"))
			} else {
				opts = append(opts, c.st.Subtle.Render(" "+g.label+" "))
			}
		}
		b.WriteString(c.st.Label.Render(padRight("Grace", 13)) + strings.Join(opts, " ") + c.st.Subtle.Render("  ↑/↓") + "\n")
	} else {
		b.WriteString("\n" + c.st.Warning.Render("Apps using this key will stop working immediately.") + "\n")
		b.WriteString(c.st.Subtle.Render("This cannot be undone.") + "\n")
	}
	if c.typeName {
		b.WriteString("\nThis is a " + format.Safe(k.Environment) + " key. Type its name, " + c.st.Title.Render(format.Safe(k.Name)) + ", to confirm:\n" + c.name.View() + "\n")
	}
	// The chosen answer is bracketed as well as coloured, so it shows without colour too.
	no, yes := c.st.Button.Render("  No  "), c.st.Button.Render("  Yes, "+c.action+"  ")
	if c.yes {
		label := "[ Yes, " + c.action + " ]"
		if !c.nameOK() {
			label = "[ Yes, " + c.action + " ] (type the name first)"
		}
		yes = c.st.DangerOn.Render(label)
	} else {
		no = c.st.ButtonOn.Render("[ No ]")
	}
	b.WriteString("\n" + no + "  " + yes + "\n")
	if c.note != "" {
		b.WriteString(c.st.Error.Render(c.note) + "\n")
	}
	return c.st.DangerBox.Width(min(72, max(40, c.width-4))).Render(b.String())
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
