package cli

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"keyden/internal/testutil"
	"keyden/storage"
)

// ctrl+c at a question (delete's "Type yes", verify's key) stops keyden:
// it catches the signal, which ends the command's context, and the read
// went on waiting for a line, so the next command typed became the answer.
func TestCtrlCStopsAQuestion(t *testing.T) {
	db := newDB(t)
	create(t, db, "--name", "batch", "--env", "dev")
	st, err := storage.OpenBolt(db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.ListKeys(context.Background(), storage.Filter{})
	st.Close()
	if err != nil || len(keys) != 1 {
		t.Fatal(keys, err)
	}
	id := keys[0].ID
	runUntil := func(ctx context.Context, stderr io.Writer, args ...string) chan int {
		in, w := io.Pipe() // a terminal no one types on
		t.Cleanup(func() { w.Close() })
		env := Env{Stdin: in, Stdout: io.Discard, Stderr: stderr, Getenv: func(k string) string {
			if k == "KEYDEN_DB" {
				return db
			}
			return ""
		}, IsTerminal: func(any) bool { return true }}
		code := make(chan int, 1)
		go func() { code <- Run(ctx, args, env) }()
		return code
	}
	wait := func(code chan int) int {
		select {
		case c := <-code:
			return c
		case <-time.After(10 * time.Second):
			t.Fatal("keyden still waits for an answer after ctrl+c")
			return 0
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	var errb testutil.SyncBuffer
	code := runUntil(ctx, &errb, "delete", id)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(errb.String(), "Type yes to delete: "); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no question: %q", errb.String())
		}
	}
	cancel()
	if c := wait(code); c != ExitRefused || !strings.Contains(errb.String(), "Cancelled. Not deleted.") {
		t.Fatalf("delete, ctrl+c at the question: %d %q", c, errb.String())
	}
	if got := listed(t, db); len(got) != 1 {
		t.Fatalf("the key was deleted: %v", got)
	}

	// verify waits for the key on stdin: ctrl+c stops it too.
	ctx, cancel = context.WithCancel(context.Background())
	cancel()
	var verr testutil.SyncBuffer
	if c := wait(runUntil(ctx, &verr, "verify")); c != ExitRefused || !strings.Contains(verr.String(), "stopped before a key was read") {
		t.Fatalf("verify, ctrl+c before the key: %d %q", c, verr.String())
	}
}
