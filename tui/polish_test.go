package tui

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/ansi"

	"keyden/format"
	"keyden/model"
	"keyden/storage"
)

// sizes are the terminals every screen is drawn for: the smallest keyden
// supports, the classic one, and a wide one.
var sizes = []struct{ w, h int }{{40, 12}, {80, 24}, {250, 60}}

// screenVisits open each screen keyden draws over the keys table, and wait
// until it shows all it will (loads and copies done).
var screenVisits = []struct {
	name  string
	visit func(t *testing.T, h *harness)
}{
	{"details", func(t *testing.T, h *harness) {
		h.press("/", "billing", "enter", "enter")
		h.waitFor(t, "1 event")
	}},
	{"confirm", func(t *testing.T, h *harness) { h.press("d"); h.waitFor(t, "Delete this key?") }},
	{"form", func(t *testing.T, h *harness) { h.press("n"); h.waitFor(t, "New key") }},
	{"reveal", func(t *testing.T, h *harness) {
		h.newKey(t, "deploy bot", "enter")
		h.waitFor(t, "Your new key")
		// On a short screen the clipboard lines are below: scroll to them.
		h.press("down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down", "down")
		h.waitFor(t, "Copied to the system clipboard")
	}},
	{"audit", func(t *testing.T, h *harness) { h.press("a"); h.waitFor(t, "9 events") }},
	{"event", func(t *testing.T, h *harness) {
		h.press("a")
		h.waitFor(t, "9 events")
		h.press("enter")
		h.waitFor(t, "Audit event")
	}},
	{"catalog", func(t *testing.T, h *harness) { h.press("e"); h.waitFor(t, "3 envs") }},
}

// Every screen over the keys table fits every size from 40×12 up: the
// frame has the terminal's lines, none wider than it, and every box is
// whole (each corner with its partner, each row with both borders). On the
// old code the details box ran off a 40-column screen and the form and
// confirm lost their bottoms.
func TestScreensFitEverySize(t *testing.T) {
	for _, sc := range screenVisits {
		for _, sz := range sizes {
			t.Run(fmt.Sprintf("%s/%dx%d", sc.name, sz.w, sz.h), func(t *testing.T) {
				h := start(t, setup{store: sampleBolt(t), w: sz.w, h: sz.h})
				h.waitFor(t, "6 keys")
				sc.visit(t, h)
				a := h.final(t)
				checkFrame(t, ansi.Strip(a.View()), sz.w, sz.h)
				requireGolden(t, a)
			})
		}
	}
}

func checkFrame(t *testing.T, frame string, w, h int) {
	t.Helper()
	lines := strings.Split(frame, "\n")
	if len(lines) != h {
		t.Errorf("%d lines on a %d-line screen:\n%s", len(lines), h, frame)
	}
	tops, bottoms := 0, 0
	for i, l := range lines {
		if n := format.Cells(l); n > w {
			t.Errorf("line %d is %d cells on a %d-cell screen: %q", i, n, w, l)
		}
		if strings.Count(l, "╭") != strings.Count(l, "╮") || strings.Count(l, "╰") != strings.Count(l, "╯") || strings.Count(l, "│")%2 != 0 {
			t.Errorf("line %d cuts a box: %q\n%s", i, l, frame)
		}
		tops += strings.Count(l, "╭")
		bottoms += strings.Count(l, "╰")
	}
	if tops != bottoms {
		t.Errorf("%d boxes open, %d close:\n%s", tops, bottoms, frame)
	}
}

