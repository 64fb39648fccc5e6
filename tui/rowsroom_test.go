package tui

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"keyden/model"
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

// The grouped review's status line keeps its position on a narrow screen:
// it was cut at the edge after the count of groups ("… · 1 creator ·"),
// which the position ("1/1") says too.
func TestNarrowGroupStatusKeepsThePosition(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t), w: 40, h: 12})
	h.waitFor(t, "6 keys")
	h.press("tab", "A", "g")
	h.waitFor(t, "CREATED BY")
	lines := strings.Split(ansi.Strip(h.final(t).View()), "\n")
	if status := strings.TrimSpace(lines[len(lines)-2]); status != "6 keys · 2 shown · 2 marked · 1/1" {
		t.Errorf("the grouped status line at 40 columns is %q", status)
	}
}

// Typing into Expires replaces the preset it holds (never as the form
// opens, or one chosen with ←/→): typing 90d gave "never90d", refused,
// and a date had to follow five backspaces.
func TestTypingAnExpiryReplacesThePreset(t *testing.T) {
	st := sampleBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.newKey(t, "typed date", "tab", "tab", "tab", "tab", "tab", "2027-01-31")
	h.waitFor(t, "Expires      2027-01-31")
	h.press("enter")
	h.waitFor(t, "Your new key")
	h.press("esc")
	// After ←/→ too; backspace there clears the preset, not a letter.
	h.newKey(t, "typed duration", "tab", "tab", "tab", "tab", "tab", "right", "right", "backspace", "45d")
	h.waitFor(t, "Expires      45d")
	h.press("enter")
	h.waitFor(t, "Your new key")
	h.final(t)
	keys := keysIn(t, st)
	date, _ := named(keys, "typed date")
	if want := time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC); !date.ExpiresAt.Equal(want) {
		t.Errorf("typed date expires %v, want %v", date.ExpiresAt, want)
	}
	dur, _ := named(keys, "typed duration")
	if got := dur.ExpiresAt.Sub(dur.CreatedAt).Round(time.Hour); got != 45*24*time.Hour {
		t.Errorf("typed duration: the key lives %v, want 45d", got)
	}
}

// A wrapped sentence never breaks at a hyphen that does not join two
// words: the catalog's error read "…digits and '-" over "', starting with
// a letter or digit" at 80 columns.
func TestWrapKeepsAQuotedHyphen(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.press("e")
	h.waitFor(t, "Environments")
	h.press("tab", "a", "Bad Name", "enter")
	h.waitFor(t, "is not allowed")
	view := ansi.Strip(h.final(t).View())
	if !strings.Contains(view, "'-', starting") {
		t.Errorf("the sentence broke inside '-':\n%s", view)
	}
	for _, l := range wrapTo("use --filter and '-' then --yes", 12) {
		if strings.HasPrefix(strings.TrimSpace(l), "'") || strings.HasSuffix(l, "-") && !strings.HasSuffix(l, "'-'") {
			t.Errorf("wrapTo broke at a lone hyphen: %q", wrapTo("use --filter and '-' then --yes", 12))
		}
	}
}

// A filter naming an environment or channel the store does not have says
// so under the line, as the command line does: env:prd showed only "No
// keys match", as if there were no such keys.
func TestFilterSaysAnUnknownEnvironment(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.press("/", "env:prd")
	h.waitFor(t, `There is no environment "prd" in this key store: the environments are dev,`)
	h.press("esc", "/", "channel:mobile-app env:stg")
	h.waitFor(t, `"stg" is the tag of the environment staging: write env:staging`)
	h.press("esc", "/", "env:staging")
	h.waitFor(t, "2 shown")
	if v := *h.rec.last.Load(); strings.Contains(v, "in this key store") || strings.Contains(v, "is the tag") {
		t.Errorf("a filter naming a real environment got a hint:\n%s", v)
	}
	h.final(t)
}

// At 80 columns the audit log's DETAIL and CHANNEL are hidden, and an
// event of no key (a member or channel added) named nothing on its row:
// its NAME says what the event was about there.
func TestAuditRowsOfNoKeySayWhatTheyWereAbout(t *testing.T) {
	st := sampleBolt(t)
	if _, err := st.AddMember(context.Background(), "carol", model.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddChannel(context.Background(), model.Channel{Name: "web-shop"}); err != nil {
		t.Fatal(err)
	}
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.press("a")
	h.waitFor(t, "Audit log")
	view := ansi.Strip(h.final(t).View())
	for _, want := range []string{"member-add", "carol as ad", "channel-add", "web-shop"} {
		if !strings.Contains(view, want) {
			t.Errorf("the audit log at 80 columns lacks %q:\n%s", want, view)
		}
	}
	if strings.Contains(view, "DETAIL") {
		t.Errorf("DETAIL is shown at 80 columns: the test no longer tests the hidden case:\n%s", view)
	}
}

// R on a decoy is refused at once, as on a replaced or disabled key: it
// opened the rotate confirm (type the name, "apps using this key must
// switch to the new one"), and only then did the store refuse it.
func TestRotateOfADecoyIsRefusedAtOnce(t *testing.T) {
	st := sampleBolt(t)
	if _, err := st.CreateKey(context.Background(), storage.CreateRequest{Name: "billing backup", Channel: "default", Environment: "dev", Decoy: true}); err != nil {
		t.Fatal(err)
	}
	h := start(t, setup{store: st})
	h.waitFor(t, "7 keys")
	h.press("/", "status:decoy", "enter", "R")
	h.waitFor(t, "This key is a decoy, which is never valid")
	h.press("enter")
	h.waitFor(t, "Status       decoy")
	a := h.final(t)
	if strings.Contains(a.View(), "R rotate") {
		t.Errorf("a decoy's details offer R rotate:\n%s", a.View())
	}
}

// A status line made from an error is one sentence with its period, as
// every other: n as a non-member ended "… --role admin`" without one.
func TestStatusFromAnErrorEndsItsSentence(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t), actor: "nobody", w: 120})
	h.waitFor(t, "6 keys")
	h.press("n")
	h.waitFor(t, "nobody is not a member of this key store")
	h.waitFor(t, "--role admin`.")
	h.final(t)
}
