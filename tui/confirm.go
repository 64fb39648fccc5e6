package tui

import (
	"slices"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	"github.com/charmbracelet/bubbles/textinput"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
)

type confirmKeyMap struct {
	Toggle, Yes, No, Confirm, Cancel key.Binding
	// Left answers no and Right yes; Toggle (tab) switches.
	Left, Right key.Binding
	// Choice is the help for Prev and Next, which move through the choices.
	Choice, Prev, Next key.Binding
}

func defaultConfirmKeyMap() confirmKeyMap {
	return confirmKeyMap{
		Toggle:  key.NewBinding(key.WithKeys("left", "right", "tab", "shift+tab"), key.WithHelp("←/→", "choose")),
		Left:    key.NewBinding(key.WithKeys("left")),
		Right:   key.NewBinding(key.WithKeys("right")),
		Yes:     key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes")),
		No:      key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "no")),
		Confirm: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "answer")),
		Cancel:  key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
		Choice:  key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "choice")),
		Prev:    key.NewBinding(key.WithKeys("up")),
		Next:    key.NewBinding(key.WithKeys("down")),
	}
}

// ShortHelp names every key that answers: y answers at once where no
// name is typed, so the bar says so.
func (k confirmKeyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Yes, k.No, k.Confirm, k.Toggle, k.Choice, k.Cancel}
}
func (k confirmKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

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
		c.input = sh.st.textInput()
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
	case key.Matches(km, c.keyMap.Left):
		c.yes = false
		return nil
	case key.Matches(km, c.keyMap.Right):
		c.yes = true
		return nil
	case key.Matches(km, c.keyMap.Toggle):
		c.yes = !c.yes
		return nil
	case key.Matches(km, c.keyMap.Confirm):
		switch {
		case c.ask.name != "" && c.input.Value() != "" && !c.nameOK():
			// A wrong name is a typo to fix, never a silent cancel.
			c.note = c.ask.mismatch
			return nil
		case !c.yes:
			c.sh.nav.pop()
			return nil
		case !c.nameOK():
			c.note = c.ask.mismatch
			return nil
		}
		return c.answer()
	}
	if c.ask.name != "" {
		was := c.nameOK()
		var cmd tea.Cmd
		c.input, cmd = c.input.Update(km)
		c.note = ""
		// The typed name is the answer: yes once it matches, no when it
		// stops matching.
		if ok := c.nameOK(); ok != was {
			c.yes = ok
		}
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
	w := max(20, min(72, c.width-2)-2) // inside the box's border and padding
	wrap := func(s string) []string {
		if s == "" {
			return nil
		}
		return strings.Split(lipgloss.NewStyle().Width(w).Render(s), "\n")
	}
	head := wrap(st.Error.Bold(true).Render(c.ask.title))
	body := wrap(strings.TrimRight(c.ask.body(c.ask.choice), "\n"))
	var tail []string
	if c.ask.name != "" {
		c.input.Width = max(5, w-4)
		tail = append(tail, "")
		tail = append(tail, wrap(c.ask.prompt)...)
		tail = append(tail, c.input.View())
	}
	// The chosen answer is bracketed as well as coloured, so it shows without colour too.
	no, yes := st.Button.Render("  No  "), st.Button.Render("  Yes, "+verb+"  ")
	if c.yes {
		yes = st.DangerOn.Render("[ Yes, " + verb + " ]")
	} else {
		no = st.ButtonOn.Render("[ No ]")
	}
	tail = append(tail, "")
	tail = append(tail, wrap(no+"  "+yes)...)
	note := c.note
	if c.yes && !c.nameOK() && note == "" {
		note = "Type the name first."
	}
	if note != "" {
		tail = append(tail, wrap(st.Error.Render(note))...)
	}
	lines := append(head, "")
	lines = append(lines, body...)
	lines = append(lines, tail...)
	// On a short screen the blank lines go first, then what the answer
	// affects, so the question, the name to type and the buttons show.
	if room := max(1, c.height-2); len(lines) > room {
		tail = slices.DeleteFunc(tail, func(l string) bool { return l == "" })
		body = slices.DeleteFunc(body, func(l string) bool { return strings.TrimSpace(l) == "" })
		if n := room - len(head) - len(tail); len(body) > n {
			body = append(body[:max(0, n-1)], st.Subtle.Render("…"))
		}
		lines = append(append(head, body...), tail...)
	}
	return center(c.width, c.height, st.DangerBox.Width(w+2).Render(strings.Join(lines, "\n")))
}
