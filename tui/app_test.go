package tui

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aymanbagabas/go-osc52/v2"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"keyden/internal/testutil"
	"keyden/model"
	"keyden/storage"
)

func TestMain(m *testing.M) {
	// Goldens are plain text: no colour, and no terminal query.
	lipgloss.SetColorProfile(termenv.Ascii)
	lipgloss.SetHasDarkBackground(true)
	os.Exit(m.Run())
}

// fakeClipboard stands in for the system clipboard.
type fakeClipboard struct {
	mu   sync.Mutex
	text string
	fail bool
}

func (f *fakeClipboard) write(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errorf("No clipboard utilities available. Please install xsel, xclip, wl-clipboard or Termux:API add-on for termux-clipboard-get/set.")
	}
	f.text = s
	return nil
}

func (f *fakeClipboard) read() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.text, nil
}

func (f *fakeClipboard) get() string { s, _ := f.read(); return s }

type harness struct {
	tm   *teatest.TestModel
	app  *App
	rec  *recorder
	clip *fakeClipboard
	osc  *testutil.SyncBuffer
}

// recorder wraps the app to keep the last frame it drew, so a test waits
// on what the screen shows rather than on the renderer's partial repaints.
type recorder struct {
	*App
	last atomic.Pointer[string]
	// Loads that replaced the keys shown: a whole snapshot, or a patch
	// from the change feed (the new set shares the old one's indexes).
	full, patched atomic.Int32
}

func (r *recorder) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if m, ok := msg.(loadedMsg); ok && m.err == nil && m.set != r.App.keys.set {
		if m.set.SharesIndexes(r.App.keys.set) {
			r.patched.Add(1)
		} else {
			r.full.Add(1)
		}
	}
	_, cmd := r.App.Update(msg)
	return r, cmd
}

func (r *recorder) View() string {
	v := r.App.View()
	r.last.Store(&v)
	return v
}

type setup struct {
	store      storage.Store
	w, h       int
	clearAfter time.Duration
	noSystem   bool
	poll       time.Duration
	actor      string
	location   string
}

func start(t *testing.T, s setup) *harness {
	t.Helper()
	if s.w == 0 {
		s.w, s.h = 80, 24
	}
	h := &harness{clip: &fakeClipboard{fail: s.noSystem}, osc: &testutil.SyncBuffer{}}
	if s.actor == "" {
		s.actor = "alice"
	}
	if s.location == "" {
		s.location = "/tmp/keyden.db"
	}
	h.app = New(Options{Store: s.store, Location: s.location, Actor: s.actor,
		Now: func() time.Time { return testNow }, PollEvery: s.poll,
		Clipboard: ClipboardOptions{Out: h.osc, System: true, OSC52: true, ClearAfter: s.clearAfter}})
	h.app.clip.write, h.app.clip.read = h.clip.write, h.clip.read
	h.rec = &recorder{App: h.app}
	h.tm = teatest.NewTestModel(t, h.rec, teatest.WithInitialTermSize(s.w, s.h))
	t.Cleanup(func() { h.tm.Quit() })
	return h
}

// waitFor waits for one frame that shows every text: a golden read after
// it sees that frame's state, not one a load or a copy has yet to change.
func (h *harness) waitFor(t *testing.T, texts ...string) {
	t.Helper()
	shows := func(v *string) bool {
		for _, text := range texts {
			if v == nil || !strings.Contains(*v, text) {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if shows(h.rec.last.Load()) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	last := ""
	if v := h.rec.last.Load(); v != nil {
		last = *v
	}
	t.Fatalf("the screen never showed %q together; last frame:\n%s", texts, last)
}

// press sends keys: names like "enter", "esc", "tab", "down", "ctrl+c";
// anything else is typed one rune at a time.
func (h *harness) press(keys ...string) {
	named := map[string]tea.KeyType{"enter": tea.KeyEnter, "esc": tea.KeyEsc, "tab": tea.KeyTab,
		"shift+tab": tea.KeyShiftTab, "down": tea.KeyDown, "up": tea.KeyUp, "left": tea.KeyLeft,
		"right": tea.KeyRight, "ctrl+c": tea.KeyCtrlC, "backspace": tea.KeyBackspace}
	for _, k := range keys {
		if kt, ok := named[k]; ok {
			h.tm.Send(tea.KeyMsg{Type: kt})
			continue
		}
		for _, r := range k {
			h.tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune{r}})
		}
	}
}

// final stops the program where it is and returns the model.
func (h *harness) final(t *testing.T) *App {
	t.Helper()
	h.tm.Quit()
	return h.tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*recorder).App
}

