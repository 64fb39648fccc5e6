package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keyden/internal/testutil"
)

// stuckChild is a page check's child that never finishes (as bbolt's did
// on a flipped overflow count): it writes its pid and sleeps.
func stuckChild(t *testing.T) (script, pidFile string) {
	dir := t.TempDir()
	script, pidFile = filepath.Join(dir, "child.sh"), filepath.Join(dir, "child.pid")
	body := fmt.Sprintf("#!/bin/sh\necho $$ > %s.tmp && mv %s.tmp %s\nexec sleep 300\n", pidFile, pidFile, pidFile)
	if err := os.WriteFile(script, []byte(body), 0o700); err != nil {
		t.Fatal(err)
	}
	return script, pidFile
}

func childPid(t *testing.T, pidFile string) int {
	var pid int
	testutil.WaitFor(t, "the child started", func() bool {
		b, err := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil && pid > 0
	})
	return pid
}

func checkWith(ctx context.Context, db, exe string) result {
	var out, errb bytes.Buffer
	env := Env{Stdout: &out, Stderr: &errb, Stdin: strings.NewReader(""), Executable: exe,
		Getenv: func(k string) string { return map[string]string{"KEYDEN_DB": db}[k] }}
	code := Run(ctx, []string{"check"}, env)
	return result{code, out.String(), errb.String()}
}

// A check stopped by Ctrl-C or SIGTERM ends its child and says it was
// stopped: it said "bbolt's page check crashed reading the file: a page
// of it is damaged".
func TestAStoppedCheckSaysSo(t *testing.T) {
	db := newDB(t)
	create(t, db, "--name", "a", "--channel", "default", "--env", "prod")
	script, pidFile := stuckChild(t)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan result)
	go func() { done <- checkWith(ctx, db, script) }()
	pid := childPid(t, pidFile)
	stop()
	r := <-done
	if r.code != ExitRefused || !strings.Contains(r.stderr, "the check was stopped") || strings.Contains(r.stdout+r.stderr, "damaged") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !testutil.Gone(pid) {
		t.Fatalf("the child %d is still running", pid)
	}
}

// A page check that runs past its time is ended and reported as such.
func TestAPageCheckOutOfTime(t *testing.T) {
	db := newDB(t)
	create(t, db, "--name", "a", "--channel", "default", "--env", "prod")
	script, pidFile := stuckChild(t)
	old := pageCheckTime
	pageCheckTime = 300 * time.Millisecond
	t.Cleanup(func() { pageCheckTime = old })
	r := checkWith(context.Background(), db, script)
	if r.code != ExitRefused || !strings.Contains(r.stdout, "bbolt's page check ran out of time") || !strings.Contains(r.stderr, "is damaged") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if pid := childPid(t, pidFile); !testutil.Gone(pid) {
		t.Fatalf("the child %d is still running", pid)
	}
}

// The child dies with keyden: killed (SIGKILL, no chance to clean up), its
// parent leaves no check running (it was orphaned and ran on).
func TestPageCheckChildDiesWithItsParent(t *testing.T) {
	if db, exe := os.Getenv("KEYDEN_TEST_CHECK_DB"), os.Getenv("KEYDEN_TEST_CHECK_EXE"); db != "" {
		checkWith(context.Background(), db, exe) // until killed
		return
	}
	db := newDB(t)
	create(t, db, "--name", "a", "--channel", "default", "--env", "prod")
	script, pidFile := stuckChild(t)
	parent := testutil.Command(os.Args[0], "-test.run=^TestPageCheckChildDiesWithItsParent$")
	parent.Env = append(os.Environ(), "KEYDEN_TEST_CHECK_DB="+db, "KEYDEN_TEST_CHECK_EXE="+script)
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	pid := childPid(t, pidFile)
	parent.Process.Signal(syscall.SIGKILL)
	parent.Wait()
	testutil.WaitFor(t, "the orphaned child ended", func() bool { return testutil.Gone(pid) })
}
