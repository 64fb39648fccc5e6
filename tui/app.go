// Package tui is keyden's terminal app: a root model (App) that handles
// what is global (size, quit, help, the store's change feed, the status
// line, the clipboard) over a stack of screens (nav.go), each with its own
// Update, View and KeyMap and the store commands it issues.
package tui

import (
	"context"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"keyden/format"
	"keyden/storage"
)

// Options configure the app.
type Options struct {
	Store     storage.Store
	Location  string // shown in the title bar
	Actor     string
	Now       func() time.Time
	Clipboard ClipboardOptions
	// PollEvery is how often the app asks whether the store changed (500 ms if 0).
	PollEvery time.Duration
	// Context is given to every store call, so a signal that ends the app
	// also ends a wait for the store's lock (context.Background if nil).
	Context context.Context
	// Notice is the status line's first message, such as that the store
	// was made by this run.
	Notice string
	// Renderer draws for a terminal other than the process's own (a
	// keyden ssh session): its colour profile and background.
	Renderer *lipgloss.Renderer
	// Keys, when set, is a key set several apps share (keyden ssh's
	// sessions): loads take it from there instead of reading the store.
	Keys *SharedKeys
	// VerifierWait is how long a delete, disable or rotation waits for the
	// running verifiers to take it in (5 s if 0).
	VerifierWait time.Duration
}

// App is the root model.
type App struct {
	opt    Options
	st     Styles
	sh     *shared
	nav    navigator
	data   appData
	feed   feed
	clip   *clipboardManager
	help   help.Model
	global globalKeyMap
	keys   *keysView // the home screen, at the bottom of the stack

	width, height int
	showHelp      bool
	helpScroll    scroller
	mouseOff      bool
	status        string
	statusOK      bool
	statusAt      time.Time
}

// globalKeyMap is what works on every screen.
type globalKeyMap struct{ ForceQuit, Help key.Binding }

// quitMsg asks the root to quit (q on the keys screen).
type quitMsg struct{}

// New builds the app.
func New(opt Options) *App {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.PollEvery <= 0 {
		opt.PollEvery = 500 * time.Millisecond
	}
	if opt.Context == nil {
		opt.Context = context.Background()
	}
	if opt.VerifierWait <= 0 {
		opt.VerifierWait = landedWait
	}
	st := DefaultStyles()
	if opt.Renderer != nil {
		st = StylesFor(opt.Renderer)
	}
	a := &App{opt: opt, st: st, width: 80, height: 24,
		clip: newClipboardManager(opt.Clipboard),
		help: help.New(),
		global: globalKeyMap{
			ForceQuit: key.NewBinding(key.WithKeys("ctrl+c")),
			Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		},
	}
	a.sh = &shared{st: &a.st, store: opt.Store, ctx: opt.Context, now: opt.Now,
		perm: &perms{actor: opt.Actor}, nav: &a.nav, data: &a.data, global: &a.global, clip: a.clip,
		status: a.setStatus, reload: a.reload, clearAfter: opt.Clipboard.ClearAfter, verifierWait: opt.VerifierWait}
	if opt.Notice != "" {
		a.setStatus(opt.Notice, true)
	}
	a.keys = newKeysView(a.sh)
	a.sh.home = a.keys
	a.nav.push(a.keys)
	a.help.Styles.ShortKey = a.st.Title
	a.help.Styles.FullKey = a.st.Title
	a.layout()
	return a
}

func (a *App) Init() tea.Cmd {
	return tea.Batch(a.reload(true), a.pollCmd())
}

// setStatus shows a message; messages echo names and errors from the store,
// so the text goes through format.Safe here, once for all of them.
func (a *App) setStatus(s string, ok bool) {
	// One sentence, as the command line writes it: a refusal made from an
	// error ("nobody is not a member …") ended without its period.
	a.status, a.statusOK, a.statusAt = format.Sentence(sentenceCase(format.Safe(s))), ok, a.opt.Now()
}

