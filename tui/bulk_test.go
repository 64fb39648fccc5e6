package tui

import (
	"context"
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"keyden/model"
	"keyden/storage"
)

// x on marked keys: one confirm with the count and the first names; a
// prod key among them asks for the count typed; each key is disabled and
// audited on its own, and the results say so key by key.
func TestBulkDisableOnMarks(t *testing.T) {
	st := reviewBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "9 keys")
	h.press("r", "A") // the four stale keys: two of bob's (prod), partner feed, old export
	h.waitFor(t, "4 shown", "4 marked")
	h.press("x")
	h.waitFor(t, "Disable 4 keys?", "4 keys: 2 prod", "bob's old batch", "2 of them are prod keys. Type 4, the number of keys")
	a := h.final(t)
	requireGolden(t, a)

	h = start(t, setup{store: st})
	h.waitFor(t, "9 keys")
	h.press("r", "A", "x")
	h.waitFor(t, "Disable 4 keys?")
	h.press("right", "enter")
	h.waitFor(t, "Type 4, the number of keys, exactly to confirm.")
	h.press("4", "enter")
	h.waitFor(t, "Disabled 4 keys.", "✓ partner feed: disabled")
	h.press("esc")
	h.waitFor(t, "/ used:>90d", "Disabled 4 keys.", "old export      dev     10mo ago    disabled")
	a = h.final(t)
	if a.keys.marks.n != 0 {
		t.Errorf("%d keys still marked after they were all disabled", a.keys.marks.n)
	}
	disabled := 0
	for _, k := range keysIn(t, st) {
		if k.Disabled {
			disabled++
		}
	}
	evs, err := st.Audit(context.Background(), storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	audited := 0
	for _, e := range evs {
		if e.Action == string(model.KeyDisable) {
			audited++
		}
	}
	if disabled != 4 || audited != 4 {
		t.Errorf("%d keys disabled, %d disable events; want 4 and 4", disabled, audited)
	}
}

// An admin deleting marked keys: the ones it may not delete are refused,
// listed first with the reason, stay marked, and the others are deleted.
func TestBulkDeleteReportsEachRefusal(t *testing.T) {
	st := reviewBolt(t)
	h := start(t, setup{store: seededAs(t, st, "bob", 3), actor: "bob"})
	h.waitFor(t, "9 keys")
	h.press("/", "mobile-app", "enter", "A") // partner feed, ios build (alice's) and bob's three
	h.waitFor(t, "5 shown", "5 marked")
	h.press("d")
	h.waitFor(t, "Delete 5 keys?", "You may not delete 2 of them")
	h.press("right", "5", "enter")
	h.waitFor(t, "Deleted 3 of 5 keys; 2 refused")
	a := h.final(t)
	lines := a.nav.top().(*bulkView).lines
	if len(lines) != 5 || lines[0].ok || lines[1].ok || !lines[2].ok {
		t.Fatalf("results %+v: want the 2 refusals first", lines)
	}
	if len(keysIn(t, st)) != 6 {
		t.Errorf("%d keys left, want 6", len(keysIn(t, st)))
	}
	view := a.View()
	for _, s := range []string{"✗ partner feed", "✗ ios build", "✓ bob's spare: deleted"} {
		if !strings.Contains(view, s) {
			t.Errorf("results lack %q:\n%s", s, view)
		}
	}
}

// Marked keys the user may change none of are refused before any confirm,
// as one key is: the confirm asked "Delete 6 keys?", said "the others go
// through" when there were none, and deleted nothing. Checked to fail
// before mayChangeNone.
func TestBulkOfKeysTheUserMayNotChangeIsRefusedAtOnce(t *testing.T) {
	st := reviewBolt(t)
	h := start(t, setup{store: seededAs(t, st, "bob", 3), actor: "bob"})
	h.waitFor(t, "9 keys")
	h.press("/", "by:alice", "enter", "A")
	h.waitFor(t, "6 shown", "6 marked")
	h.press("d")
	h.waitFor(t, "you may not delete any of the 6 marked keys: bob is an admin")
	a := h.final(t)
	if _, ok := a.nav.top().(*confirmView); ok {
		t.Fatal("a confirm opened for keys none of which bob may delete")
	}
	if n := len(keysIn(t, st)); n != 9 {
		t.Errorf("%d keys left, want 9", n)
	}
}

// m on marked keys the user may move none of is refused at once, as x,
// d and R are: it opened the channel picker, then a confirm saying "You
// may not move 6 of them: … the others go through" (there were none),
// offered "Yes, move 6 keys" and moved 0 of 6.
func TestBulkMoveOfKeysTheUserMayNotChangeIsRefusedAtOnce(t *testing.T) {
	st := reviewBolt(t)
	h := start(t, setup{store: seededAs(t, st, "bob", 3), actor: "bob", w: 100, h: 30})
	h.waitFor(t, "9 keys")
	h.press("/", "by:alice", "enter", "A")
	h.waitFor(t, "6 shown", "6 marked")
	h.press("m")
	h.waitFor(t, "you may not move any of the 6 marked keys: bob is an admin")
	a := h.final(t)
	if kv, ok := a.nav.top().(*keysView); !ok || kv.picking {
		t.Fatalf("the channel picker opened for keys none of which bob may move (top %T)", a.nav.top())
	}
}

