package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"keyden/internal/testutil"
)

func freePort(t *testing.T) int { return testutil.FreePort(t) }

// startServe runs `keyden serve` and waits until it answers.
func startServe(t *testing.T, db string, args ...string) (*testutil.Cmd, string, *testutil.SyncBuffer) {
	t.Helper()
	return startServeWithin(t, 10*time.Second, db, args...)
}

// startServeWithin is startServe waiting up to limit.
func startServeWithin(t *testing.T, limit time.Duration, db string, args ...string) (*testutil.Cmd, string, *testutil.SyncBuffer) {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := testutil.Command(bin, append([]string{"--db", db, "serve", "--listen", addr}, args...)...)
	cmd.Env = []string{"HOME=" + os.TempDir(), "PATH=/usr/bin:/bin"}
	logs := runServe(t, cmd, limit, func() bool {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
	return cmd, addr, logs
}

// runServe starts cmd, a `keyden serve`, with its stderr in a log that may
// be read while it runs, kills it when the test ends, and waits up to limit
// until up says it answers.
func runServe(t *testing.T, cmd *testutil.Cmd, limit time.Duration, up func() bool) *testutil.SyncBuffer {
	t.Helper()
	logs := &testutil.SyncBuffer{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(limit); !up(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("keyden serve did not start: %s", logs)
		}
	}
	return logs
}

func keyID(t *testing.T, db, name string) string {
	out, _, _ := keyden(t, db, "", "list", "--json")
	var arr []struct{ ID, Name string }
	json.Unmarshal([]byte(out), &arr)
	for _, k := range arr {
		if k.Name == name {
			return k.ID
		}
	}
	t.Fatalf("no key %s", name)
	return ""
}

func useCount(t *testing.T, db, id string) (uint64, string) {
	out, errs, _ := keyden(t, db, "", "show", "--json", id)
	var k struct {
		UseCount   uint64 `json:"use_count"`
		LastUsedAt string `json:"last_used_at"`
	}
	if err := json.Unmarshal([]byte(out), &k); err != nil {
		t.Fatalf("show: %v %s", err, errs)
	}
	return k.UseCount, k.LastUsedAt
}

// SIGTERM under load: drain, flush, exit 0, and every use answered 200 is counted.
func TestServeShutdownLosesNoAnsweredUse(t *testing.T) {
	db := filepath.Join(t.TempDir(), "k.db")
	key := strings.TrimSpace(func() string { o, _, _ := keyden(t, db, "", "create", "--name", "loaded", "--env", "prod"); return o }())
	cmd, addr, logs := startServe(t, db)
	var ok atomic.Uint64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				req, _ := http.NewRequest("GET", "http://"+addr+"/verify", nil)
				req.Header.Set("Authorization", "Bearer "+key)
				resp, err := client.Do(req)
				if err != nil {
					continue // refused or cut off while stopping: not an answered check
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == 200 {
					ok.Add(1)
				}
			}
		}()
	}
	// Stop under load once a periodic flush has written uses and more were
	// answered since, so the final flush has its own to write.
	id := keyID(t, db, "loaded")
	var flushed uint64
	testutil.WaitFor(t, "a periodic flush under load", func() bool {
		flushed, _ = useCount(t, db, id)
		return flushed > 0
	})
	testutil.WaitFor(t, "checks answered after the flush", func() bool { return ok.Load() > flushed })
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("keyden serve after SIGTERM: %v\n%s", err, logs.String())
	}
	got, _ := useCount(t, db, id)
	if got != ok.Load() || got == 0 {
		t.Fatalf("use count %d, but %d checks were answered 200\n%s", got, ok.Load(), logs.String())
	}
	t.Logf("%d answered checks, all counted", got)
}

// gateway starts a real reverse proxy in dir, listening on port, that asks
// keyden serve at kaddr about each request before passing it to backend.
// It returns what the proxy logged, for failures.
type gateway func(t *testing.T, dir string, port int, kaddr, backend string) (logs func() string)

// findTool finds a gateway's binary or skips (fails in CI, which installs it).
func findTool(t *testing.T, name, fallback, pkg string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is missing: .ci/run installs it", name)
	}
	t.Skipf("%s is not installed (apt-get install %s)", name, pkg)
	return ""
}