// At 80 columns and at 40 the help bar shows whole bindings, the most
// important first, and ends with ? for the rest: never a binding cut or an
// ellipsis. On the old code the keys screen's bar ended "q quit …" and
// the others had no ? at all.
func TestHelpBarShowsWholeBindings(t *testing.T) {
	visits := append([]struct {
		name  string
		visit func(t *testing.T, h *harness)
	}{{"keys", func(t *testing.T, h *harness) {}}}, screenVisits...)
	for _, sc := range visits {
		for _, w := range []int{40, 80} {
			t.Run(fmt.Sprintf("%s/%d", sc.name, w), func(t *testing.T) {
				h := start(t, setup{store: sampleBolt(t), w: w, h: 24})
				h.waitFor(t, "6 keys")
				sc.visit(t, h)
				a := h.final(t)
				lines := strings.Split(ansi.Strip(a.View()), "\n")
				bar := strings.TrimSpace(lines[len(lines)-1])
				// Where letters are text (the form, a confirm by name) ? is
				// text too: the bar shows what fits, the answer first.
				typing := a.nav.top().Typing()
				if strings.Contains(bar, "…") || !typing && !(strings.HasSuffix(bar, "? help") || strings.HasSuffix(bar, "? more")) {
					t.Fatalf("help bar %q", bar)
				}
				if typing && !strings.HasPrefix(bar, "enter ") {
					t.Fatalf("help bar %q does not start with what enter does", bar)
				}
				for _, item := range strings.Split(bar, " • ") {
					if k, desc, ok := strings.Cut(item, " "); !ok || k == "" || desc == "" {
						t.Fatalf("help bar %q has a cut binding %q", bar, item)
					}
				}
			})
		}
	}
	if testing.Short() {
		return
	}
	// The keys screen puts next env within the first 80 columns (issue 16).
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "tab/→ next env")
	h.final(t)
}

// While a text field has the keys, the help bar names what they do there,
// not the bindings of the screen under it.
func TestTypingShowsTheFieldsHelp(t *testing.T) {
	for _, c := range []struct{ name, keys, wait string }{
		{"keys filter", "/", "/ "},
		{"audit filter", "a/", "Audit log"},
		{"catalog add", "ea", "Add environment"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := start(t, setup{store: sampleBolt(t)})
			h.waitFor(t, "6 keys")
			h.press(c.keys)
			h.waitFor(t, c.wait, "enter done • esc cancel")
			a := h.final(t)
			lines := strings.Split(ansi.Strip(a.View()), "\n")
			bar := lines[len(lines)-1]
			for _, table := range []string{"n new key", "a add", "enter event", "/ filter", "?"} {
				if strings.Contains(bar, table) {
					t.Fatalf("typing, the help bar offers %q: %q", table, bar)
				}
			}
		})
	}
}

// Details offer every action that applies: x disables and enables (the
// key's events grow as it does), R on a disabled key refuses before any
// confirm, R on an enabled one asks, and d asks to delete. The old details
// knew only d.
func TestDetailsOfferEveryAction(t *testing.T) {
	st := sampleBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.press("/", "ios", "enter", "enter") // ios build, dev
	h.waitFor(t, "Audit events", "1 event")
	h.press("x")
	h.waitFor(t, "Disabled ios build", "Status       disabled", "alice  disable")
	h.press("R")
	h.waitFor(t, "This key is disabled: enable it with x before rotating it.")
	h.press("x")
	h.waitFor(t, "Enabled ios build", "Status       unused", "alice  enable")
	h.press("R")
	h.waitFor(t, "Rotate this key?")
	h.press("esc", "d")
	h.waitFor(t, "Delete this key?")
	h.press("y")
	h.waitFor(t, "Deleted ios build")
	h.final(t)
	if _, ok := named(keysIn(t, st), "ios build"); ok {
		t.Fatal("d in details did not delete")
	}
}

