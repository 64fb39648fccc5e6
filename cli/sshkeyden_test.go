package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"keyden/storage"
)

// Over keyden ssh the help's usage lines read "keyden list [flags]": a
// member who typed them as they are (ssh … keyden list) was refused. The
// word keyden before a command is taken as the command.
func TestRemoteCommandMayStartWithKeyden(t *testing.T) {
	db := newDB(t)
	create(t, db, "--name", "web checkout", "--env", "prod")
	st, err := storage.OpenBolt(db, storage.Options{Actor: Actor()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := &app{env: Env{Getenv: func(string) string { return "" }}}
	var out, errb bytes.Buffer
	if code := a.runRemote(context.Background(), st, []string{"keyden", "list", "--json"}, strings.NewReader(""), &out, &errb, nil); code != 0 || !strings.Contains(out.String(), `"web checkout"`) {
		t.Fatalf("keyden list --json over ssh: %d %q %q", code, out.String(), errb.String())
	}
	// Anything else is still refused.
	errb.Reset()
	if code := a.runRemote(context.Background(), st, []string{"keyden", "backup", "x"}, strings.NewReader(""), &out, &errb, nil); code != ExitUsage {
		t.Fatalf("keyden backup over ssh: %d %q", code, errb.String())
	}
}

// audit with no event to show says so, as list does: it printed the
// header alone, which read as a listing cut short.
func TestAuditOfNothingSaysSo(t *testing.T) {
	db := newDB(t)
	create(t, db, "--name", "web checkout", "--env", "prod")
	r := runAt(t, db, "", false, "audit", "--since", "2099-01-01")
	if r.code != 0 || r.stdout != "No events match.\n" {
		t.Fatalf("audit of no event: %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runAt(t, db, "", false, "audit", "--since", "2099-01-01", "--json"); r.code != 0 || strings.TrimSpace(r.stdout) != "[]" {
		t.Fatalf("audit --json of no event: %d %q", r.code, r.stdout)
	}
}