func (a *App) layout() {
	a.help.Width = a.width - 2
	a.nav.setSize(a.width-2, a.height-3)
}

// Update handles what is global; keys go to the screen on top, and every
// other message to every open screen.
func (a *App) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	m, cmd := a.update(msg)
	return m, tea.Batch(cmd, a.mouseMode())
}

// mouseMode turns the mouse off while a key is shown, so the admin can
// select it with the mouse as in any terminal, and on again after.
func (a *App) mouseMode() tea.Cmd {
	_, reveal := a.nav.top().(*revealView)
	if a.mouseOff == reveal {
		return nil
	}
	a.mouseOff = reveal
	if reveal {
		return tea.DisableMouse
	}
	return tea.EnableMouseCellMotion
}

func (a *App) update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		a.width, a.height = msg.Width, msg.Height
		a.layout()
		return a, nil
	case pollMsg:
		return a, tea.Batch(a.genCmd(), a.pollCmd())
	case genMsg:
		return a, a.changed(msg)
	case reloadMsg:
		return a, a.reload(true)
	case loadedMsg:
		return a, a.loaded(msg)
	case copiedMsg:
		return a, tea.Batch(a.clip.clearCmd(msg.res.seq), a.broadcast(msg))
	case clipClearMsg:
		return a, a.clip.clearAfterCmd(msg.seq)
	case clearedMsg:
		return a, a.cleared(msg)
	case quitMsg:
		return a, a.quit()
	case tea.KeyMsg:
		return a, a.handleKey(msg)
	case pastedMsg:
		switch {
		case msg.err != nil:
			a.setStatus("Could not read the system clipboard ("+firstLine(msg.err.Error())+"): paste with your terminal instead, often ctrl+shift+v", false)
		case a.nav.top().Typing():
			return a, a.handleKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(msg.text), Paste: true})
		}
		return a, nil
	case tea.MouseMsg:
		return a, a.mouse(msg)
	}
	return a, a.broadcast(msg)
}

// broadcast gives msg to every open screen, top first.
func (a *App) broadcast(msg tea.Msg) tea.Cmd {
	stack := a.nav.stack
	cmds := make([]tea.Cmd, 0, len(stack))
	for i := len(stack) - 1; i >= 0; i-- {
		cmds = append(cmds, stack[i].Update(msg))
	}
	return tea.Batch(cmds...)
}

// cleared takes in a clipboard clear: the reveal of that copy says it in
// its box, in place of the promise to clear; otherwise the status line does.
func (a *App) cleared(msg clearedMsg) tea.Cmd {
	for _, s := range a.nav.stack {
		if r, ok := s.(*revealView); ok && r.res.seq == msg.res.seq {
			r.cleared = msg.res
			return nil
		}
	}
	a.setStatus(msg.res.sentence(), msg.res.systemErr == "")
	return nil
}

