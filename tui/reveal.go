package tui

import (
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"

	"keyden/format"
	"keyden/model"
)

type revealKeyMap struct {
	Copy, Done, Up, Down key.Binding
}

func defaultRevealKeyMap() revealKeyMap {
	return revealKeyMap{
		Copy: key.NewBinding(key.WithKeys("c"), key.WithHelp("c", "copy again")),
		Done: key.NewBinding(key.WithKeys("esc", "enter", "q"), key.WithHelp("esc/enter", "done (forgets the key)")),
		Up:   key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/↓", "scroll")),
		Down: key.NewBinding(key.WithKeys("down", "j")),
	}
}

func (k revealKeyMap) ShortHelp() []key.Binding  { return []key.Binding{k.Copy, k.Done, k.Up} }
func (k revealKeyMap) FullHelp() [][]key.Binding { return [][]key.Binding{k.ShortHelp()} }

// revealView shows a new key once. It is the only place the secret lives
// in the TUI: as bytes it owns, so leaving can zero them (forget). The
// strings each frame and each copy make from them are the runtime's, and
// Go gives no way to wipe those.
type revealView struct {
	sh        *shared
	st        *Styles
	keyMap    revealKeyMap
	key       model.Key
	secret    []byte
	grown     bool
	res       copyResult
	cleared   clearResult // the clear of copy res.seq, once done
	tried     bool
	warned    bool
	width     int
	height    int
	clearSecs int
	replaces  *model.Key // set for a rotation: the old key, as it now is
	copies    int        // copies made, the first included
	scroll    scroller
}

func newRevealView(sh *shared, k model.Key, secret string, grown bool) *revealView {
	return &revealView{sh: sh, st: sh.st, keyMap: defaultRevealKeyMap(), key: k, secret: []byte(secret), grown: grown,
		clearSecs: int(sh.clearAfter / time.Second)}
}

// Init copies the key at once.
func (r *revealView) Init() tea.Cmd { return r.sh.clip.copyCmd(string(r.secret)) }

func (r *revealView) KeyMap() help.KeyMap { return r.keyMap }
func (r *revealView) Typing() bool        { return false }
func (r *revealView) SetSize(w, h int)    { r.width, r.height = w, h }

// forget zeroes the key's bytes the view owns.
func (r *revealView) forget() {
	if r != nil {
		clear(r.secret)
	}
}

func (r *revealView) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case copiedMsg:
		r.res, r.tried, r.cleared = msg.res, true, clearResult{}
		r.copies++
		if r.copies > 1 {
			// Copying again changes nothing on screen but the count: say it.
			r.sh.status(copyAgainSentence(msg.res, r.copies), msg.res.copied())
		}
	case tea.KeyMsg:
		switch {
		case key.Matches(msg, r.keyMap.Up):
			r.scroll.by(-1)
		case key.Matches(msg, r.keyMap.Down):
			r.scroll.by(1)
		case key.Matches(msg, r.keyMap.Copy):
			return r.sh.clip.copyCmd(string(r.secret))
		case key.Matches(msg, r.keyMap.Done):
			if r.tried && !r.res.copied() && !r.warned {
				r.warned = true
				return nil
			}
			// Forget the key: the view was its only holder.
			r.forget()
			r.sh.nav.pop()
		}
	}
	return nil
}

func (r *revealView) View() string {
	s := r.st
	w := max(20, min(100, r.width-2)-2) // inside the box's border and padding
	secret := string(r.secret)
	var lines []string
	add := func(text string) { lines = append(lines, wrapTo(text, w)...) }
	blank := func() { lines = append(lines, "") }
	add(s.Warning.Render("This is the only time it is shown. Store it now."))
	blank()
	if old := r.replaces; old != nil {
		// The stamp wraps as one word (its space and hyphens held while
		// wrapping): it was cut as "2026-11-" and "30 12:37:07 UTC".
		hold, give := strings.NewReplacer(" ", "\u00a0", "-", "\u2011"), strings.NewReplacer("\u00a0", " ", "\u2011", "-")
		until := hold.Replace(format.Stamp(old.ExpiresAt))
		for _, l := range wrapTo(s.Subtle.Render("Replaces "+format.Safe(old.ID+" ("+old.Hint+")")+", which works until "+until+"."), w) {
			lines = append(lines, give.Replace(l))
		}
		blank()
	}
	// The key stands whole on a line of its own, so a double click or a
	// drag copies all of it; only a screen narrower than it breaks it.
	for _, l := range strings.Split(wrapHard(secret, w), "\n") {
		lines = append(lines, s.Secret.Render(l))
	}
	blank()
	if r.grown {
		add(s.Subtle.Render("It is longer than the store's format to keep its minimum randomness."))
		blank()
	}
	lines = append(lines, s.Label.Render("Use it as"))
	lines = append(lines, curlLines(r.key.Type, secret, w)...)
	blank()
	add(r.clipLine())
	if r.warned {
		blank()
		add(s.Error.Render("The key was not copied. Leave anyway? It will be gone for good: press esc again, or c to copy."))
	}
	// Cut as plain text: format.Truncate counts a colour's escapes as cells.
	const head = "Your new key  "
	about := format.Truncate(format.Safe(r.key.Name+" · "+r.key.Channel+" · "+r.key.Environment), max(1, w-3-len(head)), "…")
	title := s.Title.Render(strings.TrimSpace(head)) + s.Subtle.Render("  "+about)
	// On a short screen the blank lines go, then the rest scrolls.
	room := max(1, r.height-4)
	if len(lines) > room {
		lines = slices.DeleteFunc(lines, func(l string) bool { return l == "" })
	}
	shown := r.scroll.window(lines, room)
	r.keyMap.Up.SetEnabled(r.scroll.more())
	body := r.scroll.withMark(title, w, s.Subtle) + "\n\n" + strings.Join(shown, "\n")
	return center(r.width, r.height, s.Box.Width(w+2).Render(body))
}