func requireGolden(t *testing.T, a *App) {
	t.Helper()
	golden.RequireEqual(t, []byte(a.View()))
}

func TestKeysTableGolden(t *testing.T) {
	h := start(t, setup{store: sampleStore()})
	h.waitFor(t, "6 keys")
	a := h.final(t)
	view := a.View()
	// Each thing a reviewer should notice stands out by a word, not colour alone.
	for _, word := range []string{"stale", "unused", "expired", "expiring", "never", "2m ago"} {
		if !strings.Contains(view, word) {
			t.Errorf("table lacks %q", word)
		}
	}
	requireGolden(t, a)
}

func TestKeysTableWideGolden(t *testing.T) {
	h := start(t, setup{store: sampleStore(), w: 250, h: 60})
	h.waitFor(t, "6 keys")
	a := h.final(t)
	for _, col := range []string{"NAME", "CHANNEL", "ENV", "HINT", "SCOPES", "CREATED", "LAST USED", "EXPIRES", "CREATED BY"} {
		if !strings.Contains(a.View(), col) {
			t.Errorf("wide table lacks column %s", col)
		}
	}
	requireGolden(t, a)
}

func TestEmptyStoreSaysWhatToPress(t *testing.T) {
	h := start(t, setup{store: newMemStore()})
	h.waitFor(t, "No keys yet")
	a := h.final(t)
	if !strings.Contains(a.View(), "Press n to create") {
		t.Fatal("empty store does not say what to press")
	}
	requireGolden(t, a)
}

func TestFilterSortAndTabs(t *testing.T) {
	h := start(t, setup{store: sampleStore()})
	h.waitFor(t, "6 keys")
	h.press("/", "mobile")
	h.waitFor(t, "2 shown")
	h.press("enter", "s")
	h.waitFor(t, "sort: created")
	h.press("esc", "tab", "tab", "tab") // All → dev → staging → prod
	h.waitFor(t, "2 shown")
	a := h.final(t)
	if a.keys.q.Env != "prod" || a.keys.q.Text != "" {
		t.Fatalf("query %+v", a.keys.q)
	}
	for _, r := range a.keys.rows {
		if a.keys.rowsOf.Key(r).Environment != "prod" {
			t.Fatal("a non-prod key on the prod tab")
		}
	}
	requireGolden(t, a)
}

func TestChannelPicker(t *testing.T) {
	h := start(t, setup{store: sampleStore()})
	h.waitFor(t, "6 keys")
	h.press("c", "down", "down", "enter")
	h.waitFor(t, "channel: mobile-app")
	a := h.final(t)
	if len(a.keys.rows) != 2 {
		t.Fatalf("%d rows for mobile-app", len(a.keys.rows))
	}
}

func TestCreateFormValidatesAsYouType(t *testing.T) {
	h := start(t, setup{store: sampleStore()})
	h.waitFor(t, "6 keys")
	h.press("n")
	h.waitFor(t, "New key")
	h.press("deploy bot", "tab", "tab", "tab", "tab", "Posts")
	h.waitFor(t, "is not allowed")
	a := h.final(t)
	requireGolden(t, a)
}

func TestCreateFormEscWritesNothing(t *testing.T) {
	st := sampleBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.press("n")
	h.waitFor(t, "New key")
	h.press("never made", "enter")
	h.waitFor(t, "Your new key")
	h.press("esc")
	h.press("n")
	h.waitFor(t, "New key")
	h.press("abandoned", "esc")
	h.waitFor(t, "7 keys")
	h.final(t)
	keys := keysIn(t, st)
	if len(keys) != 7 {
		t.Fatalf("%d keys after one create and one cancel", len(keys))
	}
	if _, ok := named(keys, "abandoned"); ok {
		t.Fatal("esc wrote a key")
	}
}

func TestSubmitWithBadFieldGoesToIt(t *testing.T) {
	st := sampleBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.press("n")
	h.waitFor(t, "New key")
	h.press("enter") // empty name
	h.waitFor(t, "key name is empty")
	a := h.final(t)
	if f, ok := a.nav.top().(*formView); !ok || f.focus != fName || len(keysIn(t, st)) != 6 {
		t.Fatalf("screen %T keys %d", a.nav.top(), len(keysIn(t, st)))
	}
}

