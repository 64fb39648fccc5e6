package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"golang.org/x/term"

	"keyden/model"
	"keyden/storage"
)

// remoteOnTerminal runs a command of keyden ssh on st with a PTY, the
// terminal x/term's over plain streams as sshd gives it: typed is what the
// member types; it returns the exit code and what the terminal showed.
func remoteOnTerminal(a *app, st storage.Store) func(typed string, args ...string) (int, string) {
	return func(typed string, args ...string) (int, string) {
		var out bytes.Buffer
		tty := term.NewTerminal(struct {
			io.Reader
			io.Writer
		}{strings.NewReader(typed), &out}, "")
		code := a.runRemote(context.Background(), st, args, strings.NewReader(typed), &out, &out, tty)
		return code, out.String()
	}
}

// Over keyden ssh with a PTY, delete asks on the session's terminal as it
// does locally: typed text is echoed and can be edited, a prod key wants its
// name, a wrong answer or ctrl+c / ctrl+d deletes nothing. The terminal is
// x/term's over plain streams, as sshd gives it. Checked to fail before the
// terminal reached runRemote: every delete without --yes was refused, exit 2.
func TestRemoteDeleteAsksOnTheTerminal(t *testing.T) {
	db := newDB(t)
	create(t, db, "--name", "web checkout", "--env", "prod")
	create(t, db, "--name", "batch", "--env", "dev")
	create(t, db, "--name", "cron", "--env", "dev")
	st, err := storage.OpenBolt(db, storage.Options{Actor: Actor()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ids := map[string]string{}
	if err := st.EachKey(context.Background(), storage.Filter{}, nil, func(k *model.Key) error {
		ids[k.Name] = k.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	remote := remoteOnTerminal(&app{env: Env{Now: bulkNow.Local, Getenv: func(string) string { return "" }}}, st)
	gone := func(name string) bool {
		_, err := st.GetKey(context.Background(), ids[name])
		return errors.Is(err, storage.ErrNotFound)
	}
	for _, c := range []struct {
		name, typed string
		code        int
		want        string
	}{
		{"web checkout", "yes\r", ExitRefused, `"yes" is not the key's name, "web checkout". Not deleted.`},
		{"web checkout", "web ch\x03", ExitRefused, "Cancelled. Not deleted."},
		{"batch", "\x04", ExitRefused, "Cancelled. Not deleted."},
		{"batch", "no\r", ExitRefused, "Not deleted."},
	} {
		code, out := remote(c.typed, "delete", ids[c.name])
		if code != c.code || !strings.Contains(out, c.want) || gone(c.name) {
			t.Fatalf("%q typed: exit %d, %q; want %d %q and the key kept", c.typed, code, out, c.code, c.want)
		}
	}
	// The name typed with a slip fixed by backspace, echoed as typed.
	code, out := remote("web chekc\x7f\x7fckou\x1b[D\x1b[Ct\r", "delete", ids["web checkout"])
	if code != 0 || !gone("web checkout") || !strings.Contains(out, `type its name, "web checkout", to delete: `) || !strings.Contains(out, "Deleted \"web checkout\"") {
		t.Fatalf("the prod key's name typed: exit %d, %q", code, out)
	}
	code, out = remote("yes\r", "delete", ids["batch"])
	if code != 0 || !gone("batch") || !strings.Contains(out, "Type yes to delete: yes") {
		t.Fatalf("yes to a dev key: exit %d, %q", code, out)
	}
	// A bulk delete by --filter asks yes on the terminal too.
	code, out = remote("\x04", "delete", "--filter", "env:dev")
	if code != ExitRefused || gone("cron") || !strings.Contains(out, "Cancelled. Nothing deleted.") {
		t.Fatalf("ctrl+d to a bulk delete: exit %d, %q", code, out)
	}
	code, out = remote("yes\r", "delete", "--filter", "env:dev")
	if code != 0 || !gone("cron") || !strings.Contains(out, "Type yes to delete: yes") {
		t.Fatalf("yes to a bulk delete: exit %d, %q", code, out)
	}
}

// A rotation's question says until when the old keys work, locally and on
// keyden ssh's terminal alike; one key's rotate asks nothing in either
// (as locally: --grace is its answer) and says until when after. On the old
// code the question named only the keys, not the grace.
func TestRotateAsksWithItsGrace(t *testing.T) {
	db := newDB(t)
	create(t, db, "--name", "batch", "--env", "dev")
	create(t, db, "--name", "cron", "--env", "dev")
	const until = "Each old key keeps working until 2026-11-26 13:00:00 UTC (--grace), or its own earlier expiry: apps using it must switch to the new key by then.\nType yes to rotate: "
	r := runAt(t, db, "no\n", true, "rotate", "--filter", "env:dev", "--grace", "1h")
	if r.code != ExitRefused || !strings.Contains(r.stderr, until) {
		t.Fatalf("local: exit %d %q", r.code, r.stderr)
	}
	r = runAt(t, db, "no\n", true, "rotate", "--filter", "env:dev", "--grace", "now")
	if r.code != ExitRefused || !strings.Contains(r.stderr, "The old keys stop working at once (--grace now)") {
		t.Fatalf("local, --grace now: exit %d %q", r.code, r.stderr)
	}
	st, err := storage.OpenBolt(db, storage.Options{Actor: Actor(), Now: func() time.Time { return bulkNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	remote := remoteOnTerminal(&app{env: Env{Now: func() time.Time { return bulkNow }, Getenv: func(string) string { return "" }}}, st)
	code, out := remote("yes\r", "rotate", "--filter", "env:dev", "--grace", "1h")
	if code != 0 || !strings.Contains(strings.ReplaceAll(out, "\r\n", "\n"), until+"yes") || !strings.Contains(out, "Rotated 2 keys") {
		t.Fatalf("over ssh: exit %d %q", code, out)
	}
	var id string
	st.EachKey(context.Background(), storage.Filter{}, nil, func(k *model.Key) error {
		if k.Name == "batch" && k.RotatedTo == "" {
			id = k.ID
		}
		return nil
	})
	code, out = remote("", "rotate", id, "--grace", "1h")
	if code != 0 || strings.Contains(out, "Type") || !strings.Contains(out, "works until 2026-11-26 13:00:00 UTC. This is the only time the new key is shown.") {
		t.Fatalf("one key over ssh: exit %d %q", code, out)
	}
}
