package testutil

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A folder left by a test process that was killed is removed by the next
// process that makes one of the same kind; a live process's stays.
func TestProcessTempDirRemovesTheKilledProcesssFolder(t *testing.T) {
	if os.Getenv("KEYDEN_TESTUTIL_TEMPDIR") != "" {
		dir, err := ProcessTempDir("keyden-tempdir-test")
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "file"), []byte("x"), 0o600)
		os.Stdout.WriteString(dir + "\n")
		time.Sleep(time.Hour) // until killed
	}
	t.Setenv("TMPDIR", t.TempDir())
	live, err := ProcessTempDir("keyden-tempdir-test")
	if err != nil {
		t.Fatal(err)
	}
	var out SyncBuffer
	bin := Command(os.Args[0], "-test.run=^TestProcessTempDirRemovesTheKilledProcesssFolder$")
	bin.Env = append(os.Environ(), "KEYDEN_TESTUTIL_TEMPDIR=1")
	bin.Stdout, bin.Stderr = &out, &out
	if err := bin.Start(); err != nil {
		t.Fatal(err)
	}
	var left string
	WaitFor(t, "the killed process's folder", func() bool {
		dir, ok := strings.CutSuffix(out.String(), "\n")
		left = dir
		return ok
	})
	bin.Process.Kill()
	bin.Wait()
	if _, err := os.Stat(filepath.Join(left, "file")); err != nil {
		t.Fatalf("the folder is not there to be removed: %v\n%s", err, out.String())
	}
	next, err := ProcessTempDir("keyden-tempdir-test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(left); !os.IsNotExist(err) {
		t.Fatalf("the killed process's folder %s is still there (%v)", left, err)
	}
	for _, d := range []string{live, next} {
		if _, err := os.Stat(d); err != nil {
			t.Fatalf("a live process's folder went: %v", err)
		}
	}
}
