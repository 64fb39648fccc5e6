package tui

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"keyden/storage"
)

// A long name shows whole where there is room, the columns that do not
// fit are named in the footer, and the header marks the sort.
func TestColumnsFitTheirContent(t *testing.T) {
	long := "nightly reconciliation export for the finance warehouse" // 56 cells
	keys := sampleKeys()
	keys[0].Name = long
	for _, c := range []struct {
		w, h         int
		shows, hides []string
		footer       string
	}{
		{250, 60, []string{long, "LAST USED ↓", "CREATED BY", "SCOPES", "billing:read billing:write", "HINT", "CREATED ", "30D", "▁▁▁▁▁▁▁▁▁█"}, nil, "6 keys · 1/6 "},
		{100, 30, []string{"nightly reconcili", "LAST USED ↓", "CREATED BY", "CHANNEL", "mobile-app", "EXPIRES"}, []string{long}, "+3: scopes, hint, created"},
		{80, 24, []string{"nightly reconciliation", "LAST USED ↓", "CREATED BY", "CHANNEL"}, []string{"EXPIRES"}, "+5: expires, 30d, scopes, hint, created"},
	} {
		h := start(t, setup{store: boltWith(t, keys), w: c.w, h: c.h})
		h.waitFor(t, "6 keys")
		view := h.final(t).View()
		for _, s := range append(c.shows, c.footer) {
			if !strings.Contains(view, s) {
				t.Errorf("at %d×%d the table lacks %q:\n%s", c.w, c.h, s, view)
			}
		}
		for _, s := range c.hides {
			if strings.Contains(view, s) {
				t.Errorf("at %d×%d the table shows %q:\n%s", c.w, c.h, s, view)
			}
		}
	}
}

// Sorting by a hidden column says so in the footer; a shown one is marked
// in the header only.
func TestSortMarkFollowsTheSort(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "LAST USED ↓")
	h.press("s")
	h.waitFor(t, "sort: created ↓")
	h.press("s")
	h.waitFor(t, "NAME ↑")
	if v := *h.rec.last.Load(); strings.Contains(v, "sort:") {
		t.Errorf("the footer names a sort the header shows:\n%s", v)
	}
}

// reviewBolt is sampleKeys with three more prod keys made by bob: two of
// them stale, one never used.
func reviewBolt(t *testing.T) *storage.Bolt {
	t.Helper()
	st := sampleBolt(t)
	bob := seededAs(t, st, "bob", 1)
	ctx := context.Background()
	for i, name := range []string{"bob's old batch", "bob's report", "bob's spare"} {
		c, err := bob.CreateKey(ctx, storage.CreateRequest{Name: name, Channel: "mobile-app", Environment: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			if err := st.RecordUses(ctx, []storage.Use{{ID: c.Key.ID, At: testNow.Add(-time.Duration(100+i) * 24 * time.Hour), Count: 1}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return st
}

// seededAs opens st as user with a random source of its own (seed), so
// the keys it makes have the same hints on every run.
func seededAs(t *testing.T, st *storage.Bolt, user string, seed byte) *storage.Bolt {
	t.Helper()
	other, err := storage.OpenBolt(st.Path(), storage.Options{Actor: user, Now: func() time.Time { return testNow },
		Rand: rand.NewChaCha8([32]byte{'k', 'e', 'y', 'd', 'e', 'n', seed})})
	if err != nil {
		t.Fatal(err)
	}
	return other
}

// g groups the rows shown by creator, channel and environment in turn,
// one line a group with its counts; esc goes back to the keys.
func TestGroupedReview(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {250, 60}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			h := start(t, setup{store: reviewBolt(t), w: size[0], h: size[1]})
			h.waitFor(t, "9 keys")
			h.press("g")
			h.waitFor(t, "CREATED BY", "2 creators", "1/2")
			view := *h.rec.last.Load()
			for _, line := range []string{"alice", "bob"} {
				if !strings.Contains(view, line) {
					t.Errorf("no group line for %s:\n%s", line, view)
				}
			}
			h.press("g")
			h.waitFor(t, "2 channels")
			h.press("g")
			h.waitFor(t, "3 environments")
			h.press("g", "g", "down")
			h.waitFor(t, "2 creators", "2/2")
			a := h.final(t)
			g := a.keys.groups[1]
			if g.name != "bob" || g.keys != 3 || g.never != 1 || g.stale != 2 || g.expiring != 0 {
				t.Errorf("bob's group: %+v", g)
			}
			requireGolden(t, a)
		})
	}
}

// shownNames is the names of the keys the table shows, in order.
func shownNames(a *App) []string {
	var names []string
	for _, r := range a.keys.rows {
		names = append(names, a.keys.rowsOf.Key(r).Name)
	}
	return names
}

// The filter line takes the query language; a malformed query says what
// is wrong under the line and shows no key.
func TestQueryLine(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {250, 60}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			h := start(t, setup{store: reviewBolt(t), w: size[0], h: size[1]})
			h.waitFor(t, "9 keys")
			h.press("/", "env:prod used:>90d", "enter")
			h.waitFor(t, "2 shown")
			h.press("/", "by:")
			h.waitFor(t, `"by:" needs a value`)
			a := h.final(t)
			if len(a.keys.rows) != 0 {
				t.Errorf("a malformed query shows %v", shownNames(a))
			}
			requireGolden(t, a)
		})
	}
}

