package storage

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestMain lets the test binary double as the crash test's child process.
func TestMain(m *testing.M) {
	if path := os.Getenv("KEYDEN_CRASH_CHILD"); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

// crashChild creates keys until it is killed, reporting each one only after
// CreateKey returned (committed and fsynced).
func crashChild(path string) {
	st, err := OpenBolt(path, Options{Actor: "crash", Timeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		c, err := st.CreateKey(ctx, CreateRequest{Name: fmt.Sprintf("crash %d", i), Channel: "default", Environment: "prod"})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		fmt.Fprintln(w, c.Key.ID, c.Secret)
		w.Flush()
	}
}

func TestCrashAtRandomMomentsLosesNothing(t *testing.T) {
	rounds := 25
	if testing.Short() {
		rounds = 5
	}
	path := t.TempDir() + "/crash.db"
	reported := map[string]string{}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for round := 0; round < rounds; round++ {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "KEYDEN_CRASH_CHILD="+path)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Let it make at least one key, then kill it at a random moment.
		first, ok := <-lines
		if !ok {
			cmd.Wait()
			t.Fatalf("child made no key: %s", stderr.String())
		}
		time.Sleep(time.Duration(rng.IntN(40000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		for line := range chain(first, lines) {
			id, secret, ok := strings.Cut(line, " ")
			if !ok {
				continue // a half-written line: its key was not reported
			}
			reported[id] = secret
		}
		checkStore(t, path, reported)
	}
	t.Logf("%d rounds, %d keys reported and found", rounds, len(reported))
}

func chain(first string, rest <-chan string) <-chan string {
	out := make(chan string, 1)
	go func() {
		out <- first
		for l := range rest {
			out <- l
		}
		close(out)
	}()
	return out
}

// checkStore runs bbolt's consistency check and verifies every reported key.
func checkStore(t *testing.T, path string, reported map[string]string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatalf("consistency check after kill: %v", err)
	}
	st, _ := OpenBolt(path, Options{Actor: "checker"})
	for id, secret := range reported {
		res, err := st.Verify(ctx, VerifyRequest{Secret: secret})
		if err != nil || !res.OK || res.Key.ID != id {
			t.Fatalf("reported key %s lost after kill: %+v %v", id, res, err)
		}
	}
}