const testSecret = "kd_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn0gZMuH"

func TestRevealCopiesAndForgets(t *testing.T) {
	h := start(t, setup{store: sampleStore()})
	h.waitFor(t, "6 keys")
	h.press("n")
	h.waitFor(t, "New key")
	h.press("deploy bot", "tab", "tab", "right", "right", "tab", "right") // prod, x-api-key
	h.press("enter")
	h.waitFor(t, "Copied to the system clipboard")
	if h.clip.get() != testSecret {
		t.Fatal("system clipboard does not hold the key")
	}
	if want := base64.StdEncoding.EncodeToString([]byte(testSecret)); !strings.Contains(h.osc.String(), "\x1b]52;c;"+want) {
		t.Fatalf("no OSC 52 copy in %q", h.osc.String())
	}
	h.press("esc")
	h.waitFor(t, "7 keys")
	a := h.final(t)
	if a.nav.top() != a.keys {
		t.Fatal("still on the reveal screen")
	}
	if path := findString(reflect.ValueOf(a), testSecret, "app", map[uintptr]bool{}); path != "" {
		t.Fatalf("the key is still in the model at %s", path)
	}
}

func TestRevealGolden(t *testing.T) {
	h := start(t, setup{store: sampleStore(), noSystem: true, clearAfter: 45 * time.Second})
	h.waitFor(t, "6 keys")
	h.press("n")
	h.waitFor(t, "New key")
	h.press("deploy bot", "tab", "tab", "right", "right", "tab", "right", "enter")
	// The copy and the reload after the create land in either order.
	h.waitFor(t, "OSC 52", "7 keys")
	a := h.final(t)
	view := a.View()
	for _, want := range []string{"only time it is shown", `x-api-key: kd_prod_`, "No system clipboard here", "clears what it copied after 45s"} {
		if !strings.Contains(view, want) {
			t.Errorf("reveal lacks %q", want)
		}
	}
	requireGolden(t, a)
}

func TestRevealWarnsOnceWhenNotCopied(t *testing.T) {
	h := start(t, setup{store: sampleStore(), noSystem: true})
	h.app.clip.opt.OSC52 = false
	h.waitFor(t, "6 keys")
	h.press("n")
	h.waitFor(t, "New key")
	h.press("uncopied", "enter")
	h.waitFor(t, "Not copied anywhere")
	h.press("esc")
	h.waitFor(t, "Leave anyway")
	h.press("esc")
	h.waitFor(t, "7 keys")
	if a := h.final(t); a.nav.top() != a.keys {
		t.Fatal("second esc did not leave")
	}
}

// After the timeout the system clipboard is emptied (checked), the
// terminal's copy is overwritten (tmux ignores the OSC 52 clear), and the
// reveal says so instead of still promising a clear.
func TestClipboardClearedAfterTimeout(t *testing.T) {
	h := start(t, setup{store: sampleStore(), clearAfter: time.Second})
	h.waitFor(t, "6 keys")
	h.press("n")
	h.waitFor(t, "New key")
	h.press("first", "enter")
	h.waitFor(t, "Copied to the system clipboard", "clears what it copied after 1s")
	h.waitFor(t, "Cleared the system clipboard", "Asked your terminal to overwrite its clipboard", "earlier copies keyden can't reach")
	if v := *h.rec.last.Load(); strings.Contains(v, "clears what it copied") || strings.Contains(v, "Copied to the system clipboard") {
		t.Fatalf("the reveal still promises a clear after it:\n%s", v)
	}
	if h.clip.get() != "" {
		t.Fatal("the clipboard still holds the key after the timeout")
	}
	osc := h.osc.String()
	key := strings.LastIndex(osc, "\x1b]52;c;"+base64.StdEncoding.EncodeToString([]byte(testSecret)))
	over := strings.LastIndex(osc, "\x1b]52;c;"+base64.StdEncoding.EncodeToString([]byte(clipReplacement)))
	if key < 0 || over < key {
		t.Fatalf("the key was not overwritten through OSC 52: %q", osc)
	}
	// c copies again, and the reveal promises the next clear again; once
	// the reveal is left, the status line says what that clear did.
	h.press("c")
	h.waitFor(t, "Copied to the system clipboard", "clears what it copied after 1s")
	h.press("esc")
	h.waitFor(t, "Cleared the system clipboard; asked the terminal to overwrite its copy", "(unchecked). tmux and clipboard managers may keep earlier copies.")
	if h.clip.get() != "" {
		t.Fatal("the clipboard still holds the key after the second timeout")
	}
}

