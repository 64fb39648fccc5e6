package tui

import (
	"context"
	"fmt"
	"regexp"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"keyden/storage"
)

// The keys table uses the lines above the status line: the filter line and
// the two lines for its error were kept free also with no filter, so a
// 40×12 screen showed 3 rows of the 6 it has room for.
func TestKeysTableUsesTheRoomOfAnAbsentFilterLine(t *testing.T) {
	rows := regexp.MustCompile(`key \d\d`)
	count := func(h *harness) int {
		v := h.rec.last.Load()
		return len(rows.FindAllString(ansi.Strip(*v), -1))
	}
	for _, sz := range []struct{ w, h, rows int }{{40, 12, 6}, {80, 24, 18}} {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			st := boltStore(t)
			for i := range 20 {
				if _, err := st.CreateKey(context.Background(), storage.CreateRequest{Name: fmt.Sprintf("key %02d", i), Channel: "default", Environment: "dev"}); err != nil {
					t.Fatal(err)
				}
			}
			h := start(t, setup{store: st, w: sz.w, h: sz.h})
			h.waitFor(t, "20 keys")
			if n := count(h); n != sz.rows {
				t.Errorf("%d rows shown with no filter line, want %d:\n%s", n, sz.rows, *h.rec.last.Load())
			}
			// The filter line and its error's two lines take 3 rows.
			h.press("/", "key")
			h.waitFor(t, "/ key")
			if n := count(h); n != sz.rows-3 {
				t.Errorf("%d rows shown with the filter line, want %d:\n%s", n, sz.rows-3, *h.rec.last.Load())
			}
			h.press("esc", "esc")
			h.waitFor(t, "20 keys · 1/20")
			if n := count(h); n != sz.rows {
				t.Errorf("%d rows shown once the filter is cleared, want %d", n, sz.rows)
			}
			h.final(t)
		})
	}
}
