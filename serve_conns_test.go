package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"keyden/internal/testutil"
)

// About 20,000 idle keep-alive connections once used up serve's open files:
// new requests hung, and following the store and writing last used failed
// with "too many open files". Under `ulimit -n 256`, 400 connections each
// make one request and fall silent; then a key deleted in a shell is
// refused within 1 s, a new request is answered, and last used is written.
func TestServeUnderIdleConnectionFlood(t *testing.T) {
	db := filepath.Join(t.TempDir(), "k.db")
	create := func(name string) string {
		out, errs, code := keyden(t, db, "", "create", "--name", name, "--env", "prod")
		if code != 0 {
			t.Fatal(errs)
		}
		return strings.TrimSpace(out)
	}
	doomed, kept := create("doomed"), create("kept")
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := testutil.Command("/bin/sh", "-c", `ulimit -n 256 && exec "$@"`, "sh", bin, "--db", db, "serve", "--listen", addr)
	cmd.Env = []string{"HOME=" + os.TempDir(), "PATH=/usr/bin:/bin"}

	// One connection per request, each with a deadline, so a hang fails the
	// test instead of stalling it.
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	check := func(key string) (int, error) {
		req, _ := http.NewRequest("GET", "http://"+addr+"/verify/prod", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	logs := runServe(t, cmd, 10*time.Second, func() bool { code, _ := check(kept); return code == 200 })

	const hold = 400
	conns := make([]net.Conn, 0, hold)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range hold {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Fatalf("connection %d: %v", len(conns), err)
		}
		conns = append(conns, c)
		io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: keyden\r\n\r\n")
	}
	answered := 0
	readBy := time.Now().Add(5 * time.Second)
	for _, c := range conns {
		c.SetReadDeadline(readBy)
		if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
			resp.Body.Close()
			answered++
		}
	}
	t.Logf("%d of %d idle connections were answered", answered, hold)

	id := keyID(t, db, "doomed")
	if _, errs, code := keyden(t, db, "", "delete", id, "--yes"); code != 0 {
		t.Fatal(errs)
	}
	deleted := time.Now()
	for {
		code, err := check(doomed)
		if code == 401 {
			break
		}
		if time.Since(deleted) > time.Second {
			t.Fatalf("the deleted key still gets %d (%v) 1 s after the delete, with %d idle connections held\n%s", code, err, hold, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("refused %v after the delete", time.Since(deleted).Round(time.Millisecond))

	if code, err := check(kept); code != 200 {
		t.Fatalf("a new request for a good key: %d (%v)\n%s", code, err, logs.String())
	}
	keptID := keyID(t, db, "kept")
	for deadline := time.Now().Add(5 * time.Second); ; {
		if n, _ := useCount(t, db, keptID); n >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last used was not written\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := client.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "keyden_connections_closed_idle_total") || strings.Contains(string(metrics), "keyden_connections_closed_idle_total 0\n") {
		t.Fatalf("no idle connection was closed to make room:\n%s", metrics)
	}
	if strings.Contains(logs.String(), "too many open files") {
		t.Fatalf("serve ran out of files:\n%s", logs.String())
	}
}