// A rotated key's details link both ways: enter on "Replaced by" opens the
// new key, enter on its "Replaces" the old one again, and esc goes back
// through them.
func TestDetailsFollowTheRotationLinks(t *testing.T) {
	st := sampleBolt(t)
	old, _ := named(keysIn(t, st), "ios build")
	r, err := st.RotateKey(context.Background(), storage.RotateRequest{ID: old.ID})
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, setup{store: st})
	h.waitFor(t, "7 keys")
	// Both are named ios build: open the first row's details, whichever
	// it is, and follow its link to the other and back.
	h.press("/", "ios", "enter", "enter")
	h.waitFor(t, "Audit events")
	first, other, label, back := old.ID, r.New.Key.ID, "▸Replaced by", "▸Replaces"
	if strings.Contains(*h.rec.last.Load(), "ID           "+r.New.Key.ID) {
		first, other, label, back = other, first, back, label
	}
	h.waitFor(t, "ID           "+first, label, other+"  (enter)")
	h.press("enter")
	h.waitFor(t, "ID           "+other, back, first+"  (enter)")
	h.press("enter")
	h.waitFor(t, "ID           "+first)
	h.press("esc")
	h.waitFor(t, "ID           "+other)
	h.press("esc")
	h.waitFor(t, "ID           "+first)
	h.press("esc")
	h.waitFor(t, "7 keys")
	h.final(t)
}

// Rotating a disabled key from the table is refused before the confirm
// opens, as for a key already replaced; the old code asked first and the
// store refused after the answer.
func TestRotateOfADisabledKeyIsRefusedBeforeAsking(t *testing.T) {
	st := sampleBolt(t)
	k, _ := named(keysIn(t, st), "web checkout")
	if _, err := st.SetDisabled(context.Background(), k.ID, true); err != nil {
		t.Fatal(err)
	}
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.press("/", "web", "enter", "R")
	h.waitFor(t, "This key is disabled: enable it with x before rotating it.")
	if a := h.final(t); a.nav.top() != a.keys {
		t.Fatalf("a confirm opened: %T", a.nav.top())
	}
}

// Typing a prod key's name is the answer: enter then deletes, where the
// old confirm, still on [ No ], cancelled without a word. A wrong name and
// enter says so and stays; y outside a typed confirm is in the help bar.
func TestProdDeleteAnswersWithTheTypedName(t *testing.T) {
	st := sampleBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.press("/", "web", "enter", "d")
	h.waitFor(t, "to confirm:")
	h.press("web checkou", "enter")
	h.waitFor(t, "Type the key's name exactly to confirm.")
	h.press("t")
	h.waitFor(t, "[ Yes, delete ]")
	h.press("enter")
	h.waitFor(t, "Deleted web checkout")
	h.press("esc", "/", "ios", "enter", "d")
	h.waitFor(t, "Delete this key?", "y yes • n no")
	h.press("esc")
	h.final(t)
	if _, ok := named(keysIn(t, st), "web checkout"); ok {
		t.Fatal("typing the name and enter did not delete")
	}
}

// A click selects a row or an environment tab, and the wheel moves
// through the rows, on the keys table and in the audit log (the old app
// ignored the mouse).
func TestMouseSelectsAndScrolls(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	click := func(x, y int) {
		h.tm.Send(tea.MouseMsg{X: x, Y: y, Action: tea.MouseActionPress, Button: tea.MouseButtonLeft})
	}
	spin := func(b tea.MouseButton) { h.tm.Send(tea.MouseMsg{X: 5, Y: 6, Action: tea.MouseActionPress, Button: b}) }
	// Title line, tabs, blank, header: the third row is at line 6.
	click(5, 6)
	h.waitFor(t, "3/6")
	spin(tea.MouseButtonWheelDown)
	h.waitFor(t, "6/6")
	spin(tea.MouseButtonWheelUp)
	h.waitFor(t, "3/6")
	// The tabs: " All  dev  staging  prod" from column 1.
	click(16, 1)
	h.waitFor(t, "2 shown")
	h.press("a")
	h.waitFor(t, "9 events · 1/9")
	click(5, 5) // the audit log's second row
	h.waitFor(t, "9 events · 2/9")
	spin(tea.MouseButtonWheelDown)
	h.waitFor(t, "9 events · 5/9")
	a := h.final(t)
	if a.keys.q.Env != "staging" {
		t.Fatalf("the tab clicked gave env %q", a.keys.q.Env)
	}
}

