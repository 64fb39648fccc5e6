package testutil

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// A test binary killed outright (as go test's -timeout or a cancelled CI
// job does) takes the child it started with it.
func TestChildDiesWithTheTestBinary(t *testing.T) {
	if pidFile := os.Getenv("KEYDEN_TESTUTIL_PIDFILE"); pidFile != "" {
		child := Command("sleep", "300")
		if err := child.Start(); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(pidFile, []byte(strconv.Itoa(child.Process.Pid)), 0o600)
		child.Wait() // until killed
		return
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	bin := Command(os.Args[0], "-test.run=^TestChildDiesWithTheTestBinary$")
	bin.Env = append(os.Environ(), "KEYDEN_TESTUTIL_PIDFILE="+pidFile)
	if err := bin.Start(); err != nil {
		t.Fatal(err)
	}
	var pid int
	WaitFor(t, "the child started", func() bool {
		b, _ := os.ReadFile(pidFile)
		pid, _ = strconv.Atoi(string(b))
		return pid > 0
	})
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) })
	bin.Process.Kill()
	bin.Wait()
	WaitFor(t, "the orphaned child ended", func() bool { return Gone(pid) })
}

// A child started by a goroutine locked to a thread that then ends (Go
// ends the thread with the goroutine) lives on: the parent-death signal
// follows the thread that forked the child, not the test binary.
func TestChildOutlivesTheThreadThatStartedIt(t *testing.T) {
	type started struct {
		child *Cmd
		tid   int
		err   error
	}
	var s started
	for {
		ch := make(chan started)
		go func() {
			runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
			c := Command("sleep", "300")
			err := c.Start()
			ch <- started{c, syscall.Gettid(), err}
		}()
		if s = <-ch; s.err != nil {
			t.Fatal(s.err)
		}
		c := s.child
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		if s.tid != os.Getpid() { // Go parks the main thread instead of ending it
			break
		}
	}
	WaitFor(t, "the thread ended", func() bool {
		_, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", s.tid))
		return os.IsNotExist(err)
	})
	// A parent-death signal is sent before the thread's entry leaves /proc:
	// the child ends by this SIGTERM only if none was sent.
	s.child.Process.Signal(syscall.SIGTERM)
	err := s.child.Wait()
	if ws, ok := s.child.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("the child ended with %v, not by the test's SIGTERM", err)
	}
}

// Test code (what imports "testing") starts children only through Command
// and CommandContext, so none outlives a killed test binary.
func TestTestsStartChildrenOnlyThroughCommand(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	starts := regexp.MustCompile(`\b(exec\.Command|exec\.CommandContext|os\.StartProcess|syscall\.ForkExec)\(`)
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata" || path == filepath.Join(root, "internal", "testutil")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil || !strings.Contains(string(b), `"testing"`) {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if starts.MatchString(line) {
				t.Errorf("%s:%d starts a child that outlives a killed test binary: use testutil.Command", strings.TrimPrefix(path, root+"/"), i+1)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