// r puts the review's query on the filter line and cycles it; esc clears
// the typed text first and the review after, never both at once.
func TestReviewFillsTheFilterLineAndEscClearsOneLevel(t *testing.T) {
	h := start(t, setup{store: reviewBolt(t)})
	h.waitFor(t, "9 keys")
	h.press("r")
	h.waitFor(t, "/ used:>90d", "4 shown")
	h.press("r")
	h.waitFor(t, "/ used:never", "3 shown")
	h.press("r", "r")
	h.waitFor(t, "/ used:<1h", "1 shown")
	h.press("r")
	h.waitFor(t, "/9 · ")
	h.press("/", "bob", "enter", "r")
	h.waitFor(t, "/ bob used:>90d", "2 shown")
	h.press("esc")
	h.waitFor(t, "/ used:>90d", "4 shown")
	h.press("esc")
	h.waitFor(t, "/9 · ")
	// While typing, esc is the same one step.
	h.press("r", "/", "prod")
	h.waitFor(t, "/ used:>90d prod", "2 shown")
	h.press("esc")
	h.waitFor(t, "/ used:>90d", "4 shown")
	a := h.final(t)
	if a.keys.q.Text != "used:>90d" || a.keys.filtering {
		t.Errorf("after esc: text %q, typing %v", a.keys.q.Text, a.keys.filtering)
	}
}

// enter on a group shows its keys through the query term it adds; esc
// comes back to the groups with the same group selected.
func TestGroupDrillsInAndBack(t *testing.T) {
	h := start(t, setup{store: reviewBolt(t)})
	h.waitFor(t, "9 keys")
	h.press("g", "down", "enter")
	h.waitFor(t, "/ by:bob", "3 shown")
	h.press("esc")
	h.waitFor(t, "2 creators", "2/2")
	h.press("esc")
	h.waitFor(t, "/9 · ")
	a := h.final(t)
	if a.keys.group != groupOff || a.keys.q.Text != "" {
		t.Errorf("after two esc: group %d, text %q", a.keys.group, a.keys.q.Text)
	}
}

// The two questions, at 100×30, in the keystrokes the README gives.
func TestTheTwoQuestionsInAFewKeystrokes(t *testing.T) {
	// "Which prod keys have not been used for 90 days, and who created them?"
	h := start(t, setup{store: reviewBolt(t), w: 100, h: 30})
	h.waitFor(t, "9 keys")
	h.press("shift+tab", "r", "g") // the prod tab, the stale review, group by creator
	h.waitFor(t, "[prod]", "/ used:>90d", "2 shown", "1 creator ")
	a := h.final(t)
	if g := a.keys.groups; len(g) != 1 || g[0].name != "bob" || g[0].keys != 2 {
		t.Errorf("stale prod keys by creator: %+v", g)
	}
	// "Which keys were used in the last hour?"
	h = start(t, setup{store: reviewBolt(t), w: 100, h: 30})
	h.waitFor(t, "9 keys")
	h.press("r", "r", "r", "r")
	h.waitFor(t, "/ used:<1h", "1 shown")
	if names := shownNames(h.final(t)); strings.Join(names, ",") != "web checkout" {
		t.Errorf("used in the last hour: %v", names)
	}
}