// Esc and a key read together arrive as alt+key (Bubble Tea v1 has no
// escape timeout): keyden takes them as esc, then the key. The old app
// dropped both.
func TestEscThenAKeyIsNotAltKey(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.press("enter")
	h.waitFor(t, "Audit events")
	h.tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("e"), Alt: true})
	h.waitFor(t, "Environments")
	a := h.final(t)
	if _, ok := a.nav.top().(*catalogView); !ok || len(a.nav.stack) != 2 {
		t.Fatalf("esc e from details: %T, %d deep", a.nav.top(), len(a.nav.stack))
	}
}

// Esc pressed twice in one read (quickly, over a slow link, a held key)
// arrives as alt+esc: keyden takes it as esc, esc. Both were dropped, so
// a user leaving a screen in a hurry stayed where they were.
func TestEscEscIsTwoEscs(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.press("/", "web", "enter", "enter")
	h.waitFor(t, "Audit events")
	h.tm.Send(tea.KeyMsg{Type: tea.KeyEsc, Alt: true})
	h.waitFor(t, "6 keys · 1/6")
	a := h.final(t)
	if len(a.nav.stack) != 1 || a.keys.q.Text != "" {
		t.Fatalf("esc esc from a filtered key's details: %d deep, filter %q", len(a.nav.stack), a.keys.q.Text)
	}
}

// The words keyden shows agree: details say "ok" as the table does (not
// "active"); a refusal starting with a common word starts with a capital,
// one starting with a user name keeps it; an environment tab with no keys
// says so instead of offering to clear a filter that is not set.
func TestWordsAgree(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.press("/", "web", "enter", "enter")
	h.waitFor(t, "Status       ok")
	h.final(t)

	if got := sentenceCase("the key name is empty"); got != "The key name is empty" {
		t.Errorf("sentenceCase: %q", got)
	}
	if got := sentenceCase("bob is an admin"); got != "bob is an admin" {
		t.Errorf("sentenceCase of a name: %q", got)
	}

	st := sampleBolt(t)
	if _, err := st.AddEnvironment(context.Background(), model.Environment{Name: "qa", Tag: "qa"}); err != nil {
		t.Fatal(err)
	}
	h = start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.press("shift+tab") // qa, the last tab
	h.waitFor(t, "No keys in qa yet.")
	if v := *h.rec.last.Load(); strings.Contains(v, "clear the filter") {
		t.Fatalf("an empty tab offers to clear a filter:\n%s", v)
	}
	h.final(t)
}

// Where xclip is there but no display is, the tool says only "exit status
// 1": the reveal says what that means.
func TestClipboardWithoutADisplaySaysSo(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t), noSystem: true})
	h.clip.failWith = "exit status 1"
	h.waitFor(t, "6 keys")
	h.newKey(t, "no display", "enter")
	h.waitFor(t, "No system clipboard here (no display to copy to, as usual over SSH).")
	h.final(t)
}

// With NO_COLOR (the tests' profile) a text field's cursor is still drawn,
// in reverse video; the old form drew nothing where the cursor was.
func TestCursorShowsWithoutColour(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.newKey(t, "ab")
	h.waitFor(t, "ab")
	a := h.final(t)
	if v := a.View(); !strings.Contains(v, "\x1b[7m") {
		t.Fatalf("no cursor in the form:\n%q", v)
	}
}

