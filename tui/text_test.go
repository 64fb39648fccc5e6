package tui

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"
	"github.com/rivo/uniseg"

	"keyden/format"
	"keyden/internal/hostile"
	"keyden/model"
	"keyden/storage"
)

// hostileBolt is a real store whose stored text a view shows is
// hostile.Text, as a member of a shared store could write it: a key's
// name and creator (in env), a channel's description, a member, the audit
// log's actor and key name. alice, its super admin, may change the key.
func hostileBolt(t *testing.T, env string) *storage.Bolt {
	t.Helper()
	ctx := context.Background()
	st := boltStore(t)
	if _, err := st.AddMember(ctx, hostile.Actor, model.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddChannel(ctx, model.Channel{Name: "partner", Description: hostile.Actor}); err != nil {
		t.Fatal(err)
	}
	if _, err := as(t, st, hostile.Actor).CreateKey(ctx, storage.CreateRequest{Name: hostile.Actor, Channel: "partner", Environment: env}); err != nil {
		t.Fatal(err)
	}
	hostile.Bolt(t, st.Path())
	return st
}

// Every view that shows stored text (the table, details, confirm, catalog,
// audit log, status line, reveal, and the header with the store's location)
// draws it escaped: no frame holds a control byte.
func TestStoredTextNeverReachesTheTerminalRaw(t *testing.T) {
	for _, env := range []string{"prod", "dev"} {
		h := start(t, setup{store: hostileBolt(t, env), w: 250, h: 60, location: "/tmp/" + hostile.Text + ".db"})
		check := func(keys, view string) {
			t.Helper()
			h.press(keys)
			h.waitFor(t, view, `\x1b]52;c;`)
			frame := *h.rec.last.Load()
			// The text cursor's reverse video is keyden's own (styles.go).
			if bad, ok := hostile.Clean(strings.NewReplacer("\x1b[7m", "", "\x1b[0m", "").Replace(frame)); !ok {
				t.Errorf("%s, after %q: the frame holds %U:\n%q", env, keys, bad, frame)
			}
		}
		h.waitFor(t, "1 key · ")
		check("", "1 key · ")
		check("enter", "Allowed IPs")
		check("esc", "1 key · ")
		check("d", "Apps using this key will stop working")
		check("esc", "1 key · ")
		check("e", "Environments")
		check("esc", "1 key · ")
		check("a", "Audit log")
		check("esc", "1 key · ")
		check("x", "Disabled ")
		h.waitFor(t, "disabled ") // the row too, or the next x disables again
		check("x", "Enabled ")
		if env == "dev" {
			check("R", "A new key replaces it")
			h.press("right")
			check("enter", "Your new key")
		}
		h.final(t)
	}
}

// Wide (CJK) and combining names keep the table's and the catalog's columns
// in line: every row is as wide as the header, and each column starts at
// the same cell, counted as tmux and other per-code-point terminals draw
// them (format.Cells): a Devanagari vowel sign or Thai SARA AM takes a cell
// of its own there, which x/ansi does not count (the row ran past tmux's
// edge and wrapped).
func TestColumnsLineUpWithWideAndCombiningNames(t *testing.T) {
	keys := sampleKeys()
	keys[0].Name = "鍵の名前キー決済"
	keys[1].Name = "Tiê\u0323\u0302ng Vie\u0323\u0302t"
	keys[2].Name = "क्षत्रिय build"
	keys[3].Name = "น้ำ ก้ำ ภาษาไทย"
	// Names from a store written around validation, in the catalog.
	m := &renamedCatalog{Bolt: boltWith(t, keys), env: "開発", channel: "モバイル"}
	h := start(t, setup{store: m, w: 120, h: 30})
	h.waitFor(t, "6 keys")
	tableLinesUp(t, *h.rec.last.Load(), "ENV", "LAST USED", "STATUS", "CHANNEL", "HINT")
	h.press("e")
	h.waitFor(t, "Environments")
	lineUp(t, *h.rec.last.Load(), " tag ", " keys")
	h.final(t)
}

// lineUp checks that on every line holding all the words, each word starts
// at the same cell as on the first such line.
func lineUp(t *testing.T, frame string, words ...string) {
	t.Helper()
	var want []int
	rows := 0
	for _, l := range strings.Split(frame, "\n") {
		var at []int
		from := 0
		for _, w := range words {
			i := strings.Index(l[from:], w)
			if i < 0 {
				at = nil
				break
			}
			at = append(at, format.Cells(l[:from+i]))
			from += i + len(w)
		}
		if at == nil {
			continue
		}
		rows++
		if want == nil {
			want = at
			continue
		}
		for j := range at {
			if at[j] != want[j] {
				t.Errorf("%q starts at cell %d, not %d, on line\n%s\nof\n%s", words[j], at[j], want[j], l, frame)
			}
		}
	}
	if rows < 2 {
		t.Fatalf("fewer than two lines hold %q:\n%s", words, frame)
	}
}

// cellAt is the character that starts at cell p of l, counting cells as
// format.Cells does (as tmux draws them), or "" if none starts there.
func cellAt(l string, p int) string {
	l = ansi.Strip(l)
	n, state := 0, -1
	for l != "" {
		var c string
		c, l, _, state = uniseg.FirstGraphemeClusterInString(l, state)
		if n == p {
			return c
		}
		n += format.Cells(c)
	}
	return ""
}

// tableLinesUp checks that on every row under the header, each named
// column starts at its title's cell (a space before it, text at it), and
// that every row is as wide as the header.
func tableLinesUp(t *testing.T, frame string, titles ...string) {
	t.Helper()
	lines := strings.Split(frame, "\n")
	head := -1
	for i, l := range lines {
		if strings.Contains(l, " NAME ") {
			head = i
			break
		}
	}
	if head < 0 {
		t.Fatalf("no table header:\n%s", frame)
	}
	var at []int
	for _, w := range titles {
		i := strings.Index(lines[head], " "+w+" ")
		if i < 0 {
			t.Fatalf("no column %s:\n%s", w, frame)
		}
		at = append(at, format.Cells(lines[head][:i+1]))
	}
	rows := 0
	for _, l := range lines[head+1:] {
		if strings.TrimSpace(l) == "" {
			break
		}
		rows++
		if format.Cells(l) != format.Cells(lines[head]) {
			t.Errorf("a row is %d cells wide, the header %d:\n%s", format.Cells(l), format.Cells(lines[head]), l)
		}
		for j, p := range at {
			if cellAt(l, p-1) != " " || cellAt(l, p) == " " {
				t.Errorf("column %s does not start at cell %d on\n%s\nunder\n%s", titles[j], p, l, lines[head])
			}
		}
	}
	if rows < 3 {
		t.Fatalf("only %d rows:\n%s", rows, frame)
	}
}

// renamedCatalog is a fault: a store whose first environment and second
// channel were renamed around validation.
type renamedCatalog struct {
	*storage.Bolt
	env, channel string
}

func (r *renamedCatalog) Environments(ctx context.Context) ([]model.Environment, error) {
	envs, err := r.Bolt.Environments(ctx)
	if err == nil {
		envs[0].Name = r.env
	}
	return envs, err
}

func (r *renamedCatalog) Channels(ctx context.Context) ([]model.Channel, error) {
	chans, err := r.Bolt.Channels(ctx)
	if err == nil {
		chans[1].Name = r.channel
	}
	return chans, err
}

// A drill-in from a group puts the group's name, stored text, on the
// filter line: it shows there escaped, and the keys shown are still the
// group's.
func TestDrillInShowsAStoredNameEscapedOnTheFilterLine(t *testing.T) {
	h := start(t, setup{store: hostileBolt(t, "dev"), w: 120, h: 30})
	h.waitFor(t, "1 key · ")
	h.press("g")
	h.waitFor(t, "CREATED BY", "1 creator")
	h.press("enter")
	h.waitFor(t, `/ by:\x1b]52;c;`, "1 key · 1/1")
	frame := *h.rec.last.Load()
	if bad, ok := hostile.Clean(strings.NewReplacer("\x1b[7m", "", "\x1b[0m", "").Replace(frame)); !ok {
		t.Errorf("the frame holds %U:\n%q", bad, frame)
	}
	h.final(t)
}

// A decoy's alert in the audit view names who used it: the client IP and
// the User-Agent, text the thief chose, escaped (the view showed neither).
func TestDecoyAlertShowsWhoUsedItEscaped(t *testing.T) {
	st := boltStore(t)
	ctx := context.Background()
	d, err := st.CreateKey(ctx, storage.CreateRequest{Name: "bait", Channel: "default", Environment: "dev", Decoy: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RecordDecoyUse(ctx, storage.DecoyUse{Hash: d.Key.Hash, ClientIP: netip.MustParseAddr("203.0.113.9"), UserAgent: hostile.Text}); err != nil {
		t.Fatal(err)
	}
	h := start(t, setup{store: st, w: 100, h: 30})
	h.waitFor(t, "1 key · ")
	h.press("a")
	h.waitFor(t, "Audit log", "decoy-use")
	h.press("enter")
	h.waitFor(t, "Client IP", "203.0.113.9", "User agent", `\x1b]52;c;`)
	frame := *h.rec.last.Load()
	if bad, ok := hostile.Clean(strings.NewReplacer("\x1b[7m", "", "\x1b[0m", "").Replace(frame)); !ok {
		t.Errorf("the frame holds %U:\n%q", bad, frame)
	}
	h.final(t)
}
