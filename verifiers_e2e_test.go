package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keyden/internal/etcdtest"
	"keyden/internal/testutil"
)

// Three serve processes confirm a delete ("refused by 3/3 verifiers") within
// 1 s, on a file and on a 3-member etcd; one stopped (SIGSTOP) is named as
// not confirming within --wait.
func TestRevocationLandsOnEveryVerifier(t *testing.T) {
	t.Run("file", func(t *testing.T) { testRevocationLands(t, filepath.Join(t.TempDir(), "k.db")) })
	t.Run("etcd 3 members", func(t *testing.T) {
		if testing.Short() {
			t.Skip("embedded etcd in -short")
		}
		ms := etcdtest.Start(t, 3, t.TempDir(), false)
		// Stopped after the serve processes (cleanups run last first).
		t.Cleanup(func() {
			for _, m := range ms {
				m.Stop()
			}
		})
		testRevocationLands(t, etcdtest.URL(ms, "/revoke"))
	})
}

func testRevocationLands(t *testing.T, db string) {
	mk := func(name string) (string, string) {
		out, errs, code := keyden(t, db, "", "create", "--name", name, "--env", "prod")
		if code != 0 {
			t.Fatal(errs)
		}
		return strings.TrimSpace(out), keyID(t, db, name)
	}
	key, id := mk("first")
	var serves []*testutil.Cmd
	var addrs []string
	for range 3 {
		cmd, addr, _ := startServe(t, db)
		serves, addrs = append(serves, cmd), append(addrs, addr)
	}
	var vs []struct {
		Listen  string `json:"listen"`
		Alive   bool   `json:"alive"`
		Applied uint64 `json:"applied"`
	}
	for deadline := time.Now().Add(10 * time.Second); len(vs) < 3; time.Sleep(50 * time.Millisecond) {
		out, _, _ := keyden(t, db, "", "verifiers", "--json")
		json.Unmarshal([]byte(out), &vs)
		if time.Now().After(deadline) {
			t.Fatalf("three verifiers never reported: %s", out)
		}
	}
	for _, v := range vs {
		if !v.Alive || v.Applied == 0 {
			t.Errorf("verifier %+v", v)
		}
	}
	_, errs, code := keyden(t, db, "", "delete", id, "--yes")
	m := regexp.MustCompile(`Refused by 3/3 verifiers in ([0-9.]+(?:ms|s))\.`).FindStringSubmatch(errs)
	if code != 0 || m == nil {
		t.Fatalf("delete: exit %d, %q", code, errs)
	}
	if took, err := time.ParseDuration(m[1]); err != nil || took > time.Second {
		t.Errorf("confirmed in %s, want ≤ 1s", m[1])
	}
	t.Logf("delete confirmed by 3/3 in %s", m[1])
	for _, addr := range addrs {
		if c := statusOf("http://"+addr+"/verify", "Authorization", "Bearer "+key); c != 401 {
			t.Errorf("%s still answers %d for the deleted key", addr, c)
		}
	}

	// One verifier stopped: the disable says which has not confirmed.
	_, id2 := mk("second")
	stopped := serves[0]
	stopProcess(t, stopped.Process.Pid)
	defer stopped.Process.Signal(syscall.SIGCONT)
	start := time.Now()
	_, errs, code = keyden(t, db, "", "disable", id2, "--wait", "1s")
	if code != 0 || !strings.Contains(errs, "keyden: Refused by 2/3 verifiers") || !strings.Contains(errs, fmt.Sprintf("pid %d on %s", stopped.Process.Pid, addrs[0])) {
		t.Fatalf("disable with a stopped verifier: exit %d, %q", code, errs)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("disable --wait 1s took %v", took)
	}
	out, _, _ := keyden(t, db, "", "verifiers")
	if !regexp.MustCompile(`(?m)^.*` + regexp.QuoteMeta(addrs[0]) + `.*\b[12] changes? behind$`).MatchString(out) {
		t.Errorf("keyden verifiers does not show the stopped one behind:\n%s", out)
	}
}

// stopProcess stops pid (SIGSTOP) and returns once it is stopped holding no
// file lock. kill returns before the stop is done: the kernel wakes one
// thread to begin it, and until that thread runs (late, on a loaded
// machine) the others go on, so a verifier could still apply a change made
// after the signal and say so. One stopped with the store's lock held
// would make every write wait for it: it is let go and stopped again.
func stopProcess(t *testing.T, pid int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not stop without a file lock held", pid)
		}
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		for !allThreadsStopped(t, pid) {
			if time.Now().After(deadline) {
				t.Fatalf("process %d did not stop", pid)
			}
			time.Sleep(time.Millisecond)
		}
		if !holdsLock(t, pid) {
			return
		}
		syscall.Kill(pid, syscall.SIGCONT)
	}
}

// allThreadsStopped says every thread of pid is in the stopped state: a
// thread still in a system call (a fsync) is not, and runs on until it
// returns.
func allThreadsStopped(t *testing.T, pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return false // a thread that just ended
		}
		// "tid (command) state ...": the command may hold any character.
		_, rest, _ := strings.Cut(string(stat[bytes.LastIndexByte(stat, ')')+1:]), " ")
		if !strings.HasPrefix(rest, "T") {
			return false
		}
	}
	return true
}

// holdsLock says pid holds a flock (bbolt's lock on the store file).
func holdsLock(t *testing.T, pid int) bool {
	locks, err := os.ReadFile("/proc/locks")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(locks), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[1] == "FLOCK" && f[4] == strconv.Itoa(pid) {
			return true
		}
	}
	return false
}
