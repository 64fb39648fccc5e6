package tui

import (
	"bytes"
	"encoding/base64"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aymanbagabas/go-osc52/v2"
	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"keyden/internal/testutil"
	"keyden/keygen"
	"keyden/model"
	"keyden/storage"
)

const testSecret = "kd_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn0gZMuH"

func TestRevealCopiesAndForgets(t *testing.T) {
	st := sampleBolt(t)
	h := start(t, setup{store: st})
	h.waitFor(t, "6 keys")
	h.newKey(t, "deploy bot", "tab", "tab", "right", "right", "tab", "right") // prod, x-api-key
	h.press("enter")
	h.waitFor(t, "Copied to the system clipboard")
	secret := h.clip.get()
	if !isKey(t, st, "deploy bot", secret) {
		t.Fatalf("system clipboard holds %q, not the new key", secret)
	}
	if osc := firstOSC52(h.osc.String()); osc != secret {
		t.Fatalf("no OSC 52 copy in %q", h.osc.String())
	}
	h.press("esc")
	h.waitFor(t, "7 keys")
	a := h.final(t)
	if a.nav.top() != a.keys {
		t.Fatal("still on the reveal screen")
	}
	if path := findString(reflect.ValueOf(a), secret, "app", map[uintptr]bool{}); path != "" {
		t.Fatalf("the key is still in the model at %s", path)
	}
}

