package tui

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"keyden/internal/testutil"
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
	// failWith, when set, is the error every write gives.
	failWith string
}

func (f *fakeClipboard) write(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWith != "" {
		return errorf("%s", f.failWith)
	}
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
	wait       time.Duration // for the verifiers (Options.VerifierWait)
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
		Now: func() time.Time { return testNow }, PollEvery: s.poll, VerifierWait: s.wait,
		Clipboard: ClipboardOptions{Out: h.osc, System: true, OSC52: true, ClearAfter: s.clearAfter}})
	h.app.clip.write, h.app.clip.read = h.clip.write, h.clip.read
	h.rec = &recorder{App: h.app}
	h.tm = teatest.NewTestModel(t, h.rec, teatest.WithInitialTermSize(s.w, s.h))
	// The program's commands outlive it (Bubble Tea never waits for them):
	// a load still running would recreate the store file while the test's
	// folder is removed. Closing the store waits for it and refuses later
	// ones; this runs before the folder's removal, which was set up first.
	t.Cleanup(func() {
		h.tm.Quit()
		if c, ok := s.store.(interface{ Close() error }); ok {
			c.Close()
		}
	})
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
// newKey opens the create form and types keys into it.
func (h *harness) newKey(t *testing.T, keys ...string) {
	t.Helper()
	h.press("n")
	h.waitFor(t, "New key")
	h.press(keys...)
}

func (h *harness) final(t *testing.T) *App {
	t.Helper()
	h.tm.Quit()
	return h.tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(*recorder).App
}

// requireGolden compares the frame as text: the one attribute drawn
// without colour, the text cursor's reverse video, is left out.
func requireGolden(t *testing.T, a *App) {
	t.Helper()
	golden.RequireEqual(t, []byte(ansi.Strip(a.View())))
}

func TestKeysTableGolden(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
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
	h := start(t, setup{store: sampleBolt(t), w: 250, h: 60})
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
	h := start(t, setup{store: emptyBolt(t)})
	h.waitFor(t, "No keys yet")
	a := h.final(t)
	if !strings.Contains(a.View(), "Press n to create") {
		t.Fatal("empty store does not say what to press")
	}
	if strings.Contains(a.View(), "hint, created") {
		t.Error("an empty store's footer names hidden columns of no rows")
	}
	requireGolden(t, a)
}

func TestFilterSortAndTabs(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
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
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.press("c", "down", "down", "enter")
	h.waitFor(t, "channel: mobile-app")
	a := h.final(t)
	if len(a.keys.rows) != 2 {
		t.Fatalf("%d rows for mobile-app", len(a.keys.rows))
	}
}

func TestCreateFormValidatesAsYouType(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.newKey(t, "deploy bot", "tab", "tab", "tab", "tab", "Posts")
	h.waitFor(t, "is not allowed")
	a := h.final(t)
	requireGolden(t, a)
}

func TestCreateFormEscWritesNothing(t *testing.T) {
	st := sampleBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.newKey(t, "never made", "enter")
	h.waitFor(t, "Your new key")
	h.press("esc")
	h.newKey(t, "abandoned", "esc")
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
	h.newKey(t, "enter") // empty name
	h.waitFor(t, "key name is empty")
	a := h.final(t)
	if f, ok := a.nav.top().(*formView); !ok || f.focus != fName || len(keysIn(t, st)) != 6 {
		t.Fatalf("screen %T keys %d", a.nav.top(), len(keysIn(t, st)))
	}
}

func TestProdConfirmGolden(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.press("d")
	h.waitFor(t, "to confirm:")
	requireGolden(t, h.final(t))
}

func TestDetailsGolden(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.press("/", "billing", "enter", "enter")
	h.waitFor(t, "Allowed IPs", "1 event")
	a := h.final(t)
	if !strings.Contains(a.View(), "expiring") || !strings.Contains(a.View(), "billing:read, billing:write") {
		t.Fatal("details lack health or scopes")
	}
	requireGolden(t, a)
}

func TestCatalogGolden(t *testing.T) {
	st := sampleBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.press("e")
	h.waitFor(t, "Environments")
	h.press("a", "qa", "enter")
	h.waitFor(t, "Added environment qa")
	h.press("tab", "x", "y")
	h.waitFor(t, "is used by 4 keys: `keyden move` or delete them first")
	a := h.final(t)
	chans, _ := st.Channels(context.Background())
	envs, _ := st.Environments(context.Background())
	if len(chans) != 2 || len(envs) != 4 {
		t.Fatalf("channels %d envs %d", len(chans), len(envs))
	}
	requireGolden(t, a)
}

func TestHelpListsEveryBinding(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
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
	h := start(t, setup{store: sampleBolt(t)})
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
			h := start(t, setup{store: sampleBolt(t), w: size[0], h: size[1]})
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

func TestAuditView(t *testing.T) {
	st := sampleBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.newKey(t, "audited key", "enter")
	h.waitFor(t, "Your new key")
	h.press("esc", "a")
	h.waitFor(t, "Audit log")
	h.waitFor(t, "audited key")
	h.press("/", "nothing-like-this")
	h.waitFor(t, "No events match")
	h.press("esc")
	h.waitFor(t, "10 events · 1/10") // the store's init, member-add, channel-add and 7 creates
	requireGolden(t, h.final(t))
}

func TestQuickFiltersForReview(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.press("r")
	h.waitFor(t, "/ used:>90d")
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

// The harness closes the app's store when a test ends, before the test's
// folder is removed: a load that the quit program left running recreated
// the file there, and the folder's removal failed ("directory not empty",
// TestDisableToggle on a loaded machine).
func TestHarnessClosesTheStoreWhenTheTestEnds(t *testing.T) {
	var st *storage.Bolt
	t.Run("app", func(t *testing.T) {
		st = sampleBolt(t)
		h := start(t, setup{store: st})
		h.waitFor(t, "6 keys")
		h.final(t)
	})
	if _, err := st.ListKeys(context.Background(), storage.Filter{}); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("the store still answers after its test: %v", err)
	}
}
