package tui

import (
	"crypto/sha256"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/atotto/clipboard"
	"github.com/aymanbagabas/go-osc52/v2"
	tea "github.com/charmbracelet/bubbletea"
)

// ClipboardOptions say how keyden may reach the admin's clipboard.
type ClipboardOptions struct {
	// Out is the terminal OSC 52 goes to (the program's output).
	Out io.Writer
	// System enables the system clipboard (atotto/clipboard: xclip, xsel,
	// wl-copy, pbcopy…); on a server over SSH it usually has none.
	System bool
	// OSC52 enables the terminal escape that reaches the admin's own
	// machine over SSH; InTmux also sends it wrapped for tmux passthrough.
	OSC52, InTmux bool
	// ClearAfter clears what keyden copied after this long (0: never).
	ClearAfter time.Duration
	// Display says a graphical session is there (DISPLAY or
	// WAYLAND_DISPLAY): without one, xclip and friends exit with only a
	// status, and keyden says why in words.
	Display bool
}

// copyResult says, honestly, what a copy did.
type copyResult struct {
	system    bool   // the system clipboard holds the key
	systemErr string // why not, when it was tried
	osc52     bool   // the escape was written to the terminal (arrival unknown)
	seq       int
}

func (r copyResult) copied() bool { return r.system || r.osc52 }

// clearResult says, honestly, what a clear did: only what keyden can
// check is claimed as done.
type clearResult struct {
	done bool // a copy was pending, and this clear dealt with it
	seq  int  // the copy it cleared
	// The system clipboard: emptied (read back to check), left alone
	// because it holds something else now, or not cleared and why.
	system, systemOther bool
	systemErr           string
	// OSC 52: the replacement was written to the terminal (arrival unknown).
	osc52 bool
}

// sentence is the status line for a clear the reveal is not there to show.
func (r clearResult) sentence() string {
	var said string
	switch {
	case r.system:
		said = "Cleared the system clipboard"
	case r.systemOther:
		said = "Left the system clipboard (it holds other text now)"
	case r.systemErr != "":
		said = "Could not clear the system clipboard (" + firstLine(r.systemErr) + "): clear it by hand"
	}
	if r.osc52 {
		if said == "" {
			said = "Asked the terminal to overwrite its copy of the key (unchecked)"
		} else {
			said += "; asked the terminal to overwrite its copy (unchecked)"
		}
	}
	if said == "" {
		said = "Could not reach the terminal to overwrite the key"
	}
	return said + ". tmux and clipboard managers may keep earlier copies."
}

type (
	copiedMsg    struct{ res copyResult }
	clipClearMsg struct{ seq int }
	clearedMsg   struct{ res clearResult }
)

// clipReplacement is what keyden writes over its key in the terminal's
// clipboard. tmux ignores the OSC 52 clear (and an empty payload) and keeps
// every copy as a paste buffer, so only a new write takes the key out of
// the newest entry; visible text tells a later paste what happened.
const clipReplacement = "keyden: cleared"

// clipboardManager copies secrets and clears them again. It keeps only a
// hash of what it copied, so it can tell whether the clipboard still
// holds keyden's key without holding the key.
type clipboardManager struct {
	opt ClipboardOptions
	// The system clipboard and the tests' fake are swappable.
	write func(string) error
	read  func() (string, error)

	mu      sync.Mutex
	ours    [32]byte
	last    copyResult // what the pending copy reached
	pending bool       // something keyden copied may still be there
	seq     int
	copied  bool        // anything was copied this session
	atExit  clearResult // the clear made on leaving
}

func newClipboardManager(opt ClipboardOptions) *clipboardManager {
	return &clipboardManager{opt: opt, write: clipboard.WriteAll, read: clipboard.ReadAll}
}

// copy writes secret to every enabled clipboard and says what happened.
func (c *clipboardManager) copy(secret string) copyResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	res := copyResult{seq: c.seq}
	if c.opt.System {
		if err := c.write(secret); err != nil {
			res.systemErr = err.Error()
		} else {
			res.system = true
		}
	} else {
		res.systemErr = "off"
	}
	res.osc52 = c.sendOSC52(secret)
	c.ours = sha256.Sum256([]byte(secret))
	c.last, c.pending = res, res.copied()
	c.copied = c.copied || res.copied()
	return res
}

