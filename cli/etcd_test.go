package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A keyden without the etcd client hands a run on an etcd location to the
// keyden-etcd beside its binary before the command reads its input (verify
// reads the key from stdin), and never hands off a run on a file.
func TestEtcdRunsAreHandedOffFirst(t *testing.T) {
	dir := t.TempDir()
	helper := filepath.Join(dir, EtcdHelper)
	if err := os.WriteFile(helper, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "k.db")
	for _, c := range []struct {
		vars map[string]string
		args []string
		want string // the program run in keyden's place ("" none)
	}{
		{map[string]string{"KEYDEN_DB": "etcd://127.0.0.1:1/k"}, []string{"verify"}, helper},
		{map[string]string{"KEYDEN_DB": file}, []string{"--db", "etcds://127.0.0.1:1/k", "list"}, helper},
		{map[string]string{"KEYDEN_DB": file}, []string{"migrate", "--from", file, "--to", "etcd://127.0.0.1:1/k"}, helper},
		{map[string]string{"KEYDEN_DB": "etcd://127.0.0.1:1/k"}, []string{"--db", file, "verify"}, ""},
		{map[string]string{"KEYDEN_DB": file}, []string{"list", "--name", "etcd://x"}, ""},
	} {
		stdin := strings.NewReader("kd_prod_not-read\n")
		var ran string
		left := -1 // what stdin still held when keyden-etcd took over
		var out, errb bytes.Buffer
		Run(context.Background(), c.args, Env{
			Stdin: stdin, Stdout: &out, Stderr: &errb, Executable: filepath.Join(dir, "keyden"),
			Getenv: func(k string) string { return c.vars[k] },
			// syscall.Exec does not return; this one does, and the run goes on.
			Exec: func(path string) error { ran, left = path, stdin.Len(); return nil },
		})
		if ran != c.want {
			t.Errorf("%v %v ran %q in keyden's place, want %q (%s)", c.vars, c.args, ran, c.want, errb.String())
		}
		if c.want != "" && left != len("kd_prod_not-read\n") {
			t.Errorf("%v %v: stdin was read before the hand-off", c.vars, c.args)
		}
	}
}