// The terminal's copy is overwritten in both forms the copy was sent in,
// and the system clipboard is cleared only if it still holds keyden's key.
func TestClipboardClearOverwritesAndLeavesOthersText(t *testing.T) {
	out := &testutil.SyncBuffer{}
	fake := &fakeClipboard{}
	c := newClipboardManager(ClipboardOptions{Out: out, System: true, OSC52: true, InTmux: true})
	c.write, c.read = fake.write, fake.read
	res := c.copy(testSecret)
	if got := c.clear(res.seq); !got.done || !got.system || !got.osc52 || fake.get() != "" {
		t.Fatalf("clear: %+v, clipboard %q", got, fake.get())
	}
	for _, seq := range []string{osc52.New(clipReplacement).String(), osc52.New(clipReplacement).Tmux().String()} {
		if !strings.Contains(out.String(), seq) {
			t.Errorf("no overwrite %q in %q", seq, out.String())
		}
	}
	res = c.copy(testSecret)
	fake.write("the admin's own text")
	if got := c.clear(res.seq); !got.systemOther || got.system || fake.get() != "the admin's own text" {
		t.Fatalf("keyden cleared text it did not put there: %+v, clipboard %q", got, fake.get())
	}
	if got := c.clear(res.seq); got.done {
		t.Fatalf("a second clear of one copy: %+v", got)
	}
	note := c.exitNote()
	if !strings.Contains(note, "may keep") || !strings.Contains(note, "tmux list-buffers") {
		t.Fatalf("exit note %q", note)
	}
	if note := newClipboardManager(ClipboardOptions{}).exitNote(); note != "" {
		t.Fatalf("exit note without a copy: %q", note)
	}
}

// Leaving the reveal, or quitting from it, zeroes the bytes of the key the
// app owns.
func TestLeavingTheRevealZeroesTheKey(t *testing.T) {
	for _, leave := range []tea.Msg{tea.KeyMsg{Type: tea.KeyEsc}, tea.KeyMsg{Type: tea.KeyCtrlC}} {
		a := New(Options{Store: sampleStore(), Clipboard: ClipboardOptions{}})
		a.nav.push(newRevealView(a.sh, model.Key{ID: "k1", Name: "zeroed"}, testSecret, false))
		r, ok := a.nav.top().(*revealView)
		if !ok || string(r.secret) != testSecret {
			t.Fatal("no reveal of the key")
		}
		owned := r.secret
		a.Update(leave)
		if a.nav.top() != a.keys || strings.Trim(string(owned), "\x00") != "" {
			t.Fatalf("after %T the app's copy of the key is %q", leave, owned)
		}
	}
}

func TestQuitClearsClipboard(t *testing.T) {
	h := start(t, setup{store: sampleStore()})
	h.waitFor(t, "6 keys")
	h.press("n")
	h.waitFor(t, "New key")
	h.press("quitter", "enter")
	h.waitFor(t, "Copied to the system clipboard")
	h.press("ctrl+c")
	h.tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	if h.clip.get() != "" {
		t.Fatal("quitting left the key on the clipboard")
	}
}

func TestDeleteProdKeyNeedsItsName(t *testing.T) {
	st := sampleBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.press("d") // the first row by last used: web checkout, prod
	h.waitFor(t, "to confirm:")
	h.press("right", "enter")
	h.waitFor(t, "Type the key's name exactly")
	h.press("web checkout", "enter")
	h.waitFor(t, "Deleted web checkout")
	h.final(t)
	if _, ok := named(keysIn(t, st), "web checkout"); ok {
		t.Fatal("not deleted")
	}
}

func TestConfirmDefaultsToNo(t *testing.T) {
	h := start(t, setup{store: sampleStore()})
	h.waitFor(t, "6 keys")
	h.press("/", "ios", "enter", "d")
	h.waitFor(t, "Delete this key?")
	a := h.final(t)
	requireGolden(t, a)
	// Enter on the default answer keeps the key.
	st := sampleBolt(t)
	h2 := start(t, setup{store: st})
	h2.waitFor(t, "6 keys")
	h2.press("/", "ios", "enter", "d")
	h2.waitFor(t, "Delete this key?")
	h2.press("enter")
	h2.waitFor(t, "6 keys")
	h2.final(t)
	if len(keysIn(t, st)) != 6 {
		t.Fatal("enter on the default answer deleted a key")
	}
}

