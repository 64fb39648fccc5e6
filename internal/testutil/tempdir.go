package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// ProcessTempDir makes a folder under os.TempDir for what a whole test
// process shares (t.TempDir is one test's), named prefix-PID-*. Its caller
// removes it when the tests end (in TestMain); a process killed before
// that leaves it, so ProcessTempDir first removes the folders of its
// prefix whose process is gone.
func ProcessTempDir(prefix string) (string, error) {
	entries, _ := os.ReadDir(os.TempDir())
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefix+"-")
		if !ok {
			continue
		}
		pid, _, _ := strings.Cut(rest, "-")
		if n, err := strconv.Atoi(pid); err == nil && n > 0 && syscall.Kill(n, 0) == syscall.ESRCH {
			os.RemoveAll(filepath.Join(os.TempDir(), e.Name()))
		}
	}
	return os.MkdirTemp("", fmt.Sprintf("%s-%d-", prefix, os.Getpid()))
}
