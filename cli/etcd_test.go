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

// With $KEYDEN_DB on etcd and no keyden-etcd anywhere, the commands that
// open no store still work (a shell's startup file runs keyden completion),
// and scan lets the checksum decide as when etcd is down.
func TestNoKeydenEtcdLeavesStorelessCommandsWorking(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("PATH", dir)
	vars := map[string]string{"KEYDEN_DB": "etcd://127.0.0.1:1/k"}
	for _, c := range []struct {
		args  []string
		stdin string
		code  int
		out   string // in stdout, or stderr when code is not 0
	}{
		{[]string{"help"}, "", 0, "Available Commands"},
		{[]string{"help", "scan"}, "", 0, "keyden scan"},
		{[]string{"completion", "bash"}, "", 0, "bash completion"},
		{[]string{"man", "--dir", dir}, "", 0, ""},
		{[]string{"scan", "-"}, otherStoreKey + "\n", 1, "keyden-etcd, which is neither next to keyden nor on PATH"},
		{[]string{"scan", "--disable", "-"}, otherStoreKey + "\n", 1, "so nothing can be disabled"},
		{[]string{"list"}, "", 1, "keyden-etcd, which is neither next to keyden nor on PATH"},
	} {
		var out, errb bytes.Buffer
		ran := ""
		code := Run(context.Background(), c.args, Env{
			Stdin: strings.NewReader(c.stdin), Stdout: &out, Stderr: &errb, Executable: filepath.Join(dir, "keyden"),
			Getenv: func(k string) string { return vars[k] },
			Exec:   func(path string) error { ran = path; return nil },
		})
		got := out.String()
		if code != 0 {
			got = errb.String()
		}
		if code != c.code || ran != "" || !strings.Contains(got, c.out) {
			t.Errorf("keyden %v: exit %d (want %d), ran %q\n%s%s", c.args, code, c.code, ran, out.String(), errb.String())
		}
	}
}