func TestProdConfirmGolden(t *testing.T) {
	h := start(t, setup{store: sampleStore()})
	h.waitFor(t, "6 keys")
	h.press("d")
	h.waitFor(t, "to confirm:")
	requireGolden(t, h.final(t))
}

func TestDetailsGolden(t *testing.T) {
	h := start(t, setup{store: sampleStore()})
	h.waitFor(t, "6 keys")
	h.press("/", "billing", "enter", "enter")
	h.waitFor(t, "Allowed IPs")
	a := h.final(t)
	if !strings.Contains(a.View(), "expiring") || !strings.Contains(a.View(), "billing:read, billing:write") {
		t.Fatal("details lack health or scopes")
	}
	requireGolden(t, a)
}

func TestCatalogGolden(t *testing.T) {
	st := sampleStore()
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.press("e")
	h.waitFor(t, "Environments")
	h.press("a", "qa", "enter")
	h.waitFor(t, "Added environment qa")
	h.press("tab", "x", "y")
	h.waitFor(t, "is used by keys")
	a := h.final(t)
	if len(st.channels) != 2 || len(st.envs) != 4 {
		t.Fatalf("channels %d envs %d", len(st.channels), len(st.envs))
	}
	requireGolden(t, a)
}

func TestHelpListsEveryBinding(t *testing.T) {
	h := start(t, setup{store: sampleStore()})
	h.waitFor(t, "6 keys")
	h.press("?")
	h.waitFor(t, "Key bindings")
	a := h.final(t)
	for _, b := range []string{"new key", "details", "delete", "filter", "sort", "channel", "next env", "page down", "top", "bottom", "quit", "review stale", "envs & channels"} {
		if !strings.Contains(a.View(), b) {
			t.Errorf("help lacks %q", b)
		}
	}
	requireGolden(t, a)
}

func TestResizeKeepsLayout(t *testing.T) {
	h := start(t, setup{store: sampleStore()})
	h.waitFor(t, "6 keys")
	for _, size := range [][2]int{{250, 60}, {60, 15}, {80, 24}, {40, 10}} {
		h.tm.Send(tea.WindowSizeMsg{Width: size[0], Height: size[1]})
	}
	h.tm.Send(tea.WindowSizeMsg{Width: 100, Height: 30})
	a := h.final(t)
	lines := strings.Split(a.View(), "\n")
	if len(lines) != 30 {
		t.Fatalf("%d lines at height 30", len(lines))
	}
	for i, l := range lines {
		if w := lipgloss.Width(l); w > 100 {
			t.Fatalf("line %d is %d wide at width 100: %q", i, w, l)
		}
	}
}

func TestEveryViewFitsTheScreen(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {250, 60}} {
		// Each key, and a text its view shows once it is drawn.
		for _, keys := range [][2]string{{"", "6 keys"}, {"n", "New key"}, {"d", "to confirm:"}, {"enter", "Allowed IPs"}, {"e", "Environments"}, {"?", "Key bindings"}} {
			h := start(t, setup{store: sampleStore(), w: size[0], h: size[1]})
			h.waitFor(t, "6 keys")
			h.press(keys[0])
			h.waitFor(t, keys[1])
			a := h.final(t)
			lines := strings.Split(a.View(), "\n")
			if len(lines) != size[1] {
				t.Errorf("%v after %v: %d lines", size, keys, len(lines))
			}
			for i, l := range lines {
				if w := lipgloss.Width(l); w > size[0] {
					t.Errorf("%v after %v: line %d is %d wide", size, keys, i, w)
				}
			}
		}
	}
}

func TestBusyStoreShowsMessageAndStaysResponsive(t *testing.T) {
	st := &busyStore{Bolt: sampleBolt(t)}
	h := start(t, setup{store: st, poll: 50 * time.Millisecond})
	h.waitFor(t, "6 keys")
	st.busy.Store(true)
	h.waitFor(t, "busy")
	h.press("down", "down")
	h.waitFor(t, "▸partner feed")
	fresh, _ := named(keysIn(t, st), "fresh key")
	if _, err := st.DeleteKey(context.Background(), fresh.ID); err != nil {
		t.Fatal(err)
	}
	st.busy.Store(false)
	h.waitFor(t, "5 keys")
	h.final(t)
}