// space marks a row and moves on, A marks every row shown (again: none),
// the marks follow the keys through a reload, and esc clears them last.
func TestMarks(t *testing.T) {
	for _, size := range [][2]int{{80, 24}, {250, 60}} {
		t.Run(fmt.Sprintf("%dx%d", size[0], size[1]), func(t *testing.T) {
			st := reviewBolt(t)
			h := start(t, setup{store: st, w: size[0], h: size[1], poll: 50 * time.Millisecond})
			h.waitFor(t, "9 keys")
			h.press(" ", " ")
			h.waitFor(t, "2 marked", "3/9")
			h.press("/", "bob", "enter", "A")
			h.waitFor(t, "3 shown", "5 marked")
			h.press("A")
			h.waitFor(t, "3 shown", "2 marked")
			h.press("esc")
			h.waitFor(t, "9 keys · 2 marked")
			// A key made elsewhere: the marks stay on the same keys.
			if _, err := seededAs(t, st, "bob", 2).CreateKey(context.Background(), storage.CreateRequest{Name: "new one", Channel: "default", Environment: "dev"}); err != nil {
				t.Fatal(err)
			}
			h.waitFor(t, "10 keys · 2 marked")
			a := h.final(t)
			var marked []string
			for _, k := range a.keys.marks.keys(a.keys.rowsOf) {
				marked = append(marked, k.Name)
			}
			slices.Sort(marked)
			if strings.Join(marked, ",") != "billing sync,web checkout" {
				t.Errorf("marked %v, want web checkout and billing sync", marked)
			}
			requireGolden(t, a)
		})
	}
}

func TestEscClearsMarksLast(t *testing.T) {
	h := start(t, setup{store: reviewBolt(t)})
	h.waitFor(t, "9 keys")
	h.press(" ", "r")
	h.waitFor(t, "4 shown", "1 marked")
	h.press("esc")
	h.waitFor(t, "9 keys · 1 marked")
	h.press("esc")
	h.waitFor(t, "/9 · +4")
	if a := h.final(t); a.keys.marks.n != 0 {
		t.Errorf("%d marks after the last esc", a.keys.marks.n)
	}
}

// space on a group marks its keys shown; x then acts on them from the
// groups, as from the table.
func TestGroupMarksItsKeys(t *testing.T) {
	h := start(t, setup{store: reviewBolt(t)})
	h.waitFor(t, "9 keys")
	h.press("g", "x")
	h.waitFor(t, "Press space to mark this group's keys first")
	h.press("down", " ", "x")
	h.waitFor(t, "Disable 3 keys?", "bob's spare")
	a := h.final(t)
	for _, k := range a.keys.marks.keys(a.keys.rowsOf) {
		if k.CreatedBy != "bob" {
			t.Errorf("%s (by %s) is marked with bob's group", k.Name, k.CreatedBy)
		}
	}
}

// The audit log sizes its columns from their content too: a long name
// shows whole where there is room (it was cut at 30 cells).
func TestAuditColumnsFitTheirContent(t *testing.T) {
	long := "nightly reconciliation export for the finance warehouse"
	keys := sampleKeys()
	keys[0].Name = long
	h := start(t, setup{store: boltWith(t, keys), w: 250, h: 60})
	h.waitFor(t, "6 keys")
	h.press("a")
	h.waitFor(t, "Audit log", long+" prod")
	h.final(t)
}

// A filter or review that leaves out the key under the cursor starts at
// the top of what it shows: the cursor kept its row, clamped, so r on a
// cursor far down a million keys landed on the last stale key
// (32276/32276), and a group's drill-in on its second key.
func TestANewFilterWithoutTheCursorsKeyStartsAtTheTop(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.press("G")
	h.waitFor(t, "6/6")
	h.press("r")
	h.waitFor(t, "/ used:>90d", "2 shown · 1/2")
	h.press("esc", "esc")
	h.waitFor(t, "6 keys · 3/6") // still on its key, partner feed
	h.press("G", "/", "env:prod")
	h.waitFor(t, "2 shown · 1/2")
	h.final(t)
}
