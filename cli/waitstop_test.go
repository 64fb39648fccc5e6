package cli

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"keyden/storage"
)

// thenOnWrite runs then once a command has printed anything: ctrl+c, or
// the store going away, while create waits for the verifiers after
// printing the key.
type thenOnWrite struct {
	bytes.Buffer
	then func()
}

func (w *thenOnWrite) Write(p []byte) (int, error) {
	defer w.then()
	return w.Buffer.Write(p)
}

// ctrl+c while create (or delete, rotate) waits for the running verifiers
// says the change is made and where to see the rest: it said "Context
// canceled." (exit 2, bad usage), or that the store's wait "was cancelled
// before it was opened: run the command again", which made a second key.
// The store failing during the wait is the same: the change is made.
func TestAWaitCutShortSaysTheChangeIsMade(t *testing.T) {
	db := newDB(t)
	if r := run(t, db, "", "init"); r.code != 0 {
		t.Fatalf("init: %d %q", r.code, r.stderr)
	}
	now := time.Now()
	st, err := storage.OpenBolt(db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// A verifier alive by the command's clock that never applies the key.
	err = st.Heartbeat(context.Background(), storage.Verifier{ID: "lagging", Host: "web1", Beat: now})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	// create of a key named name, waiting for the verifiers; out's
	// first write (the key) runs its then.
	var errb bytes.Buffer
	create := func(ctx context.Context, name string, out *thenOnWrite) int {
		errb.Reset()
		return Run(ctx, []string{"create", "--name", name, "--env", "dev", "--wait", "1h"}, Env{
			Stdout: out, Stderr: &errb, Stdin: strings.NewReader(""),
			Getenv: func(k string) string { return map[string]string{"KEYDEN_DB": db}[k] },
			Now:    func() time.Time { return now },
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &thenOnWrite{then: cancel}
	code := create(ctx, "ci", out)
	if !strings.HasPrefix(out.String(), "kd_dev_") {
		t.Fatalf("create printed no key: %q", out.String())
	}
	if code != ExitRefused || !strings.Contains(errb.String(), "stopped waiting for the running keyden serve processes: the change is made") {
		t.Fatalf("ctrl+c during the wait: exit %d %q", code, errb.String())
	}
	if got := listed(t, db); len(got) != 1 {
		t.Fatalf("%d keys, want the one created", len(got))
	}

	// The store unreadable while create waits (here moved away): the key is
	// made all the same, so create succeeds and says what it could not read;
	// it said the store's sentence with exit 1, and a script ran it again.
	out = &thenOnWrite{then: func() { os.Rename(db, db+".away") }}
	code = create(context.Background(), "ci 2", out)
	if !strings.HasPrefix(out.String(), "kd_dev_") {
		t.Fatalf("create printed no key: %q", out.String())
	}
	if code != ExitOK || !strings.Contains(errb.String(), "keyden: the change is made, but whether every running keyden serve has applied it could not be read (the key store ") {
		t.Fatalf("the store gone during the wait: exit %d %q", code, errb.String())
	}
	if got := listed(t, db+".away"); len(got) != 2 {
		t.Fatalf("%d keys, want the two created", len(got))
	}
}
