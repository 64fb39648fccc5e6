package main

import (
	"context"
	"strings"
	"testing"

	"keyden/storage"
)

// A bulk action on the real binary in tmux: filter with the query
// language, mark every row shown, disable them through one confirm, and
// see the verifier refuse each; then delete the marked prod keys, which
// asks for their count typed, and see the verifier no longer know them.
func TestBulkActionInTmux(t *testing.T) {
	dir, db, st := tmuxAppStore(t)
	secrets := map[string]string{}
	for _, k := range []struct{ name, env string }{
		{"batch export", "dev"}, {"nightly sync", "dev"}, {"ci runner", "dev"},
		{"checkout", "prod"}, {"partner feed", "prod"}, {"mobile app", "staging"},
	} {
		c, err := st.CreateKey(context.Background(), storage.CreateRequest{Name: k.name, Channel: "default", Environment: k.env})
		if err != nil {
			t.Fatal(err)
		}
		secrets[k.name] = c.Secret
	}
	verify := func(name string) (int, string) {
		_, errs, code := keyden(t, db, secrets[name], "verify")
		return code, errs
	}
	cmd := appCommand(dir, db)
	s := startTmux(t, "bulk", "/dev/null", 100, 30, cmd)
	s.waitFor("6 keys · ")
	s.keys("/")
	s.typeText("env:dev")
	s.keys("Enter")
	s.waitFor("3 shown")
	s.keys("A")
	s.waitFor("3 marked")
	s.keys("x")
	s.waitFor("Disable 3 keys?")
	s.keys("Right")
	s.waitFor("[ Yes, disable 3 keys ]")
	s.keys("Enter")
	s.waitFor("Disabled 3 keys.")
	for _, name := range []string{"batch export", "nightly sync", "ci runner"} {
		if code, errs := verify(name); code != 1 || !strings.Contains(errs, "disabled") {
			t.Errorf("%s after the bulk disable: exit %d %q", name, code, errs)
		}
	}
	if code, errs := verify("checkout"); code != 0 {
		t.Errorf("an unmarked key is refused: %q", errs)
	}

	s.keys("Escape") // the results
	s.waitFor("/ env:dev")
	s.keys("Escape") // the filter
	s.waitFor("6 keys · ")
	s.keys("/")
	s.typeText("env:prod")
	s.keys("Enter")
	s.waitFor("2 shown")
	s.keys("A", "d")
	s.waitFor("Type 2, the number of keys")
	s.typeText("2")
	s.keys("Right", "Enter")
	s.waitFor("Deleted 2 keys.")
	for _, name := range []string{"checkout", "partner feed"} {
		if code, errs := verify(name); code != 1 || !strings.Contains(errs, "unknown") {
			t.Errorf("%s after the bulk delete: exit %d %q", name, code, errs)
		}
	}
	if code, errs := verify("mobile app"); code != 0 {
		t.Errorf("an unmarked key is refused: %q", errs)
	}
	out, _, _ := keyden(t, db, "", "audit", "--json")
	if n := strings.Count(out, `"action": "disable"`); n != 3 {
		t.Errorf("%d disable events in the audit log, want 3", n)
	}
	if n := strings.Count(out, `"action": "delete"`); n != 2 {
		t.Errorf("%d delete events in the audit log, want 2", n)
	}
	s.keys("q")
}
