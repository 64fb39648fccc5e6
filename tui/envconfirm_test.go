package tui

import (
	"context"
	"strings"
	"testing"

	"keyden/storage"
)

// The confirm asks for the typed name where the key's environment says so,
// whatever its name: here dev is set to, and prod is not.
func TestConfirmByNameFollowsTheEnvironment(t *testing.T) {
	ctx := context.Background()
	st := boltStore(t)
	for _, env := range []string{"dev", "prod"} {
		if _, err := st.CreateKey(ctx, storage.CreateRequest{Name: env + " key", Channel: "default", Environment: env}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := st.SetConfirmByName(ctx, "dev", true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetConfirmByName(ctx, "prod", false); err != nil {
		t.Fatal(err)
	}
	h := start(t, setup{store: st})
	h.waitFor(t, "2 keys")
	h.press("/", "dev key", "enter", "d")
	h.waitFor(t, "This is a dev key. Type its name")
	h.press("esc", "esc", "/", "prod key", "enter", "d")
	h.waitFor(t, "Delete this key?", "prod key")
	if v := *h.rec.last.Load(); strings.Contains(v, "Type its name") {
		t.Fatalf("prod, set to yes or no, asks for the name:\n%s", v)
	}
	h.press("y")
	h.waitFor(t, "Deleted prod key")
	h.final(t)
	if keys, _ := st.ListKeys(ctx, storage.Filter{}); len(keys) != 1 || keys[0].Name != "dev key" {
		t.Fatalf("left: %v", keys)
	}
}

// Where there is room, the catalog says which environments confirm by
// the typed name.
func TestCatalogShowsConfirmByName(t *testing.T) {
	st := boltStore(t)
	if _, err := st.SetConfirmByName(context.Background(), "staging", true); err != nil {
		t.Fatal(err)
	}
	h := start(t, setup{store: st, w: 160, h: 40})
	h.waitFor(t, "No keys yet")
	h.press("e")
	h.waitFor(t, "staging      tag stg      0 keys  by name", "prod         tag prod     0 keys  by name")
	if v := *h.rec.last.Load(); strings.Contains(v, "dev          tag dev      0 keys  by name") {
		t.Fatalf("dev is not confirmed by name:\n%s", v)
	}
	h.final(t)
}