// At 80 columns the key stands whole on a line of its own, and the curl
// example breaks at spaces with shell continuations, never inside the key;
// c copies again and says so.
func TestRevealKeepsTheKeyWhole(t *testing.T) {
	st := sampleBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.newKey(t, "whole key", "enter")
	h.waitFor(t, "Copied to the system clipboard")
	secret := h.clip.get()
	h.press("c")
	h.waitFor(t, "Copied the key again (copy 2).")
	a := h.final(t)
	var onItsOwn, inCurl bool
	for _, l := range strings.Split(ansi.Strip(a.View()), "\n") {
		l = strings.Trim(l, " │")
		onItsOwn = onItsOwn || l == secret
		inCurl = inCurl || l == secret+`" \`
	}
	if !onItsOwn || !inCurl {
		t.Fatalf("the key is not whole on its lines:\n%s", a.View())
	}
}

// Details draw the key's uses per day over the last 30 days, a cell a day,
// today on the right, with their sum: billing sync was used 12 times
// three days ago.
func TestDetailsShowUsesPerDay(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.press("/", "billing", "enter", "enter")
	h.waitFor(t, "Last 30 days ▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁▁█▁▁▁  12 uses")
	h.final(t)
}

// Removing a channel that keys use names the way out: keyden move, or delete.
func TestChannelRemoveNamesMove(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.press("e")
	h.waitFor(t, "Environments")
	h.press("tab", "x")
	h.waitFor(t, "moved to another channel (keyden move ID… --channel C) or deleted")
	h.final(t)
}

// At 40×12 the ? screen lists every binding in one column that scrolls;
// the old one showed the first of three columns and cut the rest with "…".
func TestHelpScreenFitsASmallTerminal(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t), w: 40, h: 12})
	h.waitFor(t, "6 keys")
	h.press("?")
	h.waitFor(t, "↑/↓ scroll, other keys close")
	for range 30 {
		h.press("down")
	}
	h.waitFor(t, "review stale") // in the last group, which the old screen cut
	a := h.final(t)
	checkFrame(t, ansi.Strip(a.View()), 40, 12)
	if v := ansi.Strip(a.View()); strings.Contains(v, "…") {
		t.Fatalf("the help is cut:\n%s", v)
	}
}

// clickOn clicks the first cell of text where the last frame shows it.
func (h *harness) clickOn(t *testing.T, text string) {
	t.Helper()
	for y, l := range strings.Split(ansi.Strip(*h.rec.last.Load()), "\n") {
		if i := strings.Index(l, text); i >= 0 {
			h.tm.Send(tea.MouseMsg{X: format.Cells(l[:i]), Y: y, Action: tea.MouseActionPress, Button: tea.MouseButtonLeft})
			return
		}
	}
	t.Fatalf("no %q on screen", text)
}

// In the catalog a click picks a panel and its row, or on a short screen
// a panel's name: x then removes what was clicked.
func TestCatalogClicks(t *testing.T) {
	for _, sz := range []struct{ w, h int }{{80, 24}, {250, 60}, {40, 12}} {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			h := start(t, setup{store: sampleBolt(t), w: sz.w, h: sz.h})
			h.waitFor(t, "6 keys")
			h.press("e")
			h.waitFor(t, "3 envs")
			if sz.h == 12 {
				h.clickOn(t, "Channels")
				h.waitFor(t, "[Channels]")
			}
			h.clickOn(t, "mobile-app")
			h.waitFor(t, "▸ mobile-app")
			h.press("x")
			h.waitFor(t, "Remove the channel mobile-app?")
			h.final(t)
		})
	}
}

// One marked key, refused by the store (bob's own key, disabled, cannot
// be rotated): the summary counts "1 key", not "1 keys".
func TestBulkSummaryCountsOneKey(t *testing.T) {
	st := reviewBolt(t)
	bob := seededAs(t, st, "bob", 3)
	spare, _ := named(keysIn(t, st), "bob's spare")
	if _, err := bob.SetDisabled(context.Background(), spare.ID, true); err != nil {
		t.Fatal(err)
	}
	h := start(t, setup{store: bob, actor: "bob"})
	h.waitFor(t, "9 keys")
	h.press("/", "spare", "enter", " ")
	h.waitFor(t, "1 marked")
	h.press("R")
	h.waitFor(t, "Rotate 1 key?")
	h.press("right", "1", "enter")
	h.waitFor(t, "Rotated 0 of 1 key; 1 refused")
	h.final(t)
}

// In the form a click focuses a field, and a click on an option of a
// choice field chooses it.
func TestFormClicks(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.newKey(t, "clicked")
	h.clickOn(t, "○ prod")
	h.waitFor(t, "● prod", "▸ Environment")
	h.clickOn(t, "Scopes")
	h.waitFor(t, "▸ Scopes")
	h.press("orders:read", "enter")
	h.waitFor(t, "Your new key", "clicked · default · prod")
	h.final(t)
}

// On a screen too short for the three panels, tab changes the panel shown
// under a bar of their names that stays on its line: the body was
// centred, so the bar jumped as a panel of fewer rows came (at 80x24 with
// 3 environments, 9 channels and 11 members it went from line 9 to 6 to 5).
func TestCatalogTabsStayPut(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t), w: 40, h: 12})
	h.waitFor(t, "6 keys")
	h.press("e")
	line := func(tab string) int {
		h.waitFor(t, "["+tab+"]")
		for i, l := range strings.Split(*h.rec.last.Load(), "\n") {
			if strings.Contains(l, "["+tab+"]") {
				return i
			}
		}
		return -1
	}
	envs := line("Environments")
	h.press("tab")
	chans := line("Channels")
	h.press("tab")
	members := line("Members")
	if envs != chans || chans != members {
		t.Errorf("the panels' bar is on line %d, %d and %d as tab goes through them", envs, chans, members)
	}
	h.clickOn(t, "Channels")
	h.waitFor(t, "[Channels]")
	h.clickOn(t, "mobile-app")
	h.waitFor(t, "▸ mobile-app")
	h.final(t)
}

// A hint is shown whole or its column is left out: cut, it lost the end
// that tells two keys apart ("kd_prod_HH68……" at 130 columns).
func TestHintsAreNeverCut(t *testing.T) {
	st := sampleBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	keys := keysIn(t, st)
	for w := 90; w <= 200; w += 2 {
		h.tm.Send(tea.WindowSizeMsg{Width: w, Height: 24})
		var frame []string
		deadline := time.Now().Add(5 * time.Second)
		for {
			frame = strings.Split(ansi.Strip(*h.rec.last.Load()), "\n")
			if format.Cells(frame[0]) == w || time.Now().After(deadline) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		if len(frame) < 4 || !strings.Contains(frame[3], "HINT") {
			continue
		}
		for _, k := range keys {
			if !strings.Contains(strings.Join(frame, "\n"), k.Hint) {
				t.Errorf("at %d columns %s's hint %s is cut:\n%s", w, k.Name, k.Hint, strings.Join(frame, "\n"))
				break
			}
		}
	}
	h.final(t)
}

// On a narrow screen the keys' status line gives up the sort (and the
// count of hidden columns), never its position: at 40 columns it read
// "100007 keys · sort: last used ↓ · 2/1", the position cut at the edge.
func TestNarrowStatusKeepsThePosition(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t), w: 30, h: 12})
	h.waitFor(t, "6 keys")
	h.press("/", "mobile", "enter")
	h.waitFor(t, "2 shown")
	lines := strings.Split(ansi.Strip(h.final(t).View()), "\n")
	if status := strings.TrimSpace(lines[len(lines)-2]); status != "6 keys · 2 shown · 1/2" {
		t.Errorf("the status line at 30 columns is %q", status)
	}
}

// A rotation link to a key deleted since says so on the line: it offered
// "Replaces kj0i89ly  (enter)", and only enter told it was gone.
func TestDetailsSayALinkedKeyIsDeleted(t *testing.T) {
	st := sampleBolt(t)
	old, _ := named(keysIn(t, st), "ios build")
	r, err := st.RotateKey(context.Background(), storage.RotateRequest{ID: old.ID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DeleteKey(context.Background(), old.ID); err != nil {
		t.Fatal(err)
	}
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.press("/", "ios", "enter", "enter")
	h.waitFor(t, "ID           "+r.New.Key.ID, "▸Replaces    "+old.ID+"  (deleted)")
	h.press("enter")
	h.waitFor(t, "no longer in the store")
	h.final(t)
}
