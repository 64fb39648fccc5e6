package tui

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"keyden/model"
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
	h.waitFor(t, "staging tag stg   0 keys  by name", "prod    tag prod  0 keys  by name")
	if v := *h.rec.last.Load(); strings.Contains(v, "dev     tag dev   0 keys  by name") {
		t.Fatalf("dev is not confirmed by name:\n%s", v)
	}
	h.final(t)
}

// A long environment or channel name used to push its row out of line and
// the key count off the panel ("eu-west-production tag euw     …"), while
// short names were padded to 14 cells, cutting a description to "Acme…"
// beside empty columns.
func TestCatalogColumnsFitTheirNames(t *testing.T) {
	catalog := func(t *testing.T, envs []model.Environment, chans []model.Channel) []string {
		st := boltStore(t)
		ctx := context.Background()
		for _, e := range envs {
			if _, err := st.AddEnvironment(ctx, e); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range chans {
			if _, err := st.AddChannel(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		h := start(t, setup{store: st})
		h.waitFor(t, "No keys yet")
		h.press("e")
		h.waitFor(t, "Environments")
		return strings.Split(ansi.Strip(h.final(t).View()), "\n")
	}
	t.Run("short names", func(t *testing.T) {
		view := catalog(t, nil, []model.Channel{{Name: "acme", Description: "Acme Corp"}})
		if !strings.Contains(strings.Join(view, "\n"), "acme     0 keys  Acme Corp") {
			t.Errorf("the channel's description is cut with room to spare:\n%s", strings.Join(view, "\n"))
		}
	})
	t.Run("long names", func(t *testing.T) {
		view := catalog(t, []model.Environment{{Name: "eu-west-production", Tag: "euw"}},
			[]model.Channel{{Name: "partner-globex-logistics", Description: "Globex"}})
		var tags []int
		for _, l := range view {
			if strings.Contains(l, " tag ") {
				if !strings.Contains(l, "0 keys") {
					t.Errorf("an environment's row lost its count: %q", l)
				}
				tags = append(tags, ansi.StringWidth(l[:strings.Index(l, " tag ")]))
			}
			if strings.Contains(l, "partner-globex") && !strings.Contains(l, "partner-globex-logistics  0 keys") {
				t.Errorf("the channel's row lost its name or count: %q", l)
			}
		}
		if len(tags) != 4 || slices.Min(tags) != slices.Max(tags) {
			t.Errorf("the environments' tags are not in one column (at %v):\n%s", tags, strings.Join(view, "\n"))
		}
	})
}