// The table follows changes made by another process within 2 s, without a keypress.
func TestLiveReloadFromAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	mine, err := storage.OpenBolt(path, storage.Options{Actor: "alice", Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	first, err := mine.CreateKey(context.Background(), storage.CreateRequest{Name: "first", Channel: "default", Environment: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	firstSecret := first.Secret
	h := start(t, setup{store: mine})
	h.waitFor(t, "1 key · ")
	other, _ := storage.OpenBolt(path, storage.Options{Actor: "alice", Now: func() time.Time { return testNow }})
	start := time.Now()
	if _, err := other.CreateKey(context.Background(), storage.CreateRequest{Name: "from a shell", Channel: "default", Environment: "dev"}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, "from a shell")
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("took %v to show", d)
	}
	// A use from a shell (last-used news only) shows within 2 s too.
	start = time.Now()
	if res, err := other.Verify(context.Background(), storage.VerifyRequest{Secret: firstSecret}); err != nil || !res.OK {
		t.Fatal(res, err)
	}
	h.waitFor(t, "just now")
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("a use took %v to show", d)
	}
	// A delete from a shell takes the key away.
	if _, err := other.DeleteKey(context.Background(), first.Key.ID); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, "1 key · ")
	// All of it came through the change feed: one snapshot at start, then patches.
	a := h.final(t)
	if full, patched := h.rec.full.Load(), h.rec.patched.Load(); full != 1 || patched < 3 {
		t.Fatalf("loads: %d full, %d patched; want 1 full and a patch per change", full, patched)
	}
	if _, ok := a.keys.set.Lookup(first.Key.ID); ok || a.keys.set.Count() != 1 {
		t.Fatalf("the deleted key is still there: %d keys", a.keys.set.Count())
	}
}

// findString walks v for a string containing s and returns where it is.
func findString(v reflect.Value, s, path string, seen map[uintptr]bool) string {
	switch v.Kind() {
	case reflect.String:
		if strings.Contains(v.String(), s) {
			return path
		}
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		if v.Kind() == reflect.Pointer {
			if seen[v.Pointer()] {
				return ""
			}
			seen[v.Pointer()] = true
		}
		return findString(v.Elem(), s, path, seen)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if p := findString(v.Field(i), s, path+"."+v.Type().Field(i).Name, seen); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			if bytes.Contains(v.Bytes(), []byte(s)) {
				return path
			}
			return ""
		}
		for i := 0; i < v.Len(); i++ {
			if p := findString(v.Index(i), s, path+"[]", seen); p != "" {
				return p
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if p := findString(it.Value(), s, path+"{}", seen); p != "" {
				return p
			}
		}
	}
	return ""
}

func TestColoursAdaptToBackground(t *testing.T) {
	defer lipgloss.SetColorProfile(termenv.Ascii)
	defer lipgloss.SetHasDarkBackground(true)
	lipgloss.SetColorProfile(termenv.TrueColor)
	lipgloss.SetHasDarkBackground(true)
	dark := DefaultStyles().Title.Render("keyden")
	lipgloss.SetHasDarkBackground(false)
	light := DefaultStyles().Title.Render("keyden")
	if dark == light || !strings.Contains(dark, "\x1b[") {
		t.Fatalf("same title on dark and light: %q %q", dark, light)
	}
	lipgloss.SetColorProfile(termenv.Ascii)
	if plain := DefaultStyles(); !plain.NoColor || strings.Contains(plain.Title.Render("keyden"), "\x1b[") {
		t.Fatal("NO_COLOR still draws colour")
	}
}

func TestRotateInTheTUI(t *testing.T) {
	rotate := func(st storage.Store, id string) *App {
		h := start(t, setup{store: st})
		h.waitFor(t, "6 keys")
		h.press("R") // web checkout, prod
		h.waitFor(t, "A new key replaces it")
		h.press("down") // grace 3d
		h.waitFor(t, "[3d]")
		h.press("web checkout", "right", "enter")
		h.waitFor(t, "Replaces "+id, "Copied to the system clipboard")
		a := h.final(t)
		if !strings.Contains(a.View(), "Your new key") {
			t.Fatal("no reveal after rotating")
		}
		return a
	}
	requireGolden(t, rotate(sampleStore(), "k0000001"))
	st := sampleBolt(t)
	before, _ := named(keysIn(t, st), "web checkout")
	rotate(st, before.ID)
	old, err := st.GetKey(context.Background(), before.ID)
	if err != nil || old.RotatedTo == "" || !old.ExpiresAt.Equal(testNow.Add(72*time.Hour)) {
		t.Fatalf("old key after rotation: %+v %v", old, err)
	}
}

