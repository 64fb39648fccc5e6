package storage

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"keyden/internal/testutil"
	"keyden/model"
)

// TestMain lets the test binary double as the crash test's child process.
func TestMain(m *testing.M) {
	if path := os.Getenv("KEYDEN_CRASH_CHILD"); path != "" {
		if os.Getenv("KEYDEN_CRASH_MODE") == "lifecycle" {
			lifecycleChild(path)
		}
		crashChild(path)
		return
	}
	code := m.Run()
	stopSharedEtcd()
	os.Exit(code)
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
		cmd := testutil.Command(os.Args[0], "-test.run=^$")
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

// lifecycleChild runs every kind of change in a loop until it is killed.
func lifecycleChild(path string) {
	st, err := OpenBolt(path, Options{Actor: "crash", Timeout: 10 * time.Second})
	if err != nil {
		os.Exit(3)
	}
	for i := 0; ; i++ {
		c, err := st.CreateKey(ctx, CreateRequest{Name: fmt.Sprintf("life %d", i), Channel: "default", Environment: "dev"})
		must(err)
		_, err = st.SetDisabled(ctx, c.Key.ID, true)
		must(err)
		if i%2 == 0 {
			_, err = st.SetDisabled(ctx, c.Key.ID, false)
			must(err)
			r, err := st.RotateKey(ctx, RotateRequest{ID: c.Key.ID, Grace: time.Hour})
			must(err)
			if i%4 == 0 {
				_, err = st.DeleteKey(ctx, r.New.Key.ID)
				must(err)
			}
		}
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(4)
	}
}

// Kill a process making every kind of change at random moments: each
// change and its audit event are in the store together or not at all, so
// replaying the audit log gives exactly the keys the store holds.
func TestAuditAndChangeAreAtomic(t *testing.T) {
	rounds := 15
	if testing.Short() {
		rounds = 4
	}
	path := t.TempDir() + "/life.db"
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	for round := 0; round < rounds; round++ {
		cmd := testutil.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "KEYDEN_CRASH_CHILD="+path, "KEYDEN_CRASH_MODE=lifecycle")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Duration(20000+rng.IntN(60000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		checkStore(t, path, nil)
		st, _ := OpenBolt(path, Options{Actor: "checker"})
		evs, err := st.Audit(ctx, AuditFilter{})
		if err != nil {
			t.Fatal(err)
		}
		// Replay oldest first.
		type state struct{ disabled, rotated bool }
		want := map[string]*state{}
		for i := len(evs) - 1; i >= 0; i-- {
			e := evs[i]
			switch e.Action {
			case model.ActionCreate:
				want[e.KeyID] = &state{}
			case model.ActionDelete:
				delete(want, e.KeyID)
			case model.ActionDisable:
				want[e.KeyID].disabled = true
			case model.ActionEnable:
				want[e.KeyID].disabled = false
			case model.ActionRotate:
				want[e.KeyID].rotated = true
			}
		}
		keys, err := st.ListKeys(ctx, Filter{})
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != len(want) {
			t.Fatalf("round %d: the store holds %d keys, the audit log says %d", round, len(keys), len(want))
		}
		for _, k := range keys {
			w, ok := want[k.ID]
			if !ok || w.disabled != k.Disabled || w.rotated != (k.RotatedTo != "") {
				t.Fatalf("round %d: key %s is %+v in the store but %+v by the audit log", round, k.ID, k, w)
			}
		}
	}
}
