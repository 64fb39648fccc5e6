package tui

import (
	"context"
	"time"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"

	"keyden/keyindex"
	"keyden/model"
	"keyden/storage"
)

// screen is one page of the app: the keys table, the form, a confirm….
// Each issues its own store commands and handles their results; the root
// gives it the keys pressed while it is on top, and every other message.
type screen interface {
	Init() tea.Cmd
	Update(tea.Msg) tea.Cmd
	View() string
	// KeyMap feeds the help line and the ? screen.
	KeyMap() help.KeyMap
	// SetSize gives the screen the room between the title and status lines.
	SetSize(w, h int)
	// Typing says whether keys go into a text field, where letters are text.
	Typing() bool
}

// navigator is the stack of open screens; the home screen is at the bottom
// and never leaves. Push opens a screen on top, pop goes back.
type navigator struct {
	stack []screen
	w, h  int
}

func (n *navigator) top() screen { return n.stack[len(n.stack)-1] }

// push opens s on top and returns its first command.
func (n *navigator) push(s screen) tea.Cmd {
	s.SetSize(n.w, n.h)
	n.stack = append(n.stack, s)
	return s.Init()
}

// pop closes the top screen (never the home screen).
func (n *navigator) pop() {
	if len(n.stack) > 1 {
		n.stack = n.stack[:len(n.stack)-1]
	}
}

// replace closes the top screen and opens s in its place.
func (n *navigator) replace(s screen) tea.Cmd {
	n.pop()
	return n.push(s)
}

// home closes every screen above the home screen.
func (n *navigator) home() { n.stack = n.stack[:1] }

func (n *navigator) setSize(w, h int) {
	n.w, n.h = w, h
	for _, s := range n.stack {
		s.SetSize(w, h)
	}
}

// shared is what every screen may use: the store, the clock, what the
// user may do, the latest data, the navigator and the status line.
type shared struct {
	st     *Styles
	store  storage.Store
	ctx    context.Context
	now    func() time.Time
	perm   *perms
	nav    *navigator
	data   *appData
	global *globalKeyMap
	clip   *clipboardManager
	// status shows a sentence in the status line for a few seconds.
	status func(text string, ok bool)
	// reload asks the root for a read of what changed (everything if full).
	reload     func(full bool) tea.Cmd
	home       *keysView
	clearAfter time.Duration
	// verifierWait bounds the wait for the verifiers after a revocation.
	verifierWait time.Duration
}

// appData is what the store held at the latest load.
type appData struct {
	set *keyindex.Index
	catalogData
	// loads counts the loads started; fresh holds keys a screen took from
	// a store's answer (a toggle), newer than any load started before it:
	// such a load reapplies them rather than show the key as it was.
	loads int
	fresh map[string]freshKey
	// rules is the store's Generation.Keys at the latest load: it moves
	// with every change the audit log records.
	rules uint64
}

type freshKey struct {
	key   model.Key
	after int // loads up to this one may predate key
}

// took puts a key from a store's answer into the set shown at once.
func (d *appData) took(k model.Key) {
	if d.fresh == nil {
		d.fresh = map[string]freshKey{}
	}
	d.fresh[k.ID] = freshKey{key: k, after: d.loads}
	d.set = d.set.Patch([]model.Key{k}, nil)
}

// reapply puts the fresh keys a load started before them may lack back
// into its set, and forgets those the load has seen.
func (d *appData) reapply(set *keyindex.Index, load int) *keyindex.Index {
	var keys []model.Key
	for id, f := range d.fresh {
		if load > f.after {
			delete(d.fresh, id)
			continue
		}
		if _, ok := set.Lookup(id); ok {
			keys = append(keys, f.key)
		}
	}
	return set.Patch(keys, nil)
}

// catalogData is what the store holds besides keys.
type catalogData struct {
	envs     []model.Environment
	channels []model.Channel
	members  []model.Member
}

// dataMsg tells the open screens that a load brought new data.
type dataMsg struct{}

// fail shows a store error as a sentence in the status line.
func (s *shared) fail(err error) { s.status(sentence(err), false) }

// center places a box in the middle of a screen's room.
func center(w, h int, box string) string {
	return lipgloss.Place(w, h, lipgloss.Center, lipgloss.Center, box)
}

// noInit is Init for screens that need no first command.
type noInit struct{}

func (noInit) Init() tea.Cmd { return nil }