func TestDisableToggle(t *testing.T) {
	st := sampleBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.press("x")
	h.waitFor(t, "Disabled web checkout")
	h.waitFor(t, "disabled ")
	h.press("x")
	h.waitFor(t, "Enabled web checkout")
	h.final(t)
	if k, _ := named(keysIn(t, st), "web checkout"); k.Disabled {
		t.Fatal("still disabled")
	}
}

func TestAdminCannotTouchOthersKeys(t *testing.T) {
	st := sampleBolt(t) // every key made by alice
	h := start(t, setup{store: as(t, st, "bob"), actor: "bob"})
	h.waitFor(t, "6 keys")
	if strings.Contains(*h.rec.last.Load(), "d delete") {
		t.Fatal("the help offers delete on a key bob may not delete")
	}
	for _, k := range []string{"d", "R", "x"} {
		h.press(k)
		h.waitFor(t, "bob is an admin and may")
		h.waitFor(t, "ask alice (who created it, a super admin)")
	}
	a := h.final(t)
	keys := keysIn(t, st)
	if k, _ := named(keys, "web checkout"); a.nav.top() != a.keys || len(keys) != 6 || k.Disabled {
		t.Fatal("an admin changed another's key")
	}
}

func TestNonMemberIsToldWhoToAsk(t *testing.T) {
	h := start(t, setup{store: as(t, sampleBolt(t), "eve"), actor: "eve"})
	h.waitFor(t, "6 keys")
	h.press("n")
	h.waitFor(t, "eve is not a member of this key store: ask the super admin alice")
	if a := h.final(t); a.nav.top() != a.keys {
		t.Fatal("a non-member got the form")
	}
}

func TestAuditView(t *testing.T) {
	st := sampleStore()
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.press("n")
	h.waitFor(t, "New key")
	h.press("audited key", "enter")
	h.waitFor(t, "Your new key")
	h.press("esc", "a")
	h.waitFor(t, "Audit log")
	h.waitFor(t, "audited key")
	h.press("/", "nothing-like-this")
	h.waitFor(t, "No events match")
	h.press("esc")
	h.waitFor(t, "1 of 1 event ", "7 keys")
	requireGolden(t, h.final(t))
}

func TestQuickFiltersForReview(t *testing.T) {
	h := start(t, setup{store: sampleStore()})
	h.waitFor(t, "6 keys")
	h.press("r")
	h.waitFor(t, "review: unused 90d+")
	a := h.final(t)
	var names []string
	for _, r := range a.keys.rows {
		names = append(names, a.keys.rowsOf.Key(r).Name)
	}
	// partner feed (used 120d ago), old export (300d); ios build was made 30d ago.
	if strings.Join(names, ",") != "partner feed,old export" {
		t.Fatalf("unused 90d+: %v", names)
	}
}

func TestWrapWordsKeepsFlagsWhole(t *testing.T) {
	got := wrapWords("ask alice to run `keyden member add root --role admin` now", 38)
	for _, l := range got {
		if strings.HasPrefix(l, "role") || strings.HasSuffix(l, "-") || lipgloss.Width(l) > 38 {
			t.Fatalf("bad wrap: %q", got)
		}
	}
	if strings.Join(got, " ") != "ask alice to run `keyden member add root --role admin` now" {
		t.Fatalf("words lost: %q", got)
	}
}

// A clipboard tool's error reaches the reveal harmless.
func TestRevealShowsToolErrorsHarmless(t *testing.T) {
	st := DefaultStyles()
	r := newRevealView(&shared{st: &st}, model.Key{Name: "x"}, testSecret, false)
	r.Update(copiedMsg{res: copyResult{osc52: true, systemErr: "xclip: \x1b]0;pwned\x07", seq: 1}})
	r.cleared = clearResult{done: true, systemErr: "xclip: \x1b]0;pwned\x07", seq: 1}
	if v := r.View(); strings.Contains(v, "\x1b") {
		t.Fatalf("raw ESC in the reveal: %q", v)
	}
}
