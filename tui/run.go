package tui

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"keyden/storage"
)

// DefaultClearAfter is how long a copied key stays on the clipboard.
const DefaultClearAfter = 45 * time.Second

// ClipboardFromEnv reads the clipboard settings from the environment:
// KEYDEN_CLIPBOARD_CLEAR (a duration, 0 = never; default 45s),
// KEYDEN_OSC52=0 and KEYDEN_SYSTEM_CLIPBOARD=0 to turn either off.
func ClipboardFromEnv(getenv func(string) string) (ClipboardOptions, error) {
	opt := ClipboardOptions{
		Out: os.Stdout, System: getenv("KEYDEN_SYSTEM_CLIPBOARD") != "0",
		OSC52:  getenv("KEYDEN_OSC52") != "0" && getenv("TERM") != "dumb",
		InTmux: getenv("TMUX") != "", ClearAfter: DefaultClearAfter,
		Display: getenv("DISPLAY") != "" || getenv("WAYLAND_DISPLAY") != "",
	}
	if v := getenv("KEYDEN_CLIPBOARD_CLEAR"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return opt, errorf("KEYDEN_CLIPBOARD_CLEAR=%q is not a duration: set it like 45s, or 0 to never clear", v)
		}
		// Shorter would clear before a paste could happen.
		if d > 0 && d < time.Second {
			return opt, errorf("KEYDEN_CLIPBOARD_CLEAR=%q is less than a second: set it like 45s, or 0 to never clear", v)
		}
		opt.ClearAfter = d
	}
	return opt, nil
}

// Run opens the terminal app on st until the admin quits.
func Run(ctx context.Context, st storage.Store, location, actor, notice string, getenv func(string) string) error {
	clip, err := ClipboardFromEnv(getenv)
	if err != nil {
		return err
	}
	if getenv("NO_COLOR") != "" {
		lipgloss.SetColorProfile(termenv.Ascii)
	}
	// Ask the terminal for its background before Bubble Tea reads stdin:
	// asked lazily during the first frame, the query races it for input.
	lipgloss.HasDarkBackground()
	// A soft ceiling for the heap: the GC runs harder near it rather than
	// letting the heap grow to twice what is live. A million keys hold
	// about 220 MiB, 270 MiB after a verifier's flush of 100k of them, so
	// their peak stays near 500 MiB (600 without it); from about 1.8M keys
	// the GC works near it all the time, and GOMEMLIMIT raises it.
	if getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(480 << 20)
	}
	app := New(Options{Store: st, Location: location, Actor: actor, Clipboard: clip, Context: ctx, Notice: notice})
	p := tea.NewProgram(app, tea.WithAltScreen(), tea.WithMouseCellMotion(), tea.WithContext(ctx))
	_, err = p.Run()
	// However the program ended, leave nothing keyden copied behind, and
	// say where copies may remain: the screen that said it is gone.
	app.clip.clear(0)
	if note := app.clip.exitNote(); note != "" {
		fmt.Fprintln(os.Stderr, note)
	}
	if err != nil && ctx.Err() != nil {
		return nil // interrupted by a signal: a normal way out
	}
	return err
}

// Session is a terminal other than the process's own that the app runs on:
// a keyden ssh session, with its own input, output, colours and size.
type Session struct {
	In  io.Reader
	Out io.Writer
	// Environ is the client's environment (TERM, NO_COLOR), as KEY=VALUE.
	Environ  []string
	Renderer *lipgloss.Renderer
	// Clipboard: copies reach only the client's terminal (OSC 52 to Out);
	// the system clipboard, the server's, is never touched.
	Clipboard     ClipboardOptions
	Keys          *SharedKeys
	Location      string
	Actor         string
	Width, Height int
}

// NewSession builds the app's program for a session; the caller sends it
// the client's window sizes and runs it, then calls done, which clears
// what the session copied and returns the sentence to leave on its
// terminal (where copies may remain), if any.
func NewSession(ctx context.Context, st storage.Store, s Session) (p *tea.Program, done func() string) {
	clip := s.Clipboard
	clip.Out, clip.System, clip.InTmux = s.Out, false, false
	app := New(Options{Store: st, Location: s.Location, Actor: s.Actor, Clipboard: clip, Context: ctx,
		Renderer: s.Renderer, Keys: s.Keys})
	if s.Width > 0 && s.Height > 0 { // else the 80×24 New assumes, until a size arrives
		app.width, app.height = s.Width, s.Height
		app.layout()
	}
	p = tea.NewProgram(app, tea.WithAltScreen(), tea.WithMouseCellMotion(), tea.WithContext(ctx), tea.WithInput(s.In), tea.WithOutput(s.Out),
		tea.WithEnvironment(s.Environ), tea.WithoutSignalHandler())
	return p, func() string {
		app.clip.clear(0)
		return app.clip.exitNote()
	}
}