// curlLines is a usage example for the key in lines of at most w cells. When
// one line is too narrow it breaks at spaces with the shell's
// continuations (a backslash before the newline, inside the quotes too),
// so the key stays whole and the lines pasted into a shell are one command.
func curlLines(t model.KeyType, secret string, w int) []string {
	header, _ := strings.CutSuffix(t.Header(secret), secret)
	one := `curl -H "` + header + secret + `" https://api.example.com/`
	if ansi.StringWidth(one) <= w {
		return []string{one}
	}
	return []string{`curl -H "` + header + `\`, secret + `" \`, `  https://api.example.com/`}
}

func copyAgainSentence(res copyResult, n int) string {
	if !res.copied() {
		return "Copy " + itoa(n) + " failed: select the key and copy it by hand."
	}
	return "Copied the key again (copy " + itoa(n) + ")."
}

// clipLine says which clipboards got the key, without claiming more.
func (r *revealView) clipLine() string {
	s := r.st
	if !r.tried {
		return s.Subtle.Render("Copying…")
	}
	if r.cleared.done {
		return r.clearedLine()
	}
	var lines []string
	if r.res.system {
		lines = append(lines, s.Success.Render("✓ Copied to the system clipboard."))
	}
	if r.res.osc52 {
		lines = append(lines, s.Success.Render("✓ Sent to your terminal's clipboard (OSC 52)")+s.Subtle.Render(" — keyden can't see whether your terminal accepted it; paste to check."))
	}
	if !r.res.system && r.res.systemErr != "" && r.res.systemErr != "off" {
		why := r.sh.clip.why(r.res.systemErr)
		lines = append(lines, s.Subtle.Render("✗ No system clipboard here ("+why+")."))
	}
	if !r.res.copied() {
		lines = append(lines, s.Error.Render("✗ Not copied anywhere: select the key above and copy it by hand."))
	} else if r.clearSecs > 0 {
		lines = append(lines, s.Subtle.Render("keyden clears what it copied after "+itoa(r.clearSecs)+"s and when you quit."))
	}
	return lipgloss.JoinVertical(lipgloss.Left, lines...)
}

// clearedLine says what the clear did, claiming only what keyden checked.
func (r *revealView) clearedLine() string {
	s, c := r.st, r.cleared
	var lines []string
	switch {
	case c.system:
		lines = append(lines, s.Success.Render("✓ Cleared the system clipboard."))
	case c.systemOther:
		lines = append(lines, s.Subtle.Render("The system clipboard holds something else now: keyden left it alone."))
	case c.systemErr != "":
		lines = append(lines, s.Error.Render("✗ Could not clear the system clipboard ("+firstLine(c.systemErr)+"): clear it by hand."))
	}
	if c.osc52 {
		lines = append(lines, s.Success.Render("✓ Asked your terminal to overwrite its clipboard with \""+clipReplacement+"\"")+s.Subtle.Render(" — keyden can't see whether it did."))
	}
	lines = append(lines, s.Subtle.Render("tmux and clipboard managers keep earlier copies keyden can't reach. c copies the key again."))
	return lipgloss.JoinVertical(lipgloss.Left, lines...)
}

// firstLine shortens a clipboard tool's error for the reveal; the text is
// the tool's, so it is made harmless too.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if r := []rune(s); len(r) > 60 {
		s = string(r[:60]) + "…"
	}
	return format.Safe(s)
}

// wrapHard breaks s every w cells: a key has no spaces to wrap at.
func wrapHard(s string, w int) string { return ansi.Hardwrap(s, w, true) }
