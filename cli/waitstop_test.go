package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"keyden/storage"
)

// cancelOnWrite ends a command's context once it has printed anything:
// ctrl+c while create waits for the verifiers after printing the key.
type cancelOnWrite struct {
	bytes.Buffer
	cancel context.CancelFunc
}

func (w *cancelOnWrite) Write(p []byte) (int, error) {
	defer w.cancel()
	return w.Buffer.Write(p)
}

// ctrl+c while create (or delete, rotate) waits for the running verifiers
// says the change is made and where to see the rest: it said "Context
// canceled." (exit 2, bad usage), or that the store's wait "was cancelled
// before it was opened: run the command again", which made a second key.
func TestCtrlCWhileWaitingForTheVerifiers(t *testing.T) {
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &cancelOnWrite{cancel: cancel}
	var errb bytes.Buffer
	code := Run(ctx, []string{"create", "--name", "ci", "--env", "dev", "--wait", "1h"}, Env{
		Stdout: out, Stderr: &errb, Stdin: strings.NewReader(""),
		Getenv: func(k string) string {
			if k == "KEYDEN_DB" {
				return db
			}
			return ""
		},
		Now: func() time.Time { return now },
	})
	if !strings.HasPrefix(out.String(), "kd_dev_") {
		t.Fatalf("create printed no key: %q", out.String())
	}
	if code != ExitRefused || !strings.Contains(errb.String(), "stopped waiting for the running keyden serve processes: the change is made") {
		t.Fatalf("ctrl+c during the wait: exit %d %q", code, errb.String())
	}
	if got := listed(t, db); len(got) != 1 {
		t.Fatalf("%d keys, want the one created", len(got))
	}
}
