package tui

import (
	"context"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"

	"keyden/model"
	"keyden/storage"
)

// countingStore counts whole reads of the keys.
type countingStore struct {
	storage.Store
	snapshots, generations atomic.Int32
}

func (c *countingStore) Generation(ctx context.Context) (storage.Generation, error) {
	c.generations.Add(1)
	return c.Store.Generation(ctx)
}

func (c *countingStore) SnapshotEach(ctx context.Context, size func(int), fn func(*model.Key) error) (storage.Position, error) {
	c.snapshots.Add(1)
	return c.Store.SnapshotEach(ctx, size, fn)
}

// Apps given one SharedKeys (keyden ssh's sessions) draw from one key set,
// read whole once, and each sees a key another made through the feed.
func TestSessionsShareOneKeySet(t *testing.T) {
	st := &countingStore{Store: sampleBolt(t)}
	shared := NewSharedKeys(st)
	if err := shared.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	apps := []*App{New(Options{Store: st, Actor: "alice", Keys: shared}), New(Options{Store: st, Actor: "bob", Keys: shared})}
	load := func(a *App) loadedMsg {
		msg := a.loadCmd(true)().(loadedMsg)
		if msg.err != nil {
			t.Fatal(msg.err)
		}
		a.loaded(msg)
		return msg
	}
	first, second := load(apps[0]), load(apps[1])
	if first.set != second.set {
		t.Fatal("two sessions hold two key sets")
	}
	if _, err := st.CreateKey(context.Background(), storage.CreateRequest{Name: "made elsewhere", Channel: "default", Environment: "dev"}); err != nil {
		t.Fatal(err)
	}
	for _, a := range apps {
		msg := load(a)
		if !msg.set.SharesIndexes(first.set) {
			t.Fatal("the change was not patched in")
		}
		if _, ok := named(keysOf(msg), "made elsewhere"); !ok {
			t.Fatal("a session does not see a key made elsewhere")
		}
	}
	if n := st.snapshots.Load(); n != 1 {
		t.Fatalf("%d whole reads of the keys, want 1", n)
	}
}

func keysOf(msg loadedMsg) []model.Key {
	var out []model.Key
	for _, i := range msg.set.Order(0) {
		out = append(out, *msg.set.Key(i))
	}
	return out
}

// A session's styles follow its own terminal, not the process's (which
// the tests set to no colour).
func TestSessionStylesFollowItsRenderer(t *testing.T) {
	colour := lipgloss.NewRenderer(io.Discard)
	colour.SetColorProfile(termenv.TrueColor)
	if s := StylesFor(colour); s.NoColor || !strings.Contains(s.Title.Render("keyden"), "\x1b[") {
		t.Fatalf("a colour session drew %q", s.Title.Render("keyden"))
	}
	plain := lipgloss.NewRenderer(io.Discard)
	plain.SetColorProfile(termenv.Ascii)
	if s := StylesFor(plain); !s.NoColor || strings.Contains(s.Title.Render("keyden"), "\x1b[") {
		t.Fatalf("a NO_COLOR session drew %q", s.Title.Render("keyden"))
	}
}

// Sessions polling at once share one read of the store's generation.
func TestSessionsShareTheGenerationPoll(t *testing.T) {
	st := &countingStore{Store: sampleBolt(t)}
	shared := NewSharedKeys(st)
	var apps []*App
	for range 10 {
		apps = append(apps, New(Options{Store: st, Actor: "alice", Keys: shared}))
	}
	for _, a := range apps {
		if msg := a.genCmd()().(genMsg); msg.err != nil {
			t.Fatal(msg.err)
		}
	}
	// One read (two if the machine stalled past genEvery in between).
	n := st.generations.Load()
	if n > 2 {
		t.Fatalf("ten sessions' polls read the generation %d times, want 1", n)
	}
	// Without a shared set each app reads it itself, as locally.
	alone := New(Options{Store: st, Actor: "alice"})
	alone.genCmd()()
	if m := st.generations.Load(); m != n+1 {
		t.Fatalf("a local app's poll: %d reads, want 1", m-n)
	}
}
