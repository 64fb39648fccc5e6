package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"keyden/internal/testutil"
)

func gitIn(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := testutil.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

func mustGit(t *testing.T, dir string, args ...string) {
	t.Helper()
	if out, code := gitIn(t, dir, args...); code != 0 {
		t.Fatalf("git %v: %s", args, out)
	}
}

// A key planted in a file and another in a git commit are found and
// disabled by keyden scan; a lookalike (wrong checksum) is not reported.
func TestScanFindsAndDisablesPlantedKeys(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("keyden scan --git needs git: install it (.ci/run does)")
	}
	db := filepath.Join(t.TempDir(), "k.db")
	inFile, _, _ := keyden(t, db, "", "create", "--name", "in a file", "--env", "prod")
	inGit, _, _ := keyden(t, db, "", "create", "--name", "in a commit", "--env", "dev")
	inFile, inGit = strings.TrimSpace(inFile), strings.TrimSpace(inGit)
	look := inFile[:len(inFile)-6] + "000000"

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "settings.py"), []byte("DEBUG = False\nAPI_KEY = '"+inFile+"'\nOLD = '"+look+"'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errs, code := keyden(t, db, "", "scan", "--disable", dir)
	if code != 1 || !strings.Contains(out, "settings.py:2") || !strings.Contains(out, "live, disabled now") || strings.Contains(out, ":3") {
		t.Fatalf("scan of a folder: exit %d\n%s%s", code, out, errs)
	}

	repo := t.TempDir()
	mustGit(t, repo, "init", "-q")
	if err := os.WriteFile(filepath.Join(repo, "ci.yml"), []byte("env:\n  TOKEN: "+inGit+"\n  NOT: "+look+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, repo, "add", ".")
	mustGit(t, repo, "commit", "-q", "-m", "ci")
	mustGit(t, repo, "rm", "-q", "ci.yml")
	mustGit(t, repo, "commit", "-q", "-m", "oops")
	out, errs, code = keyden(t, db, "", "scan", "--git", "--disable", "--lookalikes", repo)
	if code != 1 || !strings.Contains(out, "ci.yml:2") || !strings.Contains(out, "live, disabled now") ||
		!strings.Contains(out, "ci.yml:3") || !strings.Contains(out, "lookalike") {
		t.Fatalf("scan --git: exit %d\n%s%s", code, out, errs)
	}
	for _, k := range []string{inFile, inGit} {
		if strings.Contains(out+errs, k) {
			t.Fatal("scan printed a key")
		}
		if _, verrs, vcode := keyden(t, db, k, "verify"); vcode != 1 || !strings.Contains(verrs, "disabled") {
			t.Errorf("a leaked key still verifies: %s", verrs)
		}
	}
	if _, _, code := keyden(t, db, "", "scan", dir); code != 0 {
		t.Errorf("scan after disabling: exit %d, want 0", code)
	}
}

// The pre-commit hook refuses a commit that adds a live key, with the store
// and without it (then the checksum decides, and it says so).
func TestScanHookRefusesACommitWithAKey(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("the hook needs git: install it (.ci/run does)")
	}
	db := filepath.Join(t.TempDir(), "k.db")
	key, _, _ := keyden(t, db, "", "create", "--name", "app", "--env", "prod")
	key = strings.TrimSpace(key)
	repo := t.TempDir()
	mustGit(t, repo, "init", "-q")
	if out, errs, code := keyden(t, db, "", "--db", db, "scan", "--install-hook", repo); code != 0 || !strings.Contains(out, "pre-commit") {
		t.Fatalf("install-hook: %d %s%s", code, out, errs)
	}
	if err := os.WriteFile(filepath.Join(repo, "a.txt"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, repo, "add", ".")
	mustGit(t, repo, "commit", "-q", "-m", "clean")
	if err := os.WriteFile(filepath.Join(repo, "a.txt"), []byte("hello\nkey="+key+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, repo, "add", ".")
	out, code := gitIn(t, repo, "commit", "-q", "-m", "leak")
	if code == 0 || !strings.Contains(out, "a.txt:2") || !strings.Contains(out, "before committing") || strings.Contains(out, key) {
		t.Fatalf("commit with a live key: exit %d\n%s", code, out)
	}
	// The store gone: the checksum decides, and the hook says so.
	if err := os.Rename(db, db+".away"); err != nil {
		t.Fatal(err)
	}
	out, code = gitIn(t, repo, "commit", "-q", "-m", "leak")
	if code == 0 || !strings.Contains(out, "the checksum alone decides") {
		t.Fatalf("offline commit with a key: exit %d\n%s", code, out)
	}
	if err := os.WriteFile(filepath.Join(repo, "a.txt"), []byte("hello\nkey=from-env\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, repo, "add", ".")
	mustGit(t, repo, "commit", "-q", "-m", "fixed")
}

// keyden serve --leak-report-keys: a report signed by a configured key
// disables the key it names; a forged one does nothing.
func TestSignedLeakReportDisablesAndForgedDoesNothing(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "k.db")
	key, _, _ := keyden(t, db, "", "create", "--name", "leaky", "--env", "prod")
	key = strings.TrimSpace(key)
	gh, thief := testutil.NewReporter(t, "ghkey"), testutil.NewReporter(t, "ghkey")
	keysFile := filepath.Join(dir, "keys.json")
	if err := os.WriteFile(keysFile, testutil.KeysJSON(t, gh), 0o644); err != nil {
		t.Fatal(err)
	}
	_, addr, logs := startServe(t, db, "--leak-report-keys", keysFile)
	report := []byte(`[{"token":"` + key + `","type":"keyden","url":"https://github.com/acme/shop/blob/1a2b/.env","source":"content"}]`)
	post := func(sig string) (int, string) {
		req, _ := http.NewRequest("POST", "http://"+addr+"/leaks", bytes.NewReader(report))
		req.Header.Set("Github-Public-Key-Identifier", "ghkey")
		req.Header.Set("Github-Public-Key-Signature", sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(thief.Sign(t, report)); code != 401 {
		t.Fatalf("forged report: %d %s", code, body)
	}
	if _, _, code := keyden(t, db, key, "verify"); code != 0 {
		t.Fatalf("a forged report changed the key; serve's log:\n%s", logs)
	}
	code, body := post(gh.Sign(t, report))
	if code != 200 || !strings.Contains(body, `"label":"true_positive"`) || strings.Contains(body, key) {
		t.Fatalf("signed report: %d %s", code, body)
	}
	if _, errs, code := keyden(t, db, key, "verify"); code != 1 || !strings.Contains(errs, "disabled") {
		t.Fatalf("after a signed report the key still verifies: %d %s", code, errs)
	}
	out, _, _ := keyden(t, db, "", "audit")
	if !strings.Contains(out, "https://github.com/acme/shop/blob/1a2b/.env") {
		t.Errorf("the audit log does not say where it leaked:\n%s", out)
	}
}
