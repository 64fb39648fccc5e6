package tui

import (
	"crypto/sha256"
	"io"
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
}

// copyResult says, honestly, what a copy did.
type copyResult struct {
	system    bool   // the system clipboard holds the key
	systemErr string // why not, when it was tried
	osc52     bool   // the escape was written to the terminal (arrival unknown)
	seq       int
}

func (r copyResult) copied() bool { return r.system || r.osc52 }

type (
	copiedMsg    struct{ res copyResult }
	clipClearMsg struct{ seq int }
)

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
	pending bool // something keyden copied may still be there
	seq     int
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
	if c.opt.OSC52 && c.opt.Out != nil {
		seq := osc52.New(secret)
		_, err := seq.WriteTo(c.opt.Out)
		if c.opt.InTmux {
			// tmux with set-clipboard on takes the plain escape into its
			// buffer; with allow-passthrough the wrapped one reaches the
			// outer terminal. Either may be configured, so send both.
			seq.Tmux().WriteTo(c.opt.Out)
		}
		res.osc52 = err == nil
	}
	c.ours = sha256.Sum256([]byte(secret))
	c.pending = res.copied()
	return res
}

// clearCmd waits out ClearAfter, then asks for a clear of copy seq.
func (c *clipboardManager) clearCmd(seq int) tea.Cmd {
	if c.opt.ClearAfter <= 0 {
		return nil
	}
	return tickAfter(c.opt.ClearAfter, clipClearMsg{seq: seq})
}

// clear empties what keyden put on the clipboards: the system clipboard
// only if it still holds keyden's key (the admin may have copied something
// else since), and the terminal's with an OSC 52 clear. seq 0 clears
// whatever is pending (on quit); otherwise only that copy's.
func (c *clipboardManager) clear(seq int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.pending || (seq != 0 && seq != c.seq) {
		return false
	}
	c.pending = false
	if c.opt.System {
		if cur, err := c.read(); err == nil && sha256.Sum256([]byte(cur)) == c.ours {
			c.write("")
		}
	}
	if c.opt.OSC52 && c.opt.Out != nil {
		seq := osc52.Clear()
		seq.WriteTo(c.opt.Out)
		if c.opt.InTmux {
			seq.Tmux().WriteTo(c.opt.Out)
		}
	}
	c.ours = [32]byte{}
	return true
}
