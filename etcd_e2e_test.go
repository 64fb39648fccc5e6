package main

import (
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"keyden/internal/etcdtest"
)

// Two `keyden serve` processes on one etcd: a delete is refused by both
// within 1 s, and their last-used counts add up exactly.
func TestTwoVerifiersOnOneEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd in -short")
	}
	ms := etcdtest.Start(t, 1, t.TempDir(), false)
	defer ms[0].Stop()
	loc := etcdtest.URL(ms, "/two")
	key := func() string {
		o, errs, code := keyden(t, loc, "", "create", "--name", "shared", "--env", "prod")
		if code != 0 {
			t.Fatalf("create on etcd: %s", errs)
		}
		return strings.TrimSpace(o)
	}()
	cmdA, addrA, logsA := startServe(t, loc)
	cmdB, addrB, logsB := startServe(t, loc)
	hit := func(addr string) int { return statusOf("http://"+addr+"/verify/prod", "x-api-key", key) }
	var wg sync.WaitGroup
	counts := map[string]int{addrA: 300, addrB: 200}
	for addr, n := range counts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				if code := hit(addr); code != 200 {
					t.Errorf("%s: %d", addr, code)
					return
				}
			}
		}()
	}
	wg.Wait()
	id := keyID(t, loc, "shared")
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, _ := useCount(t, loc, id)
		if n == 500 {
			break
		}
		if time.Now().After(deadline) || n > 500 {
			t.Fatalf("use count %d, want exactly 500\n%s\n%s", n, logsA, logsB)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, errs, code := keyden(t, loc, "", "delete", id, "--yes"); code != 0 {
		t.Fatal(errs)
	}
	deleted := time.Now()
	for hit(addrA) != 401 || hit(addrB) != 401 {
		if time.Since(deleted) > time.Second {
			t.Fatalf("a verifier still accepts the deleted key after 1 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("both verifiers refuse %v after the delete", time.Since(deleted).Round(time.Millisecond))
	cmdA.Process.Signal(syscall.SIGTERM)
	cmdB.Process.Signal(syscall.SIGTERM)
	if err := cmdA.Wait(); err != nil {
		t.Fatalf("serve A: %v %s", err, logsA)
	}
	if err := cmdB.Wait(); err != nil {
		t.Fatalf("serve B: %v %s", err, logsB)
	}
}

// keyden migrate moves a file store to etcd and back; keys keep working.
func TestMigrateCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("embedded etcd in -short")
	}
	ms := etcdtest.Start(t, 1, t.TempDir(), false)
	defer ms[0].Stop()
	dir := t.TempDir()
	file := filepath.Join(dir, "k.db")
	key := func() string {
		o, _, _ := keyden(t, file, "", "create", "--name", "moving", "--env", "dev")
		return strings.TrimSpace(o)
	}()
	loc := etcdtest.URL(ms, "/moved")
	out, errs, code := keyden(t, file, "", "migrate", "--from", file, "--to", loc)
	if code != 0 || !strings.Contains(out, "Copied 1 key,") || !strings.Contains(out, "the copy matches") {
		t.Fatalf("migrate to etcd: %d %q %q", code, out, errs)
	}
	if _, errs, code := keyden(t, loc, key, "verify", "--env", "dev"); code != 0 {
		t.Fatalf("verify on etcd after migrate: %s", errs)
	}
	back := filepath.Join(dir, "back.db")
	if _, errs, code := keyden(t, file, "", "migrate", "--from", loc, "--to", back); code != 0 {
		t.Fatalf("migrate back: %s", errs)
	}
	if _, errs, code := keyden(t, back, key, "verify"); code != 0 {
		t.Fatalf("verify after migrating back: %s", errs)
	}
	if _, errs, code := keyden(t, file, "", "migrate", "--from", file, "--to", loc); code != 1 || !strings.Contains(errs, "is not empty") {
		t.Fatalf("migrate into a used prefix: %d %q", code, errs)
	}
	if _, errs, code := keyden(t, file, "", "migrate", "--from", filepath.Join(dir, "nope.db"), "--to", filepath.Join(dir, "x.db")); code != 1 || !strings.Contains(errs, "does not exist") {
		t.Fatalf("migrate from nothing: %d %q", code, errs)
	}
}
