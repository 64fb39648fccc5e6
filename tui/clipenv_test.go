package tui

import (
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// KEYDEN_CLIPBOARD_CLEAR below a second is refused at start (0 still
// means never): on the old code 1ns was taken, clearing before any paste.
func TestClipboardClearBelowASecondIsRefused(t *testing.T) {
	for v, want := range map[string]time.Duration{"1ns": -1, "999ms": -1, "1s": time.Second, "0": 0, "45s": 45 * time.Second} {
		opt, err := ClipboardFromEnv(func(k string) string {
			if k == "KEYDEN_CLIPBOARD_CLEAR" {
				return v
			}
			return ""
		})
		if want < 0 {
			if err == nil || !strings.Contains(err.Error(), "less than a second") {
				t.Errorf("%s: %v", v, err)
			}
			continue
		}
		if err != nil || opt.ClearAfter != want {
			t.Errorf("%s: %v %v", v, opt.ClearAfter, err)
		}
	}
}

// A notice given at start is the status line's first message.
func TestNoticeIsTheFirstStatus(t *testing.T) {
	a := New(Options{Store: emptyBolt(t), Notice: "Made a new key store at /tmp/x.db."})
	a.Update(tea.WindowSizeMsg{Width: 100, Height: 30})
	if v := a.View(); !strings.Contains(v, "Made a new key store at /tmp/x.db.") {
		t.Fatalf("the notice is not shown:\n%s", v)
	}
}
