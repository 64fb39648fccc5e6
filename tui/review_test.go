package tui

import (
	"strings"
	"testing"
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