// One prod key among the marked: the prompt says "1 of them is a prod
// key", not "1 of them are prod keys" (it did).
func TestBulkPromptCountsOneKeyConfirmedByName(t *testing.T) {
	st := reviewBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "9 keys")
	h.press("/", "spare", "enter", " ", "esc", "/", "env:dev", "enter", "A")
	h.waitFor(t, "marked")
	h.press("x")
	h.waitFor(t, "1 of them is a prod key. Type")
	h.final(t)
}

// R on marked keys: each new key is shown once on the results screen and
// forgotten on leaving it.
func TestBulkRotateShowsEachNewKeyOnce(t *testing.T) {
	st := reviewBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "9 keys")
	h.press("/", "fresh", "enter", " ", "esc", "/", "ios", "enter", " ")
	h.waitFor(t, "2 marked")
	h.press("R")
	h.waitFor(t, "Rotate 2 keys?", "Grace")
	h.press("y")
	h.waitFor(t, "Rotated 2 keys. Each new key is shown only here", "kd_dev_", "kd_stg_")
	a := h.final(t)
	r := a.nav.top().(*bulkView)
	if len(r.secrets) != 2 {
		t.Fatalf("%d new keys shown, want 2", len(r.secrets))
	}
	secret := r.secrets[0]
	a.Update(tea.KeyMsg{Type: tea.KeyEsc})
	if len(r.secrets) != 0 || strings.Trim(string(secret), "\x00") != "" {
		t.Errorf("a new key outlived its screen")
	}
}

// m moves the marked keys to a channel picked from the list, through one
// confirm; each move is audited and the keys keep working.
func TestMoveMarkedKeys(t *testing.T) {
	st := reviewBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "9 keys")
	h.press("/", "channel:default", "enter", " ", " ")
	h.waitFor(t, "2 marked")
	h.press("m")
	h.waitFor(t, "Move 2 keys to channel", "▸ default")
	h.press("down", "enter")
	h.waitFor(t, "Move 2 keys to mobile-app?", "The keys keep working")
	h.press("y")
	h.waitFor(t, "Moved 2 keys.")
	h.final(t)
	for _, name := range []string{"web checkout", "billing sync"} {
		if k, _ := named(keysIn(t, st), name); k.Channel != "mobile-app" {
			t.Errorf("%s is in %s, want mobile-app", name, k.Channel)
		}
	}
}

// A bulk confirm keeps each key on one line (a long name is cut, not
// wrapped), and the footer names as many hidden columns as fit.
func TestBulkConfirmAndFooterFit(t *testing.T) {
	keys := sampleKeys()
	keys[0].Name = "acme inventory sync shared with the on-call rota of the depot"
	keys[3].Name = "events collector (owned by the payments team, ask first)"
	h := start(t, setup{store: boltWith(t, keys), w: 64, h: 24})
	h.waitFor(t, "6 keys")
	h.press("A", "x")
	h.waitFor(t, "Disable 6 keys?")
	a := h.final(t)
	view := a.View()
	for _, l := range strings.Split(view, "\n") {
		if strings.Contains(l, "acme inventory") || strings.Contains(l, "events collector") {
			if !strings.Contains(l, "default/prod · used") {
				t.Errorf("a key's line in the confirm is cut short or wrapped: %q", l)
			}
		}
	}
	if !strings.Contains(view, "6 marked · 1/6 · +7: created by, channel and 5 more") {
		t.Errorf("the footer does not end with the hidden columns that fit:\n%s", view)
	}
}

// The confirm's names take the room their channel and last use leave:
// they were cut at two fifths of the box, "tax calculator shared with …"
// beside 10 empty columns, in a box 72 wide.
func TestBulkConfirmGivesNamesTheRoomLeft(t *testing.T) {
	keys := sampleKeys()
	keys[0].Name = "acme inventory sync for the depot"
	h := start(t, setup{store: boltWith(t, keys), w: 120, h: 40})
	h.waitFor(t, "6 keys")
	h.press("A", "x")
	h.waitFor(t, "Disable 6 keys?")
	view := h.final(t).View()
	for _, l := range strings.Split(view, "\n") {
		if strings.Contains(l, "acme inventory") {
			if !strings.Contains(l, keys[0].Name+"  default/prod · used") {
				t.Errorf("a name that fits the confirm is cut: %q", l)
			}
			return
		}
	}
	t.Errorf("no line of the confirm names the key:\n%s", view)
}

// A bulk confirm of one marked key speaks of one key, and of a key never
// used as such: it said "A new key replaces each … The old keys stop
// working" and "web/dev · used never".
func TestBulkConfirmOfOneKeyReadsRight(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t), w: 100, h: 30})
	h.waitFor(t, "6 keys")
	h.press("G", " ", "R")
	h.waitFor(t, "Rotate 1 key?", "fresh key", "default/staging · never used",
		"A new key replaces it, shown once on the next screen. The old key", "stops working when the grace ends.")
	h.press("esc", "x")
	h.waitFor(t, "Disable 1 key?", "Apps using it are refused until the key is enabled")
	h.press("esc", "d")
	h.waitFor(t, "Delete 1 key?", "Apps using this key will stop working immediately.")
	h.final(t)
}
