package testutil

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
)

// Cmd is an exec.Cmd whose process dies with the test binary (on Linux):
// a test binary killed by go test's -timeout or a cancelled CI job leaves
// no server, etcd member or client running to hold ports and files that
// the next run needs. Start, Run, Output and CombinedOutput start it so;
// everything else is exec.Cmd's.
type Cmd struct{ *exec.Cmd }

// Command is exec.Command for a child that dies with the test binary.
func Command(name string, args ...string) *Cmd {
	return &Cmd{exec.Command(name, args...)}
}

// CommandContext is exec.CommandContext for a child that dies with the
// test binary.
func CommandContext(ctx context.Context, name string, args ...string) *Cmd {
	return &Cmd{exec.CommandContext(ctx, name, args...)}
}

var (
	startOnce sync.Once
	starts    = make(chan func())
)

// Start starts the child from one goroutine locked to its thread for the
// life of the process: Linux sends the parent-death signal when the
// *thread* that started the child ends, and Go ends a thread when a
// goroutine locked to it returns, so a child started from any other
// thread could be killed while its test runs.
func (c *Cmd) Start() error {
	startOnce.Do(func() {
		go func() {
			runtime.LockOSThread()
			for f := range starts {
				f()
			}
		}()
	})
	dieWithTestBinary(c.Cmd)
	done := make(chan error, 1)
	starts <- func() { done <- c.Cmd.Start() }
	return <-done
}

// Run is exec.Cmd.Run.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Output is exec.Cmd.Output: stdout, and stderr in an *exec.ExitError.
func (c *Cmd) Output() ([]byte, error) {
	if c.Stdout != nil {
		return nil, errors.New("exec: Stdout already set")
	}
	var out, errb bytes.Buffer
	c.Stdout = &out
	captured := c.Stderr == nil
	if captured {
		c.Stderr = &errb
	}
	err := c.Run()
	if ee, ok := err.(*exec.ExitError); ok && captured {
		ee.Stderr = errb.Bytes()
	}
	return out.Bytes(), err
}

// CombinedOutput is exec.Cmd.CombinedOutput.
func (c *Cmd) CombinedOutput() ([]byte, error) {
	if c.Stdout != nil || c.Stderr != nil {
		return nil, errors.New("exec: Stdout or Stderr already set")
	}
	var b bytes.Buffer
	c.Stdout, c.Stderr = &b, &b
	err := c.Run()
	return b.Bytes(), err
}

// Gone says the process is no more (or a zombie nobody reaped yet).
func Gone(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	_, after, _ := strings.Cut(string(b), ") ")
	return strings.HasPrefix(after, "Z")
}
