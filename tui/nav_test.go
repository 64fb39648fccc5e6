package tui

import (
	"context"
	"strings"
	"testing"

	"github.com/charmbracelet/bubbles/help"
	tea "github.com/charmbracelet/bubbletea"

	"keyden/model"
	"keyden/storage"
)

// fakeScreen records what the navigator does to it.
type fakeScreen struct {
	name   string
	w, h   int
	inits  int
	msgs   []tea.Msg
	typing bool
}

type fakeInitMsg struct{ name string }

func (f *fakeScreen) Init() tea.Cmd {
	f.inits++
	return func() tea.Msg { return fakeInitMsg{f.name} }
}
func (f *fakeScreen) Update(msg tea.Msg) tea.Cmd { f.msgs = append(f.msgs, msg); return nil }
func (f *fakeScreen) View() string               { return f.name }
func (f *fakeScreen) KeyMap() help.KeyMap        { return defaultEventKeyMap() }
func (f *fakeScreen) SetSize(w, h int)           { f.w, f.h = w, h }
func (f *fakeScreen) Typing() bool               { return f.typing }

func TestNavigatorIsAStack(t *testing.T) {
	home, a, b, c := &fakeScreen{name: "home"}, &fakeScreen{name: "a"}, &fakeScreen{name: "b"}, &fakeScreen{name: "c"}
	var n navigator
	n.push(home)
	n.setSize(78, 21)
	// push sizes the screen and returns its first command.
	if cmd := n.push(a); cmd == nil || cmd().(fakeInitMsg).name != "a" || a.inits != 1 || a.w != 78 || a.h != 21 {
		t.Fatalf("push: %+v", a)
	}
	n.push(b)
	n.replace(c)
	if n.top() != c || len(n.stack) != 3 || n.stack[1] != a {
		t.Fatalf("replace: top %v, %d deep", n.top(), len(n.stack))
	}
	n.pop()
	if n.top() != a {
		t.Fatal("pop did not go back to a")
	}
	n.push(b)
	n.home()
	n.pop() // the home screen never leaves
	if n.top() != home || len(n.stack) != 1 {
		t.Fatalf("home: %d deep", len(n.stack))
	}
	n.setSize(100, 40)
	if home.w != 100 {
		t.Fatal("resize missed the home screen")
	}
}

// The root gives keys to the top screen only, every other message to
// every open screen, and asks the top screen whether it is typing.
func TestRootRoutesKeysToTheTopAndTheRestToAll(t *testing.T) {
	a := New(Options{Store: emptyBolt(t)})
	top := &fakeScreen{name: "top", typing: true}
	under := &fakeScreen{name: "under"}
	a.nav.push(under)
	a.nav.push(top)
	a.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("?q")}) // typed text: not help, not quit, one key
	a.Update(fakeInitMsg{"x"})
	if len(top.msgs) != 2 || len(under.msgs) != 1 || a.showHelp {
		t.Fatalf("top got %v, under got %v, help %v", top.msgs, under.msgs, a.showHelp)
	}
	top.typing = false
	a.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("?")})
	if !a.showHelp || len(top.msgs) != 2 {
		t.Fatal("? outside a text field did not open the help")
	}
	if v := a.View(); !strings.Contains(v, "Key bindings") || !strings.Contains(v, "esc back") {
		t.Fatalf("help is not the top screen's:\n%s", v)
	}
}

// One confirm for every yes/no: it starts at No, a name to type holds the
// yes back until it matches, and yes runs once, with the choice made.
func TestConfirmComponent(t *testing.T) {
	a := New(Options{Store: emptyBolt(t)})
	var got []int
	q := ask{title: "Burn it?", verb: "burn", body: func(c int) string { return "choice " + itoa(c) + "\n" },
		choices: 3, choice: 1, choiceHelp: "heat", name: "tree", prompt: "Type tree:", mismatch: "Not the name.",
		yes: func(c int) tea.Cmd { got = append(got, c); return nil }}
	open := func() *confirmView {
		c := newConfirmView(a.sh, q)
		a.nav.push(c)
		return c
	}
	key := func(keys ...string) {
		for _, k := range keys {
			switch k {
			case "enter":
				a.Update(tea.KeyMsg{Type: tea.KeyEnter})
			case "right":
				a.Update(tea.KeyMsg{Type: tea.KeyRight})
			case "down":
				a.Update(tea.KeyMsg{Type: tea.KeyDown})
			default:
				a.Update(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)})
			}
		}
	}
	open()
	key("enter") // the answer starts at No
	if a.nav.top() != a.keys || len(got) != 0 {
		t.Fatal("enter on No did not just close")
	}
	c := open()
	key("y", "right", "enter") // y is text here; the name does not match
	if a.nav.top() != c || c.note != "Not the name." || len(got) != 0 {
		t.Fatalf("a wrong name answered: note %q, %v", c.note, got)
	}
	for range "y" {
		a.Update(tea.KeyMsg{Type: tea.KeyBackspace})
	}
	key("tree", "down", "enter")
	if a.nav.top() != a.keys || len(got) != 1 || got[0] != 2 {
		t.Fatalf("yes: %v, top %T", got, a.nav.top())
	}
	if v := c.View(); !strings.Contains(v, "choice 2") || !strings.Contains(v, "Burn it?") {
		t.Fatalf("view:\n%s", v)
	}
	// Without a name, y answers at once.
	q.name = ""
	open()
	key("y")
	if a.nav.top() != a.keys || len(got) != 2 {
		t.Fatal("y did not answer")
	}
}

