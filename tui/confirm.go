package tui

import (
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
)

type confirmKeyMap struct {
	Toggle, Yes, No, Confirm, Cancel key.Binding
	// Choice is the help for Prev and Next, which move through the choices.
	Choice, Prev, Next key.Binding
}

func defaultConfirmKeyMap() confirmKeyMap {
	return confirmKeyMap{
		Toggle:  key.NewBinding(key.WithKeys("left", "right", "tab", "shift+tab"), key.WithHelp("←/→", "choose")),
		Yes:     key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes")),
		No:      key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "no")),
		Confirm: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "answer")),
		Cancel:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		Choice:  key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "choice")),
		Prev:    key.NewBinding(key.WithKeys("up")),
		Next:    key.NewBinding(key.WithKeys("down")),
	}
}

func (k confirmKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Toggle, k.Choice, k.Confirm, k.Cancel}
}
func (k confirmKeyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{{k.Toggle, k.Choice, k.Yes, k.No, k.Confirm, k.Cancel}}
}

// ask is one yes/no question: what the confirm shows, and what yes does.
type ask struct {
	title string
	// body draws what the answer affects, given the choice made.
	body func(choice int) string
	verb string // on the yes button: "Yes, delete"
	// choices, when set, are picked with ↑/↓ (choiceHelp names them); the
	// answer starts at choice.
	choices    int
	choice     int
	choiceHelp string
	// name, when set, must be typed before yes counts; prompt asks for it
	// and mismatch says it was wrong.
	name, prompt, mismatch string
	// yes runs on a yes, after the confirm has closed.
	yes func(choice int) tea.Cmd
}

// confirmView asks one question. The answer starts at No; where a name
// must be typed, letters go to it and y and n are not shortcuts.
type confirmView struct {
	noInit
	sh     *shared
	keyMap confirmKeyMap
	ask    ask
	yes    bool
	input  textinput.Model
	note   string
	width  int
	height int
}

func newConfirmView(sh *shared, a ask) *confirmView {
	c := &confirmView{sh: sh, keyMap: defaultConfirmKeyMap(), ask: a}
	c.keyMap.Choice.SetEnabled(a.choices > 0)
	c.keyMap.Choice.SetHelp("↑/↓", a.choiceHelp)
	if a.name != "" {
		c.input = textinput.New()
		c.input.Prompt = "› "
		c.input.CharLimit = 128
		c.input.Focus()
		c.keyMap.Yes.SetEnabled(false)
		c.keyMap.No.SetEnabled(false)
	}
	return c
}

func (c *confirmView) KeyMap() help.KeyMap { return c.keyMap }
func (c *confirmView) Typing() bool        { return c.ask.name != "" }
func (c *confirmView) SetSize(w, h int)    { c.width, c.height = w, h }

func (c *confirmView) nameOK() bool { return c.ask.name == "" || c.input.Value() == c.ask.name }

func (c *confirmView) Update(msg tea.Msg) tea.Cmd {
	km, ok := msg.(tea.KeyMsg)
	if !ok {
		return nil
	}
	switch {
	case key.Matches(km, c.keyMap.Cancel), key.Matches(km, c.keyMap.No):
		c.sh.nav.pop()
		return nil
	case key.Matches(km, c.keyMap.Yes):
		return c.answer()
	case c.ask.choices > 0 && key.Matches(km, c.keyMap.Prev):
		c.ask.choice = (c.ask.choice + c.ask.choices - 1) % c.ask.choices
		return nil
	case c.ask.choices > 0 && key.Matches(km, c.keyMap.Next):
		c.ask.choice = (c.ask.choice + 1) % c.ask.choices
		return nil
	case key.Matches(km, c.keyMap.Toggle):
		c.yes = !c.yes
		return nil
	case key.Matches(km, c.keyMap.Confirm):
		if !c.yes {
			c.sh.nav.pop()
			return nil
		}
		if !c.nameOK() {
			c.note = c.ask.mismatch
			return nil
		}
		return c.answer()
	}
	if c.ask.name != "" {
		var cmd tea.Cmd
		c.input, cmd = c.input.Update(km)
		c.note = ""
		return cmd
	}
	return nil
}

func (c *confirmView) answer() tea.Cmd {
	c.sh.nav.pop()
	return c.ask.yes(c.ask.choice)
}

func (c *confirmView) View() string {
	st, verb := c.sh.st, c.ask.verb
	var b strings.Builder
	b.WriteString(st.Error.Bold(true).Render(c.ask.title) + "\n\n")
	b.WriteString(c.ask.body(c.ask.choice))
	if c.ask.name != "" {
		b.WriteString("\n" + c.ask.prompt + "\n" + c.input.View() + "\n")
	}
	// The chosen answer is bracketed as well as coloured, so it shows without colour too.
	no, yes := st.Button.Render("  No  "), st.Button.Render("  Yes, "+verb+"  ")
	if c.yes {
		label := "[ Yes, " + verb + " ]"
		if !c.nameOK() {
			label = "[ Yes, " + verb + " ] (type the name first)"
		}
		yes = st.DangerOn.Render(label)
	} else {
		no = st.ButtonOn.Render("[ No ]")
	}
	b.WriteString("\n" + no + "  " + yes + "\n")
	if c.note != "" {
		b.WriteString(st.Error.Render(c.note) + "\n")
	}
	return center(c.width, c.height, st.DangerBox.Width(min(72, max(40, c.width-4))).Render(b.String()))
}