// testGateway runs the same checks through any gateway: a good key reaches
// the backend with its id, bad ones get 401 and never reach it, last used
// advances, and a key deleted in a shell is refused within 1 s.
func testGateway(t *testing.T, name string, start gateway) {
	dir := t.TempDir()
	db := filepath.Join(dir, "k.db")
	key := func() string {
		o, _, _ := keyden(t, db, "", "create", "--name", "behind "+name, "--env", "prod")
		return strings.TrimSpace(o)
	}()
	_, kaddr, _ := startServe(t, db, "--trusted-proxy", "127.0.0.1")
	var backendHits atomic.Int64
	var lastKeyID atomic.Value
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		backendHits.Add(1)
		lastKeyID.Store(r.Header.Get("X-Key-Id"))
		fmt.Fprintln(w, "hello from the backend")
	}))
	defer backend.Close()
	port := freePort(t)
	logs := start(t, dir, port, kaddr, backend.URL)
	front := fmt.Sprintf("http://127.0.0.1:%d/orders", port)
	get := func(k string) int {
		if k == "" {
			return statusOf(front, "", "")
		}
		return statusOf(front, "Authorization", "Bearer "+k)
	}
	deadline := time.Now().Add(10 * time.Second)
	for get(key) != 200 {
		if time.Now().After(deadline) {
			t.Fatalf("a good key never reached the backend through %s: %s", name, logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
	id := keyID(t, db, "behind "+name)
	if backendHits.Load() == 0 || lastKeyID.Load() != id {
		t.Fatalf("backend hits %d, X-Key-Id %v", backendHits.Load(), lastKeyID.Load())
	}
	hits := backendHits.Load()
	for _, bad := range []string{"", "kd_prod_not-a-key", "kd_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn0gZMuH"} {
		if code := get(bad); code != 401 {
			t.Fatalf("bad key %q through %s: %d", bad, name, code)
		}
	}
	if backendHits.Load() != hits {
		t.Fatal("a bad key reached the backend")
	}
	// The gateway keeps its connections to serve alive: 1,000 checks,
	// one in ten refused, open at most 50 new ones.
	before := acceptedConns(t, kaddr)
	for i := range 1000 {
		k, want := key, 200
		if i%10 == 9 {
			k, want = "kd_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn0gZMuH", 401
		}
		if code := get(k); code != want {
			t.Fatalf("check %d through %s: %d, want %d", i, name, code, want)
		}
	}
	if n := acceptedConns(t, kaddr) - before - 1; n > 50 { // less the read of /metrics itself
		t.Fatalf("serve accepted %d connections from %s for 1,000 checks: it does not keep them alive", n, name)
	} else {
		t.Logf("serve accepted %d connections from %s for 1,000 checks", n, name)
	}
	// Last used advances (flushed within a second or so).
	deadline = time.Now().Add(5 * time.Second)
	for {
		if n, at := useCount(t, db, id); n > 0 && at != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("last used never advanced")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Deleted in a shell: refused through the gateway within 1 s.
	if _, errs, code := keyden(t, db, "", "delete", id, "--yes"); code != 0 {
		t.Fatal(errs)
	}
	deleted := time.Now()
	for get(key) != 401 {
		if time.Since(deleted) > time.Second {
			t.Fatalf("the deleted key still passes %s after 1 s", name)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("refused through %s %v after the delete", name, time.Since(deleted).Round(time.Millisecond))
}

// acceptedConns reads how many connections serve at addr has accepted, on
// a connection of its own.
func acceptedConns(t *testing.T, addr string) int {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := c.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var n int
	for line := range strings.Lines(string(b)) {
		if _, err := fmt.Sscanf(line, "keyden_connections_accepted_total %d", &n); err == nil {
			return n
		}
	}
	t.Fatalf("no keyden_connections_accepted_total in /metrics:\n%s", b)
	return 0
}

// A real nginx in front of a tiny backend, with keyden serve as its
// auth_request, configured as the README shows (keep-alive to serve).
func TestNginxAuthRequest(t *testing.T) {
	testGateway(t, "nginx", nginxGateway(findTool(t, "nginx", "/usr/sbin/nginx", "nginx")))
}

// nginxGateway starts the nginx binary in front of a backend, with keyden
// serve as its auth_request for /verify/prod.
func nginxGateway(nginx string) gateway {
	return func(t *testing.T, dir string, port int, kaddr, backend string) func() string {
		for _, d := range []string{"tmp", "logs"} {
			os.MkdirAll(filepath.Join(dir, d), 0o755)
		}
		conf := fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/tmp/body;
  proxy_temp_path %[1]s/tmp/proxy;
  fastcgi_temp_path %[1]s/tmp/fastcgi;
  uwsgi_temp_path %[1]s/tmp/uwsgi;
  scgi_temp_path %[1]s/tmp/scgi;
  upstream keyden {
    server %[4]s;
    keepalive 16;
  }
  server {
    listen 127.0.0.1:%[2]d;
    location / {
      auth_request /_keyden;
      auth_request_set $key_id $upstream_http_x_key_id;
      proxy_set_header X-Key-Id $key_id;
      proxy_pass %[3]s;
    }
    location = /_keyden {
      internal;
      proxy_pass http://keyden/verify/prod;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Forwarded-For $remote_addr;
    }
  }
}
`, dir, port, backend, kaddr)
		confPath := filepath.Join(dir, "nginx.conf")
		os.WriteFile(confPath, []byte(conf), 0o644)
		ng := testutil.Command(nginx, "-p", dir, "-c", confPath, "-e", filepath.Join(dir, "logs", "error.log"))
		out := &testutil.SyncBuffer{}
		ng.Stdout, ng.Stderr = out, out
		if err := ng.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ng.Process.Signal(syscall.SIGQUIT); ng.Wait() })
		return func() string {
			errlog, _ := os.ReadFile(filepath.Join(dir, "logs", "error.log"))
			return out.String() + string(errlog)
		}
	}
}

// A real Caddy (Debian's package) in front of the backend, with keyden serve
// as its forward_auth, configured as the README shows.
func TestCaddyForwardAuth(t *testing.T) {
	caddy := findTool(t, "caddy", "/usr/bin/caddy", "caddy")
	testGateway(t, "caddy", func(t *testing.T, dir string, port int, kaddr, backend string) func() string {
		conf := fmt.Sprintf(`{
	admin off
	auto_https off
}
http://127.0.0.1:%d {
	bind 127.0.0.1
	forward_auth %s {
		uri /verify/prod
		copy_headers X-Key-Id X-Key-Name X-Key-Scopes
		transport http {
			keepalive 90s
		}
	}
	reverse_proxy %s
}
`, port, kaddr, strings.TrimPrefix(backend, "http://"))
		confPath := filepath.Join(dir, "Caddyfile")
		os.WriteFile(confPath, []byte(conf), 0o644)
		cmd := testutil.Command(caddy, "run", "--config", confPath, "--adapter", "caddyfile")
		// Caddy keeps state under HOME and XDG folders: keep them in the test's folder.
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir)
		out := &testutil.SyncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
		return out.String
	})
}