func TestRevealGolden(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t), noSystem: true, clearAfter: 45 * time.Second})
	h.waitFor(t, "6 keys")
	h.newKey(t, "deploy bot", "tab", "tab", "right", "right", "tab", "right", "enter")
	// The copy and the reload after the create land in either order.
	h.waitFor(t, "OSC 52", "7 keys")
	a := h.final(t)
	view := a.View()
	for _, want := range []string{"only time it is shown", `curl -H "x-api-key: \`, "No system clipboard here", "clears what it copied after 45s"} {
		if !strings.Contains(view, want) {
			t.Errorf("reveal lacks %q", want)
		}
	}
	requireGolden(t, a)
}

func TestRevealWarnsOnceWhenNotCopied(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t), noSystem: true})
	h.app.clip.opt.OSC52 = false
	h.waitFor(t, "6 keys")
	h.newKey(t, "uncopied", "enter")
	h.waitFor(t, "Not copied anywhere")
	h.press("esc")
	h.waitFor(t, "Leave anyway")
	h.press("esc")
	h.waitFor(t, "7 keys")
	if a := h.final(t); a.nav.top() != a.keys {
		t.Fatal("second esc did not leave")
	}
}

// After the timeout the system clipboard is emptied (checked), the
// terminal's copy is overwritten (tmux ignores the OSC 52 clear), and the
// reveal says so instead of still promising a clear.
func TestClipboardClearedAfterTimeout(t *testing.T) {
	st := sampleBolt(t)
	h := start(t, setup{store: st, clearAfter: time.Second})
	h.waitFor(t, "6 keys")
	h.newKey(t, "first", "enter")
	h.waitFor(t, "Copied to the system clipboard", "clears what it copied after 1s")
	h.waitFor(t, "Cleared the system clipboard", "Asked your terminal to overwrite its clipboard", "earlier copies keyden can't reach")
	if v := *h.rec.last.Load(); strings.Contains(v, "clears what it copied") || strings.Contains(v, "Copied to the system clipboard") {
		t.Fatalf("the reveal still promises a clear after it:\n%s", v)
	}
	if h.clip.get() != "" {
		t.Fatal("the clipboard still holds the key after the timeout")
	}
	osc := h.osc.String()
	secret := firstOSC52(osc)
	if !isKey(t, st, "first", secret) {
		t.Fatalf("the first OSC 52 copy %q is not the new key", secret)
	}
	key := strings.LastIndex(osc, "\x1b]52;c;"+base64.StdEncoding.EncodeToString([]byte(secret)))
	over := strings.LastIndex(osc, "\x1b]52;c;"+base64.StdEncoding.EncodeToString([]byte(clipReplacement)))
	if key < 0 || over < key {
		t.Fatalf("the key was not overwritten through OSC 52: %q", osc)
	}
	// c copies again, and the reveal promises the next clear again; once
	// the reveal is left, the status line says what that clear did.
	h.press("c")
	h.waitFor(t, "Copied to the system clipboard", "clears what it copied after 1s")
	h.press("esc")
	h.waitFor(t, "Cleared the system clipboard; asked the terminal to overwrite its copy", "(unchecked). tmux and clipboard managers may keep earlier copies.")
	if h.clip.get() != "" {
		t.Fatal("the clipboard still holds the key after the second timeout")
	}
}

// The terminal's copy is overwritten in both forms the copy was sent in,
// and the system clipboard is cleared only if it still holds keyden's key.
func TestClipboardClearOverwritesAndLeavesOthersText(t *testing.T) {
	out := &testutil.SyncBuffer{}
	fake := &fakeClipboard{}
	c := newClipboardManager(ClipboardOptions{Out: out, System: true, OSC52: true, InTmux: true})
	c.write, c.read = fake.write, fake.read
	res := c.copy(testSecret)
	if got := c.clear(res.seq); !got.done || !got.system || !got.osc52 || fake.get() != "" {
		t.Fatalf("clear: %+v, clipboard %q", got, fake.get())
	}
	for _, seq := range []string{osc52.New(clipReplacement).String(), osc52.New(clipReplacement).Tmux().String()} {
		if !strings.Contains(out.String(), seq) {
			t.Errorf("no overwrite %q in %q", seq, out.String())
		}
	}
	res = c.copy(testSecret)
	fake.write("the admin's own text")
	if got := c.clear(res.seq); !got.systemOther || got.system || fake.get() != "the admin's own text" {
		t.Fatalf("keyden cleared text it did not put there: %+v, clipboard %q", got, fake.get())
	}
	if got := c.clear(res.seq); got.done {
		t.Fatalf("a second clear of one copy: %+v", got)
	}
	note := c.exitNote()
	if !strings.Contains(note, "may keep") || !strings.Contains(note, "tmux list-buffers") {
		t.Fatalf("exit note %q", note)
	}
	if note := newClipboardManager(ClipboardOptions{}).exitNote(); note != "" {
		t.Fatalf("exit note without a copy: %q", note)
	}
}

// Leaving the reveal, or quitting from it, zeroes the bytes of the key the
// app owns.
func TestLeavingTheRevealZeroesTheKey(t *testing.T) {
	for _, leave := range []tea.Msg{tea.KeyMsg{Type: tea.KeyEsc}, tea.KeyMsg{Type: tea.KeyCtrlC}} {
		a := New(Options{Store: sampleBolt(t), Clipboard: ClipboardOptions{}})
		a.nav.push(newRevealView(a.sh, model.Key{ID: "k1", Name: "zeroed"}, testSecret, false))
		r, ok := a.nav.top().(*revealView)
		if !ok || string(r.secret) != testSecret {
			t.Fatal("no reveal of the key")
		}
		owned := r.secret
		a.Update(leave)
		if a.nav.top() != a.keys || strings.Trim(string(owned), "\x00") != "" {
			t.Fatalf("after %T the app's copy of the key is %q", leave, owned)
		}
	}
}

func TestQuitClearsClipboard(t *testing.T) {
	h := start(t, setup{store: sampleBolt(t)})
	h.waitFor(t, "6 keys")
	h.newKey(t, "quitter", "enter")
	h.waitFor(t, "Copied to the system clipboard")
	h.press("ctrl+c")
	h.tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
	if h.clip.get() != "" {
		t.Fatal("quitting left the key on the clipboard")
	}
}

// isKey says whether secret is the key named name in st.
func isKey(t *testing.T, st storage.Store, name, secret string) bool {
	t.Helper()
	k, ok := named(keysIn(t, st), name)
	return ok && keygen.HashKey(secret) == k.Hash
}

// firstOSC52 is the text of the first OSC 52 copy in out.
func firstOSC52(out string) string {
	_, b64, _ := strings.Cut(out, "\x1b]52;c;")
	if i := strings.IndexAny(b64, "\x07\x1b"); i >= 0 {
		b64 = b64[:i]
	}
	text, _ := base64.StdEncoding.DecodeString(b64)
	return string(text)
}

// findString walks v for a string containing s and returns where it is.
func findString(v reflect.Value, s, path string, seen map[uintptr]bool) string {
	switch v.Kind() {
	case reflect.String:
		if strings.Contains(v.String(), s) {
			return path
		}
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return ""
		}
		if v.Kind() == reflect.Pointer {
			if seen[v.Pointer()] {
				return ""
			}
			seen[v.Pointer()] = true
		}
		return findString(v.Elem(), s, path, seen)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if p := findString(v.Field(i), s, path+"."+v.Type().Field(i).Name, seen); p != "" {
				return p
			}
		}
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			if bytes.Contains(v.Bytes(), []byte(s)) {
				return path
			}
			return ""
		}
		for i := 0; i < v.Len(); i++ {
			if p := findString(v.Index(i), s, path+"[]", seen); p != "" {
				return p
			}
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			if p := findString(it.Value(), s, path+"{}", seen); p != "" {
				return p
			}
		}
	}
	return ""
}

// A clipboard tool's error reaches the reveal harmless.
func TestRevealShowsToolErrorsHarmless(t *testing.T) {
	st := DefaultStyles()
	r := newRevealView(&shared{st: &st}, model.Key{Name: "x"}, testSecret, false)
	r.Update(copiedMsg{res: copyResult{osc52: true, systemErr: "xclip: \x1b]0;pwned\x07", seq: 1}})
	r.cleared = clearResult{done: true, systemErr: "xclip: \x1b]0;pwned\x07", seq: 1}
	if v := r.View(); strings.Contains(v, "\x1b") {
		t.Fatalf("raw ESC in the reveal: %q", v)
	}
}

// The reveal's title is cut by what a colour terminal draws, not by the
// bytes of its colours: in colour a name of 51 letters was cut to 28 on an
// 80-column screen ("Your new key  zzfeed tui created key with …"), with
// 30 columns of the box empty beside it.
func TestRevealTitleInColourIsCutByItsCells(t *testing.T) {
	colour := lipgloss.NewRenderer(io.Discard)
	colour.SetColorProfile(termenv.TrueColor)
	a := New(Options{Store: sampleBolt(t), Renderer: colour})
	title := func(name string) string {
		r := newRevealView(a.sh, model.Key{Name: name, Channel: "default", Environment: "prod"}, testSecret, false)
		r.SetSize(80, 24)
		for _, l := range strings.Split(r.View(), "\n") {
			if strings.Contains(ansi.Strip(l), "Your new key") {
				return l
			}
		}
		t.Fatalf("no title in %q", r.View())
		return ""
	}
	fits := "checkout service for the spring campaign"
	if l := ansi.Strip(title(fits)); !strings.Contains(l, fits+" · default · prod") {
		t.Errorf("a title that fits was cut: %q", l)
	}
	long := strings.Repeat("long name ", 6) + "end"
	// Inside the box's 76 columns: 73 for the title, "…" the last.
	plain := ansi.Strip(title(long))
	if want := "Your new key  " + long[:58] + "…"; !strings.Contains(plain, want) {
		t.Errorf("a long title is not cut at the box's width:\n%q\nwant %q", plain, want)
	}
}

// A rotation's reveal keeps the old key's expiry whole on a line: at 80
// columns it read "which works until 2026-11-30" and "12:37:07 UTC." below.
func TestRotationRevealKeepsTheExpiryWhole(t *testing.T) {
	a := New(Options{Store: sampleBolt(t)})
	until := time.Date(2026, 11, 30, 12, 37, 7, 0, time.UTC)
	r := newRevealView(a.sh, model.Key{Name: "tax calculator 41", Channel: "billing", Environment: "dev"}, testSecret, false)
	r.replaces = &model.Key{ID: "kblvu01b", Hint: "kd_dev_rMoC…s7nN", ExpiresAt: until}
	r.SetSize(80, 24)
	view := ansi.Strip(r.View())
	if !strings.Contains(view, "2026-11-30 12:37:07 UTC") {
		t.Errorf("the old key's expiry is broken across lines:\n%s", view)
	}
}
