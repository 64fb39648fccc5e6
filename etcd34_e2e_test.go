package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"keyden/internal/etcdtest"
	"keyden/internal/testutil"
)

// `keyden serve` on etcd 3.4 with auth keeps following the store after its
// login token expires (--auth-token-ttl 5, idle > 5 s): a delete made
// afterwards is refused, uses are written, and SIGTERM returns at once.
// Before, every store call timed out, a deleted key kept working and
// SIGTERM took minutes.
func TestServeOnEtcd34AcrossTokenExpiry(t *testing.T) {
	if testing.Short() {
		t.Skip("etcd 3.4 process in -short")
	}
	p := etcdtest.StartProcs(t, 1, etcdtest.ProcOptions{NoFsync: true, Extra: []string{"--auth-token", "simple", "--auth-token-ttl", "5"}})[0]
	p.EnableAuth(t, "keyden", "kpw", "/ka")
	env := []string{"KEYDEN_DB=etcd://keyden@" + p.Endpoint() + "/ka", "KEYDEN_ETCD_PASSWORD=kpw", "HOME=" + os.TempDir(), "PATH=/usr/bin:/bin"}
	run := func(stdin string, args ...string) (string, string, int) {
		cmd := testutil.Command(bin, args...)
		cmd.Env = env
		return runProcess(t, cmd, stdin)
	}
	secret := func(name string) string {
		out, errs, code := run("", "create", "--name", name, "--env", "prod")
		if code != 0 {
			t.Fatalf("create on etcd 3.4 with auth: %s", errs)
		}
		return strings.TrimSpace(out)
	}
	kept, doomed := secret("kept"), secret("doomed")

	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	serve := testutil.Command(bin, "serve", "--listen", addr)
	serve.Env = env
	hit := func(key string) int { return statusOf("http://"+addr+"/verify/prod", "x-api-key", key) }
	logs := runServe(t, serve, 30*time.Second, func() bool { return hit(kept) == http.StatusOK })
	// The first use is written now, then nothing reaches etcd from serve.
	time.Sleep(8 * time.Second) // longer than the token's TTL with no traffic: the scenario itself, not a wait

	if _, errs, code := run(kept, "verify", "--env", "prod"); code != 0 {
		t.Fatalf("verify from the command line: %s", errs)
	}
	ids := map[string]string{}
	out, errs, code := run("", "list", "--json")
	var keys []struct{ ID, Name string }
	if err := json.Unmarshal([]byte(out), &keys); err != nil || code != 0 {
		t.Fatalf("list: %v %s", err, errs)
	}
	for _, k := range keys {
		ids[k.Name] = k.ID
	}
	id := ids["doomed"]
	if _, errs, code := run("", "delete", id, "--yes"); code != 0 {
		t.Fatalf("delete: %s", errs)
	}
	deleted := time.Now()
	for hit(doomed) != http.StatusUnauthorized {
		if time.Since(deleted) > 2*time.Second {
			t.Fatalf("serve still accepts a key deleted after its login expired\n%s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("serve refuses the deleted key %v after the delete", time.Since(deleted).Round(time.Millisecond))
	if hit(kept) != http.StatusOK {
		t.Fatal("the kept key is refused")
	}
	stop := time.Now()
	serve.Process.Signal(syscall.SIGTERM)
	if err := serve.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, logs)
	}
	t.Logf("SIGTERM to exit: %v", time.Since(stop).Round(time.Millisecond))
	if time.Since(stop) > 5*time.Second {
		t.Fatalf("SIGTERM took %v\n%s", time.Since(stop), logs)
	}
	if strings.Contains(logs.String(), "did not answer") || strings.Contains(logs.String(), "rpc error") {
		t.Fatalf("serve's log:\n%s", logs)
	}
	out, _, _ = run("", "show", "--json", ids["kept"])
	var k struct {
		UseCount int `json:"use_count"`
	}
	if json.Unmarshal([]byte(out), &k); k.UseCount != 3 {
		t.Fatalf("the uses were not all written: %s", out)
	}
}
