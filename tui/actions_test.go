package tui

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keyden/storage"
)

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
	h := start(t, setup{store: sampleBolt(t)})
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
	st := sampleBolt(t)
	before, _ := named(keysIn(t, st), "web checkout")
	requireGolden(t, rotate(st, before.ID))
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

// The audit log follows the store while it is open: events written by
// another process show at the top without a keypress, and the cursor stays
// on its event. It was read once when opened, so it never showed them.
func TestAuditViewFollowsTheStore(t *testing.T) {
	st := sampleBolt(t)
	h := start(t, setup{store: st, poll: 20 * time.Millisecond})
	h.waitFor(t, "6 keys")
	h.press("a")
	h.waitFor(t, "Audit log", "9 events · 1/9")
	h.press("down")
	h.waitFor(t, "9 events · 2/9")
	if _, err := st.CreateKey(context.Background(), storage.CreateRequest{Name: "made in a shell", Channel: "default", Environment: "dev"}); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, "made in a shell", "10 events · 3/10")
	h.final(t)
}
