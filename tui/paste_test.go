package tui

import (
	"io"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"keyden/internal/testutil"
)

// startPiped runs the app as a program reading a pipe, so what a terminal
// sends (a bracketed paste, ctrl+v) goes through Bubble Tea's own parser,
// which teatest's Send skips. final closes the input and returns the model.
func startPiped(t *testing.T, s setup) (h *harness, in io.Writer, final func() *App) {
	t.Helper()
	pr, pw := io.Pipe()
	h = &harness{clip: &fakeClipboard{}, osc: &testutil.SyncBuffer{}}
	h.app = New(Options{Store: s.store, Location: "/tmp/keyden.db", Actor: "alice",
		Now:       func() time.Time { return testNow },
		Clipboard: ClipboardOptions{Out: h.osc, System: !s.noSystem, OSC52: true}})
	h.app.clip.write, h.app.clip.read = h.clip.write, h.clip.read
	h.rec = &recorder{App: h.app}
	p := tea.NewProgram(h.rec, tea.WithInput(pr), tea.WithOutput(io.Discard), tea.WithoutSignals())
	done := make(chan *App, 1)
	go func() {
		m, _ := p.Run()
		done <- m.(*recorder).App
	}()
	p.Send(tea.WindowSizeMsg{Width: 100, Height: 30})
	var app *App
	final = func() *App {
		if app == nil {
			pw.Close()
			p.Quit()
			select {
			case app = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the program did not end")
			}
		}
		return app
	}
	t.Cleanup(func() {
		final()
		if c, ok := s.store.(interface{ Close() error }); ok {
			c.Close()
		}
	})
	return h, pw, final
}

// hostilePaste holds what no text field may take: escape sequences (a
// title, a colour, the end of the paste itself is not among them), a bidi
// override, a zero width, NUL, a tab and line breaks.
const hostilePaste = "we\u202eb\x00 \x1b]0;pwned\x07ok\u200b\r\nnext\x1b[31m\tend\n"

// filteredPaste is what the field must hold: controls and invisible or
// reordering characters dropped, each line break or tab inside a space,
// the trailing line break of a copied line gone.
const filteredPaste = "web ]0;pwnedok next[31m end"

// Every text field takes a bracketed paste and a ctrl+v paste as it takes
// typed keys: filtered. On the old code ctrl+v read the clipboard through
// the text field itself, which kept a bidi override and a zero width,
// or dropped the paste (the confirm), and a bracketed paste glued lines.
func TestPasteIsFilteredInEveryTextField(t *testing.T) {
	fields := []struct {
		name  string
		keys  string // raw bytes that open the field
		ready string // what the screen shows once it is open
		value func(a *App) string
	}{
		{"filter line", "/", "enter done", func(a *App) string { return a.nav.top().(*keysView).filter.Value() }},
		{"create form", "n", "New key", func(a *App) string { return a.nav.top().(*formView).fields[fName].input.Value() }},
		{"confirm by name", "d", "to confirm:", func(a *App) string { return a.nav.top().(*confirmView).input.Value() }},
		{"bulk count", "Ad", "the number of keys, to confirm:", func(a *App) string { return a.nav.top().(*confirmView).input.Value() }},
		{"catalog add", "ea", "enter done", func(a *App) string { return a.nav.top().(*catalogView).input.Value() }},
		{"audit filter", "a/", "enter done", func(a *App) string { return a.nav.top().(*auditView).filter.Value() }},
	}
	for _, how := range []string{"bracketed", "ctrl+v"} {
		for _, f := range fields {
			t.Run(how+"/"+f.name, func(t *testing.T) {
				h, in, final := startPiped(t, setup{store: sampleBolt(t)})
				h.waitFor(t, "6 keys")
				io.WriteString(in, f.keys)
				h.waitFor(t, f.ready)
				if how == "bracketed" {
					io.WriteString(in, "\x1b[200~"+hostilePaste+"\x1b[201~")
				} else {
					h.clip.write(hostilePaste)
					io.WriteString(in, "\x16")
				}
				// The field's end shows once the paste landed.
				h.waitFor(t, "[31m end")
				a := final()
				if got := f.value(a); got != filteredPaste {
					t.Errorf("the field holds %q, want %q", got, filteredPaste)
				}
				if v := a.View(); strings.ContainsAny(v, "\u202e\u200b\x00\x07") || strings.Contains(v, "\x1b]0;") {
					t.Errorf("the screen drew what was pasted raw: %q", v)
				}
			})
		}
	}
}

// Where keyden may not read a system clipboard (keyden ssh), ctrl+v in a
// text field says how to paste instead; on the old code the field ran
// the server's clipboard tool itself.
func TestCtrlVWithoutAClipboardSaysHowToPaste(t *testing.T) {
	h, in, final := startPiped(t, setup{store: sampleBolt(t), noSystem: true})
	h.waitFor(t, "6 keys")
	io.WriteString(in, "n")
	h.waitFor(t, "New key")
	h.clip.write("from the server")
	io.WriteString(in, "\x16")
	h.waitFor(t, "paste with your terminal instead")
	if got := final().nav.top().(*formView).fields[fName].input.Value(); got != "" {
		t.Errorf("the field holds %q", got)
	}
}