// sendOSC52 writes text to the terminal's clipboard and reports whether
// the escape was written.
func (c *clipboardManager) sendOSC52(text string) bool {
	if !c.opt.OSC52 || c.opt.Out == nil {
		return false
	}
	seq := osc52.New(text)
	_, err := seq.WriteTo(c.opt.Out)
	if c.opt.InTmux {
		// tmux with set-clipboard on takes the plain escape into its
		// buffer; with allow-passthrough the wrapped one reaches the
		// outer terminal. Either may be configured, so send both.
		seq.Tmux().WriteTo(c.opt.Out)
	}
	return err == nil
}

// clearCmd waits out ClearAfter, then asks for a clear of copy seq.
func (c *clipboardManager) clearCmd(seq int) tea.Cmd {
	if c.opt.ClearAfter <= 0 {
		return nil
	}
	return tickAfter(c.opt.ClearAfter, clipClearMsg{seq: seq})
}

// clearAfterCmd clears copy seq off the UI loop (a clipboard tool may be slow).
func (c *clipboardManager) clearAfterCmd(seq int) tea.Cmd {
	return func() tea.Msg {
		if res := c.clear(seq); res.done {
			return clearedMsg{res: res}
		}
		return nil
	}
}

// pastedMsg is the system clipboard's text, for a ctrl+v in a text field.
type pastedMsg struct {
	text string
	err  error
}

// pasteCmd reads the system clipboard off the UI loop.
func (c *clipboardManager) pasteCmd() tea.Cmd {
	return func() tea.Msg {
		s, err := c.read()
		return pastedMsg{s, err}
	}
}

// copyCmd copies secret off the UI loop.
func (c *clipboardManager) copyCmd(secret string) tea.Cmd {
	return func() tea.Msg { return copiedMsg{res: c.copy(secret)} }
}

// clear takes keyden's key out of the clipboards it reached: the system
// clipboard only if it still holds that key (the admin may have copied
// something else since), and the terminal's by overwriting it with
// clipReplacement and then sending the OSC 52 clear, which terminals that
// honour it (xterm) apply on top. seq 0 clears whatever is pending (on
// quit); otherwise only that copy's.
func (c *clipboardManager) clear(seq int) clearResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.pending || (seq != 0 && seq != c.seq) {
		return clearResult{}
	}
	res := clearResult{done: true, seq: c.seq}
	c.pending = false
	if c.last.system {
		cur, err := c.read()
		switch {
		case err != nil:
			res.systemErr = err.Error()
		case sha256.Sum256([]byte(cur)) != c.ours:
			res.systemOther = true
		default:
			res.system, res.systemErr = c.emptySystem()
		}
	}
	if c.last.osc52 {
		res.osc52 = c.sendOSC52(clipReplacement)
		if res.osc52 {
			seq := osc52.Clear()
			seq.WriteTo(c.opt.Out)
			if c.opt.InTmux {
				seq.Tmux().WriteTo(c.opt.Out)
			}
		}
	}
	c.ours = [32]byte{}
	if seq == 0 {
		c.atExit = res
	}
	return res
}

// exitNote is what keyden says once the terminal is restored, if it copied
// anything this session: what the clear on leaving did, and where copies
// may remain.
func (c *clipboardManager) exitNote() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case !c.copied:
		return ""
	case c.atExit.done:
		return c.atExit.sentence() + clipHistoryHint
	}
	return "tmux and clipboard managers may keep copies of the keys keyden copied." + clipHistoryHint
}

// clipHistoryHint says how to find the copies tmux keeps.
const clipHistoryHint = " In tmux, `tmux list-buffers` shows them and `tmux delete-buffer -b NAME` drops one."

// emptySystem empties the system clipboard and reads it back, so keyden
// says it is clear only when it has seen so.
func (c *clipboardManager) emptySystem() (bool, string) {
	if err := c.write(""); err != nil {
		return false, err.Error()
	}
	cur, err := c.read()
	if err != nil {
		return false, err.Error()
	}
	if sha256.Sum256([]byte(cur)) == c.ours {
		return false, "it still holds the key"
	}
	return true, ""
}

// why is a system clipboard failure in words: the tools say only "exit
// status 1" when there is no display to copy to.
func (c *clipboardManager) why(err string) string {
	why := firstLine(err)
	switch {
	case strings.Contains(why, "No clipboard utilities"):
		return "no xclip, xsel or wl-copy, as usual over SSH"
	case strings.HasPrefix(why, "exit status") && !c.opt.Display:
		return "no display to copy to, as usual over SSH"
	case strings.HasPrefix(why, "exit status"):
		return "the clipboard tool failed with " + why
	}
	return why
}