// enter on an audit event opens it whole; enter there opens its key's
// details; esc goes back one screen at a time.
func TestAuditEventScreen(t *testing.T) {
	st := boltStore(t)
	c, err := st.CreateKey(context.Background(), storage.CreateRequest{Name: "audited key", Channel: "default", Environment: "dev", Scopes: []string{"orders:read"}})
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, setup{store: st})
	h.waitFor(t, "1 key · ")
	h.press("a")
	h.waitFor(t, "Audit log", "audited key")
	h.press("enter")
	h.waitFor(t, "Audit event", "Actor        alice", "Action       create", "Key          "+c.Key.ID, "enter: the key's details")
	h.press("enter")
	h.waitFor(t, "Scopes       orders:read")
	h.press("esc")
	h.waitFor(t, "Audit event")
	h.press("esc")
	h.waitFor(t, "Audit log")
	h.press("esc")
	h.waitFor(t, "1 key · ")
	h.final(t)
}

// Removing from the catalog goes through the same confirm: No by default,
// and it says when keyden will refuse.
func TestCatalogRemoveAsks(t *testing.T) {
	st := boltStore(t)
	if _, err := st.CreateKey(context.Background(), storage.CreateRequest{Name: "a dev key", Channel: "default", Environment: "dev"}); err != nil {
		t.Fatal(err)
	}
	h := start(t, setup{store: st})
	h.waitFor(t, "1 key · ")
	h.press("e")
	h.waitFor(t, "Environments")
	h.press("x")
	h.waitFor(t, "Remove the environment dev?", "used by 1 key", "[ No ]")
	h.press("enter")
	h.waitFor(t, "Environments")
	h.press("down", "x")
	h.waitFor(t, "Remove the environment staging?")
	h.press("y")
	h.waitFor(t, "Removed environment staging.")
	h.final(t)
	envs, _ := st.Environments(context.Background())
	if len(envs) != 2 || envs[0].Name != "dev" {
		t.Fatalf("environments: %+v", envs)
	}
}

// An event opened before the first load has no key to link to yet: enter
// says to wait rather than failing.
func TestEventBeforeTheFirstLoad(t *testing.T) {
	a := New(Options{Store: emptyBolt(t)})
	a.nav.push(newEventView(a.sh, model.Event{Seq: 3, Action: model.ActionCreate, KeyID: "k1"}))
	a.Update(tea.KeyMsg{Type: tea.KeyEnter})
	if !strings.Contains(a.View(), "Still loading the store") {
		t.Fatalf("view:\n%s", a.View())
	}
}

// ctxStore records the context its change feed is read with.
type ctxStore struct {
	*storage.Bolt
	got chan context.Context
}

func (c ctxStore) Generation(ctx context.Context) (storage.Generation, error) {
	c.got <- ctx
	return c.Bolt.Generation(ctx)
}

// The app's store calls carry the context it was given (Run's, which a
// signal cancels), not one of their own.
func TestStoreCallsCarryTheAppsContext(t *testing.T) {
	type mark struct{}
	ctx := context.WithValue(context.Background(), mark{}, "run")
	st := ctxStore{Bolt: boltStore(t), got: make(chan context.Context, 1)}
	a := New(Options{Store: st, Context: ctx})
	a.loadCmd(true)()
	if got := <-st.got; got.Value(mark{}) != "run" {
		t.Fatal("the store was called without the app's context")
	}
}