// oneLine is a paste for a one-line field: the line break ending a copied
// line dropped, any other line break or tab a space, where Printable alone
// would glue the words together.
func oneLine(rs []rune) []rune {
	s := strings.TrimRight(string(rs), "\r\n")
	return []rune(strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ", "\t", " ").Replace(s))
}

func (a *App) handleKey(msg tea.KeyMsg) tea.Cmd {
	if msg.Type == tea.KeyRunes {
		if msg.Paste {
			msg.Runes = oneLine(msg.Runes)
		}
		// Typed or pasted text reaches the text fields, which draw it as
		// it is: a bidi override or a zero width would reorder or hide
		// what the line shows. No binding and no field needs one.
		if msg.Runes = format.Printable(msg.Runes); len(msg.Runes) == 0 {
			return nil
		}
	}
	typing := a.nav.top().Typing()
	if msg.Type == tea.KeyCtrlV && typing {
		// The system clipboard's text takes the terminal paste's path.
		if !a.clip.opt.System {
			a.setStatus("keyden cannot read a clipboard here: paste with your terminal instead, often ctrl+shift+v", false)
			return nil
		}
		return a.clip.pasteCmd()
	}
	// Over a slow link several keystrokes arrive in one read and Bubble Tea
	// hands them over as one multi-rune key; outside a text field they are
	// separate commands ("jjd"), so take them one at a time.
	if msg.Type == tea.KeyRunes && len(msg.Runes) > 1 && !msg.Paste && !typing {
		var cmds []tea.Cmd
		for _, r := range msg.Runes {
			cmds = append(cmds, a.handleKey(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}}))
		}
		return tea.Sequence(cmds...)
	}
	if escThen(msg) {
		// Bubble Tea has no escape timeout: esc and the next key in one
		// read arrive as alt+key. keyden binds no alt keys, so this is
		// esc pressed just before the key: take them in that order.
		msg.Alt = false
		return tea.Sequence(a.handleKey(tea.KeyMsg{Type: tea.KeyEsc}), a.handleKey(msg))
	}
	switch {
	case key.Matches(msg, a.global.ForceQuit):
		return a.quit()
	case a.showHelp && (msg.Type == tea.KeyUp || msg.Type == tea.KeyDown):
		// The list scrolls where the screen is too small for it.
		a.helpScroll.by(map[bool]int{true: -1, false: 1}[msg.Type == tea.KeyUp])
		return nil
	case a.showHelp:
		a.showHelp = false
		return nil
	case key.Matches(msg, a.global.Help) && !typing:
		a.showHelp, a.helpScroll = true, scroller{}
		return nil
	}
	return a.nav.top().Update(msg)
}

// forgetter is a screen holding a secret, forgotten on quit.
type forgetter interface{ forget() }

// quit clears what keyden copied, forgets any shown key, and exits.
func (a *App) quit() tea.Cmd {
	a.clip.clear(0)
	for _, s := range a.nav.stack {
		if f, ok := s.(forgetter); ok {
			f.forget()
		}
	}
	a.nav.home()
	return tea.Quit
}

// View draws the title bar, the screen and the status and help lines.
func (a *App) View() string {
	w := a.width - 2
	title := a.st.Title.Render("keyden") + a.st.Subtle.Render("  "+format.Safe(a.opt.Location))
	if a.opt.Actor != "" {
		right := a.st.Subtle.Render(format.Safe(a.opt.Actor))
		if gap := w - lipgloss.Width(title) - lipgloss.Width(right); gap > 0 {
			title += strings.Repeat(" ", gap) + right
		}
	}
	bodyH := a.height - 3
	body := a.nav.top().View()
	if a.showHelp {
		body = a.helpView()
	}
	body = lipgloss.NewStyle().Height(bodyH).MaxHeight(bodyH).Render(body)
	frame := a.st.App.Render(lipgloss.JoinVertical(lipgloss.Left, fitLine(title, w), body, a.statusBar(w)))
	return format.FitLines(frame, a.width)
}

func fitLine(s string, w int) string { return lipgloss.NewStyle().MaxWidth(w).Render(s) }

// helpView lists every binding of the top screen in as many columns as
// the width takes, filled top to bottom; where even that is taller than
// the screen, ↑/↓ scroll it.
func (a *App) helpView() string {
	w, room := a.width-2, a.height-5
	title := a.st.Title.Render("Key bindings") + a.st.Subtle.Render("  (any key closes)")
	// The screen's own groups side by side, where they fit.
	h := a.help
	h.ShowAll, h.Width = true, 0
	if all := h.View(a.nav.top().KeyMap()); lipgloss.Width(all) <= w && lipgloss.Height(all) <= room {
		return title + "\n\n" + all
	}
	var keys, descs []string
	kw := 0
	for _, group := range a.nav.top().KeyMap().FullHelp() {
		for _, b := range group {
			if b.Enabled() && b.Help().Key != "" {
				keys, descs = append(keys, b.Help().Key), append(descs, b.Help().Desc)
				kw = max(kw, format.Cells(b.Help().Key))
			}
		}
	}
	colW := 0
	entries := make([]string, len(keys))
	for i := range keys {
		entries[i] = a.st.Title.Render(padRight(keys[i], kw)) + " " + a.st.Subtle.Render(descs[i])
		colW = max(colW, kw+1+format.Cells(descs[i]))
	}
	// As few columns as the height allows, as many as the width takes.
	cols := max(1, min((len(entries)+room-1)/max(1, room), (w+3)/(colW+3)))
	rows := (len(entries) + cols - 1) / cols
	lines := make([]string, rows)
	for i, e := range entries {
		r := i % rows
		if i >= rows {
			lines[r] += "   "
		}
		lines[r] += padRight(e, colW)
	}
	for i := range lines {
		lines[i] = fitLine(strings.TrimRight(lines[i], " "), w)
	}
	shown := a.helpScroll.window(lines, room)
	if a.helpScroll.more() {
		title = a.st.Title.Render("Keys "+a.helpScroll.mark()) + a.st.Subtle.Render("  ↑/↓ scroll, other keys close")
	}
	return fitLine(title, w) + "\n\n" + strings.Join(shown, "\n")
}

