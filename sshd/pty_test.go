package sshd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"

	gossh "golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"keyden/storage"
)

// A command run under a PTY gets a terminal to ask on, at the client's
// width (a line typed past it wraps there); without a PTY it gets none.
// Checked to fail before: Exec had no terminal, so nothing was echoed.
func TestCommandGetsThePTY(t *testing.T) {
	w := newBenchWorld(t, 0, func(o *Options) {
		o.Exec = func(ctx context.Context, st storage.Store, args []string, stdin io.Reader, stdout, stderr io.Writer, tty *term.Terminal) int {
			if tty == nil {
				fmt.Fprintln(stdout, "no terminal")
				return 0
			}
			line, err := tty.ReadLine()
			fmt.Fprintf(stdout, "got %q %v\n", line, err)
			return 0
		}
	})
	conn := w.dial(t)
	run := func(cols int) string {
		t.Helper()
		sess, err := conn.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if cols > 0 {
			if err := sess.RequestPty("xterm", 24, cols, gossh.TerminalModes{}); err != nil {
				t.Fatal(err)
			}
		}
		var out bytes.Buffer
		sess.Stdout = &out
		if cols > 0 { // without, the command may end before stdin is sent
			sess.Stdin = bytes.NewReader([]byte("abcdefghij\r"))
		}
		if err := sess.Run("delete k1"); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if got := run(0); got != "no terminal\n" {
		t.Fatalf("without a PTY: %q", got)
	}
	// Echoed as typed; at 10 columns the tenth letter ends the row.
	if got, want := run(10), "abcdefghij\r\n\r\ngot \"abcdefghij\" <nil>\r\n"; got != want {
		t.Fatalf("at 10 columns: %q, want %q", got, want)
	}
	if got, want := run(80), "abcdefghij\r\ngot \"abcdefghij\" <nil>\r\n"; got != want {
		t.Fatalf("at 80 columns: %q, want %q", got, want)
	}
}
