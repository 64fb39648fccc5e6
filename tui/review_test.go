package tui

import (
	"context"
	"fmt"
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
		{250, 60, []string{long, "LAST USED ↓", "CREATED BY", "SCOPES", "billing:read billing:write", "HINT", "CREATED "}, nil, "6 keys · 1/6 "},
		{100, 30, []string{"nightly reconcili", "LAST USED ↓", "CREATED BY", "CHANNEL", "mobile-app", "EXPIRES"}, []string{long}, "+2: hint, created"},
		{80, 24, []string{"nightly reconciliation", "LAST USED ↓", "CREATED BY", "CHANNEL"}, []string{"EXPIRES"}, "+4: expires, scopes, hint, created"},
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
	bob := as(t, st, "bob")
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