// helpLine is the top screen's short help, most important first: whole
// bindings as many as fit, then "? help", or "? more" when some were left
// out. While the screen takes text, ? is text, so it is not offered.
func (a *App) helpLine(w int) string {
	top := a.nav.top()
	var list []key.Binding
	for _, b := range top.KeyMap().ShortHelp() {
		if b.Enabled() && b.Help().Key != "" && b.Help().Key != a.global.Help.Help().Key {
			list = append(list, b)
		}
	}
	h := a.help
	h.Width = 0
	tail := func(more bool) []key.Binding {
		if top.Typing() {
			return nil
		}
		if more {
			return []key.Binding{key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "more"))}
		}
		return []key.Binding{a.global.Help}
	}
	for n := len(list); n >= 0; n-- {
		line := h.ShortHelpView(append(list[:n:n], tail(n < len(list))...))
		if lipgloss.Width(line) <= w || n == 0 {
			return fitLine(line, w)
		}
	}
	return ""
}

// statusTexter is a screen with counts of its own for the status bar;
// the others show the keys screen's.
type statusTexter interface{ statusText() string }

// escThen says whether msg is esc and a key read together as alt+key.
func escThen(msg tea.KeyMsg) bool {
	if !msg.Alt || msg.Paste {
		return false
	}
	switch msg.Type {
	case tea.KeyRunes, tea.KeyUp, tea.KeyDown, tea.KeyEnter, tea.KeyTab, tea.KeySpace, tea.KeyEsc:
		return true
	}
	return false
}

// mouse gives a click or a wheel turn to the screen on top, in the
// screen's own cells (below the title line, inside the margin).
func (a *App) mouse(msg tea.MouseMsg) tea.Cmd {
	if a.showHelp {
		a.helpScroll.by(wheel(msg))
		if clicked(msg) {
			a.showHelp = false
		}
		return nil
	}
	msg.X--
	msg.Y--
	if msg.Y < 0 || msg.Y >= a.height-3 {
		return nil
	}
	return a.nav.top().Update(msg)
}

// statusBar is the last two lines: the counts and the help, or for a few
// seconds the latest message, which may use both lines.
func (a *App) statusBar(w int) string {
	if a.status != "" && a.opt.Now().Sub(a.statusAt) < 8*time.Second {
		st := a.st.Success
		if !a.statusOK {
			st = a.st.Error
		}
		lines := wrapWords(a.status, w-1)
		if len(lines) == 1 {
			return st.Render(fitLine(" "+lines[0], w)) + "\n" + a.helpLine(w)
		}
		return st.Render(fitLine(" "+lines[0], w)) + "\n" + st.Render(fitLine(" "+strings.Join(lines[1:], " "), w))
	}
	text := a.keys.statusText()
	if s, ok := a.nav.top().(statusTexter); ok {
		text = s.statusText()
	}
	return a.st.StatusBar.Render(padRight(fitLine(" "+text, w), w)) + "\n" + a.helpLine(w)
}
