package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"keyden/internal/fixture"
	"keyden/internal/testutil"
)

// bin is the real keyden binary, built once for the tests that need a
// process, with keyden-etcd beside it, where keyden finds it for an etcd
// store.
var bin string

func TestMain(m *testing.M) {
	if os.Getenv("KEYDEN_TEST_TMUX_PIDS") != "" { // TestTmuxDiesWithTheTestBinary's binary to kill: no keyden needed
		os.Exit(m.Run())
	}
	dir, err := testutil.ProcessTempDir("keyden-bin")
	if err != nil {
		panic(err)
	}
	bin = filepath.Join(dir, "keyden")
	build := testutil.Command("go", "build", "-o", dir+"/", ".", "./cmd/keyden-etcd")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building keyden:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// keyden runs the binary with a clean environment: KEYDEN_DB=db.
func keyden(t testing.TB, db, stdin string, args ...string) (string, string, int) {
	t.Helper()
	cmd := testutil.Command(bin, args...)
	cmd.Env = []string{"KEYDEN_DB=" + db, "HOME=" + os.TempDir(), "PATH=/usr/bin:/bin"}
	return runProcess(t, cmd, stdin)
}

// runProcess runs cmd with stdin and returns its output and exit code.
func runProcess(t testing.TB, cmd *testutil.Cmd, stdin string) (string, string, int) {
	t.Helper()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// Two shells creating keys at the same moment: every create succeeds and every key is kept.
func TestTwoShellsCreateAtOnce(t *testing.T) {
	db := filepath.Join(t.TempDir(), "k.db")
	keyden(t, db, "", "info")
	const shells, each = 2, 15
	var mu sync.Mutex
	var keys []string
	var wg sync.WaitGroup
	for s := 0; s < shells; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				out, errs, code := keyden(t, db, "", "create", "--name", fmt.Sprintf("shell %d key %d", s, i), "--env", "dev")
				if code != 0 {
					t.Errorf("create failed (%d): %s", code, errs)
					return
				}
				mu.Lock()
				keys = append(keys, strings.TrimSpace(out))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(keys) != shells*each {
		t.Fatalf("%d keys made", len(keys))
	}
	for _, k := range keys {
		if _, errs, code := keyden(t, db, k, "verify"); code != 0 {
			t.Fatalf("key lost: %s", errs)
		}
	}
}

func TestUnwritableFolder(t *testing.T) {
	dir := t.TempDir()
	var prefix []string
	if os.Getuid() == 0 {
		// Root writes anywhere: run keyden as nobody in a folder it may read but not write.
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("running as root without setpriv to drop to nobody")
		}
		// nobody must reach the folder (the test's parent folder is 0700) but not write in it.
		os.Chmod(filepath.Dir(dir), 0o755)
		os.Chmod(dir, 0o755)
		prefix = []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin}
	} else {
		os.Chmod(dir, 0o555)
		defer os.Chmod(dir, 0o700)
		prefix = []string{bin}
	}
	db := filepath.Join(dir, "k.db")
	cmd := testutil.Command(prefix[0], append(prefix[1:], "--db", db, "create", "--name", "x", "--env", "dev")...)
	cmd.Env = []string{"HOME=/nonexistent"}
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("want exit 1, got %v: %s", err, out)
	}
	if want := "keyden: cannot create the key store in " + dir + ": permission denied"; !strings.HasPrefix(string(out), want) || strings.Count(string(out), "\n") != 1 {
		t.Fatalf("message %q, want it to start %q", out, want)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("something was written: %v", entries)
	}
}

func TestNoTerminalNoTUI(t *testing.T) {
	_, errs, code := keyden(t, filepath.Join(t.TempDir(), "k.db"), "")
	if code != 2 || !strings.Contains(errs, "needs a terminal") {
		t.Fatalf("exit %d: %q", code, errs)
	}
}

func benchStore(b *testing.B, n int) (string, []string) {
	st, secrets, err := fixture.OpenFilled(context.Background(), filepath.Join(os.TempDir(), fmt.Sprintf("keyden-bench-%d.db", n)), n, 1000)
	if err != nil {
		b.Fatal(err)
	}
	return st.Path(), secrets
}

// `keyden verify` as a whole process (start, open, verify, record last used, exit).
func BenchmarkVerifyProcess100k(b *testing.B) {
	db, secrets := benchStore(b, 100_000)
	i := 0
	for b.Loop() {
		if _, errs, code := keyden(b, db, secrets[i%len(secrets)], "verify", "--ip", "127.0.0.1"); code != 0 {
			b.Fatal(errs)
		}
		i++
	}
}

// `keyden list --json` over 100k keys as a whole process.
func BenchmarkListJSONProcess100k(b *testing.B) {
	db, _ := benchStore(b, 100_000)
	for b.Loop() {
		cmd := testutil.Command(bin, "--db", db, "list", "--json")
		cmd.Stdout = nil // discarded, as to /dev/null
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// statusOf sends GET url with one header and returns the status (-1: no answer).
func statusOf(url, header, value string) int {
	req, _ := http.NewRequest("GET", url, nil)
	if value != "" {
		req.Header.Set(header, value)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return -1
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
