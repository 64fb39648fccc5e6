package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"keyden/server"
)

// A decoy used through nginx and through the CLI is refused as an unknown
// key would be, raises one alert each, and serve's webhook receives both,
// signed.
func TestDecoyThroughNginxAndTheCLIAlertsTheWebhook(t *testing.T) {
	nginx := findTool(t, "nginx", "/usr/sbin/nginx", "nginx")
	dir := t.TempDir()
	db := filepath.Join(dir, "k.db")
	mk := func(args ...string) string {
		out, errs, code := keyden(t, db, "", append([]string{"create", "--env", "prod"}, args...)...)
		if code != 0 {
			t.Fatal(errs)
		}
		return strings.TrimSpace(out)
	}
	good, decoy := mk("--name", "checkout"), mk("--name", "billing backup", "--decoy")
	const unknown = "kd_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn0gZMuH"

	secret := "s3cret-for-the-alerts-0123456789"
	secretFile := filepath.Join(dir, "alert.secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	alerts := map[string]server.Alert{}
	var badSig int
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get(server.SignatureHeader) != server.Sign([]byte(secret), b) {
			badSig++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var a server.Alert
		if err := json.Unmarshal(b, &a); err != nil {
			t.Errorf("alert %s: %v", b, err)
		}
		alerts[a.ID] = a
	}))
	defer hook.Close()
	_, kaddr, logs := startServe(t, db, "--trusted-proxy", "127.0.0.1", "--alert-webhook", hook.URL, "--alert-secret-file", secretFile, "--alert-every", "0")
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") }))
	defer backend.Close()
	port := freePort(t)
	nglogs := nginxGateway(nginx)(t, dir, port, kaddr, backend.URL)
	front := fmt.Sprintf("http://127.0.0.1:%d/orders", port)
	for deadline := time.Now().Add(10 * time.Second); statusOf(front, "Authorization", "Bearer "+good) != 200; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("nginx never passed a good key: %s", nglogs())
		}
	}
	// Directly at serve, the decoy's answer is the unknown key's, byte for byte.
	for _, path := range []string{"/verify/prod", "/verify.json/prod"} {
		d, u := rawAnswer(t, "http://"+kaddr+path, decoy), rawAnswer(t, "http://"+kaddr+path, unknown)
		if d != u {
			t.Errorf("%s: decoy\n%s\nunknown\n%s", path, d, u)
		}
	}
	req, _ := http.NewRequest("GET", front, nil)
	req.Header.Set("Authorization", "Bearer "+decoy)
	req.Header.Set("User-Agent", "thief/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("the decoy through nginx: %d", resp.StatusCode)
	}
	dOut, dErr, dCode := keyden(t, db, decoy, "verify")
	uOut, uErr, uCode := keyden(t, db, unknown, "verify")
	if dCode != 1 || dOut != uOut || dErr != uErr || dCode != uCode {
		t.Errorf("keyden verify: decoy %d %q %q, unknown %d %q %q", dCode, dOut, dErr, uCode, uOut, uErr)
	}

	var got []server.Alert
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		mu.Lock()
		got = got[:0]
		for _, a := range alerts {
			got = append(got, a)
		}
		mu.Unlock()
		if len(got) >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d alerts posted (bad signatures %d), want 4 (2 direct, nginx, CLI); serve's log:\n%s", len(got), badSig, logs)
		}
	}
	via := map[string]int{}
	for _, a := range got {
		if a.Type != "decoy_used" || a.KeyName != "billing backup" || a.Environment != "prod" {
			t.Errorf("alert %+v", a)
		}
		switch {
		case strings.Contains(a.Detail, "keyden verify"):
			via["cli"]++
		case a.UserAgent == "thief/1.0" && a.ClientIP == "127.0.0.1":
			via["nginx"]++
		default:
			via["direct"]++
		}
	}
	if via["cli"] != 1 || via["nginx"] != 1 || via["direct"] != 2 || badSig != 0 {
		t.Errorf("alerts by way %v, bad signatures %d", via, badSig)
	}
	out, _, _ := keyden(t, db, "", "list", "--json")
	if !strings.Contains(out, `"decoy":true`) || strings.Contains(out, decoy) {
		t.Errorf("list --json: %s", out)
	}
}

// rawAnswer is serve's answer to a key, without its date.
func rawAnswer(t *testing.T, url, key string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	resp.Header.Del("Date")
	b, _ := io.ReadAll(resp.Body)
	h, _ := json.Marshal(resp.Header)
	return fmt.Sprintf("%d %s %s", resp.StatusCode, h, b)
}
