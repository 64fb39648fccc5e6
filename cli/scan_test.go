package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"keyden/internal/testutil"
	"keyden/keygen"
)

// otherStoreKey has a valid checksum but is no key of any test's store.
const otherStoreKey = "kd_prod_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn0gZMuH"

func wrongSum(k string) string {
	c := "A"
	if strings.HasSuffix(k, "A") {
		c = "B"
	}
	return k[:len(k)-1] + c
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func scanJSON(t *testing.T, r result) scanReport {
	t.Helper()
	var rep scanReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("%v: %s (stderr %s)", err, r.stdout, r.stderr)
	}
	return rep
}

func auditDetails(t *testing.T, db string) []string {
	t.Helper()
	var evs []struct {
		Action, Detail string
		KeyName        string `json:"key_name"`
	}
	if err := json.Unmarshal([]byte(run(t, db, "", "audit", "--json").stdout), &evs); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Action+" "+e.KeyName+": "+e.Detail)
	}
	return out
}

func TestScanFindsLiveKeysInFoldersAndDisablesThem(t *testing.T) {
	db := newDB(t)
	live := create(t, db, "--name", "web checkout", "--env", "prod")
	gone := create(t, db, "--name", "old", "--env", "dev")
	run(t, db, "", "disable", idOf(t, db, "old"))
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app", "config.env"), "A=1\nB=2\nAPI_KEY="+live+"\n")
	writeFile(t, filepath.Join(dir, "notes.md"), "lookalike "+wrongSum(live)+"\nother store "+otherStoreKey+"\nold "+gone+"\n")
	writeFile(t, filepath.Join(dir, ".git", "config"), "ignored "+live+"\n")

	r := run(t, db, "", "scan", "--json", dir)
	if r.code != 1 {
		t.Fatalf("exit %d, want 1 (a live key): %s", r.code, r.stderr)
	}
	for _, out := range []string{r.stdout, r.stderr} {
		if strings.Contains(out, live) || strings.Contains(out, gone) || strings.Contains(out, live[8:40]) {
			t.Fatalf("scan printed a key: %s", out)
		}
	}
	rep := scanJSON(t, r)
	got := map[string]string{}
	for _, f := range rep.Finds {
		got[strings.TrimPrefix(f.Path, dir+"/")+":"+strconv.Itoa(f.Line)] = f.Status
	}
	want := map[string]string{"app/config.env:3": "live", "notes.md:2": "not_in_store", "notes.md:3": "disabled"}
	if len(got) != len(want) {
		t.Fatalf("finds %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q (all: %v)", k, got[k], v, got)
		}
	}
	if rep.Checked != "store" || len(rep.Lookalikes) != 0 {
		t.Errorf("checked %q, lookalikes %v", rep.Checked, rep.Lookalikes)
	}
	f := rep.Finds[0]
	if f.Key == nil || f.Key.Name != "web checkout" || f.Key.Environment != "prod" || f.Hint != keygen.Hint(live) {
		t.Errorf("live find %+v", f)
	}

	r = run(t, db, "", "scan", "--disable", dir)
	if r.code != 1 || !strings.Contains(r.stdout, "live, disabled now") || !strings.Contains(r.stdout, "config.env:3") {
		t.Fatalf("scan --disable: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if v := run(t, db, live, "verify"); v.code != 1 || !strings.Contains(v.stdout+v.stderr, "disabled") {
		t.Errorf("the leaked key still verifies: %d %s", v.code, v.stdout)
	}
	where := "leaked: found by keyden scan at " + filepath.Join(dir, "app", "config.env") + ":3"
	ev := auditDetails(t, db)
	if ev[0] != "disable web checkout: "+where || ev[1] != "leak web checkout: "+where {
		t.Errorf("audit %q", ev[:2])
	}
	if r := run(t, db, "", "scan", dir); r.code != 0 {
		t.Errorf("a scan finding only disabled keys: exit %d, want 0: %s", r.code, r.stderr)
	}
}

func TestScanStdinLookalikesAndRotate(t *testing.T) {
	db := newDB(t)
	live := create(t, db, "--name", "ci", "--env", "dev")
	in := "x " + wrongSum(live) + "\n\n" + live + "\n"
	r := run(t, db, in, "scan", "-")
	if r.code != 1 || strings.Contains(r.stdout, "lookalike") || !strings.Contains(r.stdout, "-:3") {
		t.Fatalf("scan -: exit %d\n%s", r.code, r.stdout)
	}
	rep := scanJSON(t, run(t, db, in, "scan", "--lookalikes", "--json", "-"))
	if len(rep.Lookalikes) != 1 || rep.Lookalikes[0].Line != 1 || len(rep.Finds) != 1 {
		t.Fatalf("lookalikes %+v finds %+v", rep.Lookalikes, rep.Finds)
	}
	r = run(t, db, in, "scan", "--rotate", "1h", "--json", "-")
	rep = scanJSON(t, r)
	if r.code != 1 || len(rep.Rotated) != 1 || rep.Finds[0].Action != "rotated" {
		t.Fatalf("scan --rotate: exit %d %+v", r.code, rep)
	}
	if v := run(t, db, rep.Rotated[0].Secret, "verify"); v.code != 0 {
		t.Errorf("the new key does not verify: %s", v.stdout)
	}
	if rep.Finds[0].Key.ExpiresAt == nil {
		t.Errorf("the leaked key has no expiry after --rotate 1h")
	}
}

func TestScanWithoutAStoreLetsTheChecksumDecide(t *testing.T) {
	db := filepath.Join(t.TempDir(), "missing.db")
	r := run(t, db, "k "+otherStoreKey+"\n"+wrongSum(otherStoreKey)+"\n", "scan", "--json", "-")
	if r.code != 1 || !strings.Contains(r.stderr, "the checksum alone decides") {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if rep := scanJSON(t, r); rep.Checked != "checksum" || len(rep.Finds) != 1 || rep.Finds[0].Status != "unchecked" {
		t.Errorf("report %+v", rep)
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Errorf("scan made a store at %s", db)
	}
	if r := run(t, db, otherStoreKey, "scan", "--disable", "-"); r.code != 1 || !strings.Contains(r.stderr, "nothing can be disabled") {
		t.Errorf("--disable without a store: exit %d %s", r.code, r.stderr)
	}
	if r := run(t, db, "nothing here", "scan", "-"); r.code != 0 {
		t.Errorf("no keys: exit %d", r.code)
	}
	if r := run(t, db, "", "scan", filepath.Join(t.TempDir(), "nope")); r.code != 2 || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("missing path: exit %d %q", r.code, r.stderr)
	}
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := testutil.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v %s", args, err, out)
	}
}

// newRepo makes an empty git repository in a test folder (skipping where
// git is missing).
func newRepo(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	repo := t.TempDir()
	git(t, repo, "init", "-q")
	return repo
}

func TestScanGitHistory(t *testing.T) {
	db := newDB(t)
	live := create(t, db, "--name", "deploy", "--env", "prod")
	repo := newRepo(t)
	writeFile(t, filepath.Join(repo, "deploy.sh"), "#!/bin/sh\nexport TOKEN="+live+"\n")
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-q", "-m", "add deploy")
	writeFile(t, filepath.Join(repo, "deploy.sh"), "#!/bin/sh\nexport TOKEN=$(vault read token)\n# "+wrongSum(live)+"\n")
	git(t, repo, "commit", "-q", "-am", "use vault")

	rep := scanJSON(t, run(t, db, "", "scan", "--git", "--json", repo))
	if len(rep.Finds) != 1 || rep.Finds[0].Path != "deploy.sh" || rep.Finds[0].Line != 2 || len(rep.Finds[0].Commit) != 40 || rep.Finds[0].Status != "live" {
		t.Fatalf("finds %+v", rep.Finds)
	}
	if r := run(t, db, "", "scan", "--git", repo); r.code != 1 || !strings.Contains(r.stdout, rep.Finds[0].Commit[:12]+" deploy.sh:2") {
		t.Errorf("exit %d\n%s", r.code, r.stdout)
	}
	// Nothing staged: nothing found.
	if r := run(t, db, "", "scan", "--staged", repo); r.code != 0 || !strings.Contains(r.stdout, "No keys found") {
		t.Errorf("--staged with nothing staged: exit %d %s", r.code, r.stdout+r.stderr)
	}
	writeFile(t, filepath.Join(repo, "b.txt"), "a\n"+live+"\n")
	git(t, repo, "add", "b.txt")
	if r := run(t, db, "", "scan", "--staged", repo); r.code != 1 || !strings.Contains(r.stdout, "b.txt:2") || !strings.Contains(r.stderr, "before committing") {
		t.Errorf("--staged: exit %d %s", r.code, r.stdout+r.stderr)
	}
	if r := run(t, db, "", "scan", "--git", t.TempDir()); r.code != 2 || !strings.Contains(r.stderr, "git could not read") {
		t.Errorf("not a repository: exit %d %s", r.code, r.stderr)
	}
}

func TestScanRulesMatchTheStoresKeys(t *testing.T) {
	db := newDB(t)
	run(t, db, "", "env", "add", "qa", "--tag", "q")
	var keys []string
	for _, env := range []string{"dev", "staging", "prod", "qa"} {
		keys = append(keys, create(t, db, "--name", env, "--env", env))
	}
	for _, tool := range []string{"gitleaks", "trufflehog"} {
		r := run(t, db, "", "scan", "--rules", tool)
		if r.code != 0 {
			t.Fatalf("%s: %d %s", tool, r.code, r.stderr)
		}
		m := regexp.MustCompile(`(?m)^(?:regex = '''|      key: ')(.*?)(?:'''|')$`).FindStringSubmatch(r.stdout)
		if m == nil {
			t.Fatalf("%s: no regex in\n%s", tool, r.stdout)
		}
		re := regexp.MustCompile(m[1])
		for _, k := range keys {
			if got := re.FindString("token: " + k + " end"); got != k {
				t.Errorf("%s: %q matches %q, want the key", tool, m[1], got)
			}
			if re.MatchString(k[:len(k)-1]) || re.MatchString(k+"x") {
				t.Errorf("%s: a truncated or longer string matches", tool)
			}
		}
	}
	if r := run(t, db, "", "scan", "--rules", "semgrep"); r.code != 2 {
		t.Errorf("unknown scanner: exit %d", r.code)
	}
}

// scan's table names a key as list does, and its verdict counts keys and
// places and speaks of one key as "it".
func TestScanSpeaksOfEachKeyAsListDoes(t *testing.T) {
	db := newDB(t)
	one := create(t, db, "--name", "web checkout", "--env", "dev")
	two := create(t, db, "--name", "ci", "--env", "dev")
	for _, c := range []struct{ in, flag, verdict string }{
		{one + "\n", "", "keyden: found 1 live key in 1 place: disable or rotate it (keyden scan --disable, or --rotate 1h) and take it out of the text.\n"},
		{one + "\n" + one + "\n", "", "keyden: found 1 live key in 2 places: disable or rotate it (keyden scan --disable, or --rotate 1h) and take it out of the text.\n"},
		{one + "\n" + two + "\n", "", "keyden: found 2 live keys in 2 places: disable or rotate them (keyden scan --disable, or --rotate 1h) and take them out of the text.\n"},
		{one + "\n", "--disable", "keyden: found 1 live key in 1 place: it is disabled now; take it out of the text.\n"},
	} {
		args := []string{"scan", "-"}
		if c.flag != "" {
			args = append(args, c.flag)
		}
		r := run(t, db, c.in, args...)
		if r.code != 1 || r.stderr != c.verdict {
			t.Errorf("scan %s: exit %d, stderr\n%q, want\n%q", c.flag, r.code, r.stderr, c.verdict)
		}
		if !regexp.MustCompile(`\n-:1 +kd_dev_\S+ +web checkout +default +dev `).MatchString(r.stdout) {
			t.Errorf("scan %s: the name is not shown as list shows it:\n%s", c.flag, r.stdout)
		}
	}
}

// deepFolder makes a folder inside dir whose path is longer than the
// system takes (ENAMETOOLONG), built one step at a time through an open
// folder: a folder no one can read, even root.
func deepFolder(t *testing.T, dir string) string {
	t.Helper()
	fd, err := syscall.Open(dir, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		t.Fatal(err)
	}
	name, path := strings.Repeat("d", 250), dir
	for len(path) < 4200 {
		if err := syscall.Mkdirat(fd, name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := syscall.Openat(fd, name, syscall.O_RDONLY|syscall.O_DIRECTORY, 0)
		syscall.Close(fd)
		if err != nil {
			t.Fatal(err)
		}
		fd, path = next, filepath.Join(path, name)
	}
	syscall.Close(fd)
	return path
}

// A path inside a folder that cannot be read is named on stderr and
// skipped: the rest is still scanned and reported, and without a live key
// the scan ends 2 (not complete), not 0. A link to a folder named on the
// command line is scanned as the folder.
func TestScanSkipsWhatItCannotRead(t *testing.T) {
	db := newDB(t)
	live := create(t, db, "--name", "web", "--env", "dev")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a", "app.env"), "KEY="+live+"\n")
	deepFolder(t, filepath.Join(dir, "a"))

	r := run(t, db, "", "scan", dir)
	if r.code != 1 || !strings.Contains(r.stdout, "app.env:1") || !strings.Contains(r.stderr, "file name too long), so it was not scanned.\n") ||
		!strings.Contains(r.stderr, "\nkeyden: 1 path could not be read, so this scan is not complete: scan again as a user who can read it.\nkeyden: found 1 live key") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	run(t, db, "", "disable", idOf(t, db, "web"))
	if r := run(t, db, "", "scan", dir); r.code != 2 || !strings.Contains(r.stdout, "disabled") || !strings.HasSuffix(r.stderr, "who can read it.\n") {
		t.Errorf("no live key, one folder unread: exit %d, want 2\n%s%s", r.code, r.stdout, r.stderr)
	}

	link := filepath.Join(t.TempDir(), "src")
	if err := os.Symlink(filepath.Join(dir, "a"), link); err != nil {
		t.Fatal(err)
	}
	if r := run(t, db, "", "scan", link); !strings.Contains(r.stdout, filepath.Join(link, "app.env")+":1") {
		t.Errorf("scan of a link to a folder: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// --staged and --git outside a repository say so, not git diff's
// "unknown option cached".
func TestScanOutsideARepository(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	for _, mode := range []string{"--staged", "--git"} {
		r := run(t, newDB(t), "", "scan", mode, dir)
		if r.code != 2 || !strings.Contains(r.stderr, "not a git repository") || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("scan %s outside a repository: exit %d %q", mode, r.code, r.stderr)
		}
	}
}

// A key in a file git takes for binary (a NUL byte in it) is found in the
// history and in the staged changes, not hidden behind "Binary files differ".
func TestScanGitFindsKeysInBinaryFiles(t *testing.T) {
	db := newDB(t)
	live := create(t, db, "--name", "deploy", "--env", "prod")
	repo := newRepo(t)
	writeFile(t, filepath.Join(repo, "cache.bin"), "\x00\x01bin\n"+live+"\n")
	git(t, repo, "add", ".")
	if r := run(t, db, "", "scan", "--staged", repo); r.code != 1 || !strings.Contains(r.stdout, "cache.bin:2") {
		t.Errorf("--staged: exit %d %s", r.code, r.stdout+r.stderr)
	}
	git(t, repo, "commit", "-q", "-m", "add cache")
	if r := run(t, db, "", "scan", "--git", repo); r.code != 1 || !strings.Contains(r.stdout, " cache.bin:2 ") {
		t.Errorf("--git: exit %d %s", r.code, r.stdout+r.stderr)
	}
}

func TestInstallHookWritesOursAndKeepsAnother(t *testing.T) {
	db := newDB(t)
	run(t, db, "", "init", "--prefix", "acme")
	repo := newRepo(t)
	r := run(t, db, "", "--db", db, "scan", "--install-hook", repo)
	if r.code != 0 {
		t.Fatalf("install-hook: %d %s", r.code, r.stderr)
	}
	path := filepath.Join(repo, ".git", "hooks", "pre-commit")
	b, err := os.ReadFile(path)
	st, _ := os.Stat(path)
	if err != nil || st.Mode()&0o111 == 0 || !strings.Contains(string(b), "scan --staged --prefix acme") || !strings.Contains(string(b), "--db '"+db+"'") {
		t.Fatalf("hook %v %v:\n%s", err, st.Mode(), b)
	}
	// Ours is replaced; another's is refused and kept.
	if r := run(t, db, "", "scan", "--install-hook", repo); r.code != 0 {
		t.Errorf("reinstall: %d %s", r.code, r.stderr)
	}
	writeFile(t, path, "#!/bin/sh\nmake lint\n")
	if r := run(t, db, "", "scan", "--install-hook", repo); r.code != 1 || !strings.Contains(r.stderr, "did not write") {
		t.Errorf("over another hook: %d %s", r.code, r.stderr)
	}
	if b, _ := os.ReadFile(path); string(b) != "#!/bin/sh\nmake lint\n" {
		t.Errorf("another's hook was changed:\n%s", b)
	}
}

// The repository's config runs nothing: an fsmonitor hook set in it is not
// run by scan --staged or --git.
func TestScanRunsNoProgramOfTheRepository(t *testing.T) {
	repo := newRepo(t)
	ran := filepath.Join(t.TempDir(), "ran")
	writeFile(t, filepath.Join(repo, "a"), "a\n")
	git(t, repo, "add", ".")
	git(t, repo, "commit", "-q", "-m", "a")
	git(t, repo, "config", "core.fsmonitor", "touch "+ran+"; false")
	for _, mode := range []string{"--staged", "--git"} {
		if r := run(t, newDB(t), "", "scan", mode, repo); r.code != 0 {
			t.Errorf("scan %s: exit %d %s", mode, r.code, r.stderr)
		}
		if _, err := os.Stat(ran); err == nil {
			t.Fatalf("scan %s ran the repository's fsmonitor hook", mode)
		}
	}
}

// A leaked key rotated with a grace still works, so a scan meanwhile finds
// it live; the advice is to disable it, not "disable or rotate it": a
// rotate is refused and names the new key, which did not leak. Checked to
// fail on the code before.
func TestScanAdvisesDisablingAKeyAlreadyRotated(t *testing.T) {
	db := newDB(t)
	key := create(t, db, "--name", "leaked", "--env", "dev")
	file := filepath.Join(t.TempDir(), "app.env")
	writeFile(t, file, "TOKEN="+key+"\n")
	if r := run(t, db, "", "scan", "--rotate", "1h", file); r.code != 1 || !strings.Contains(r.stdout, "rotated now") {
		t.Fatalf("scan --rotate: exit %d %s %s", r.code, r.stdout, r.stderr)
	}
	r := run(t, db, "", "scan", file)
	if r.code != 1 || !strings.Contains(r.stderr, "it is replaced already but works until its grace ends: disable it now (keyden scan --disable)") ||
		strings.Contains(r.stderr, "--rotate") {
		t.Fatalf("scan of a rotated key: exit %d %q", r.code, r.stderr)
	}
}

// Nor does a signature check (log.showSignature runs gpg.program) or a
// lazy fetch of a missing object (a partial clone runs its promisor
// remote's uploadpack): both ran a program the repository named. Checked to
// fail before --no-show-signature and protocol.allow=never.
func TestScanRunsNoProgramOfTheRepositorysHistory(t *testing.T) {
	ran := filepath.Join(t.TempDir(), "ran")
	prog := filepath.Join(t.TempDir(), "prog")
	writeFile(t, prog, "#!/bin/sh\ntouch "+ran+"\nexit 1\n")
	if err := os.Chmod(prog, 0o700); err != nil {
		t.Fatal(err)
	}
	commit := func(repo string) {
		writeFile(t, filepath.Join(repo, "a"), "a\n")
		git(t, repo, "add", ".")
		git(t, repo, "commit", "-q", "-m", "a")
	}
	signed := newRepo(t)
	commit(signed)
	out, err := testutil.Command("git", "-C", signed, "rev-parse", "HEAD^{tree}").Output()
	if err != nil {
		t.Fatal(err)
	}
	obj := filepath.Join(t.TempDir(), "commit")
	writeFile(t, obj, "tree "+strings.TrimSpace(string(out))+"\nauthor a <a@b> 1700000000 +0000\ncommitter a <a@b> 1700000000 +0000\n"+
		"gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQ==\n -----END PGP SIGNATURE-----\n\nsigned\n")
	out, err = testutil.Command("git", "-C", signed, "hash-object", "-t", "commit", "-w", obj).Output()
	if err != nil {
		t.Fatal(err)
	}
	git(t, signed, "update-ref", "refs/heads/signed", strings.TrimSpace(string(out)))
	git(t, signed, "config", "log.showSignature", "true")
	git(t, signed, "config", "gpg.program", prog)

	partial := newRepo(t)
	commit(partial)
	out, err = testutil.Command("git", "-C", partial, "rev-parse", "HEAD:a").Output()
	if err != nil {
		t.Fatal(err)
	}
	blob := strings.TrimSpace(string(out))
	if err := os.Remove(filepath.Join(partial, ".git", "objects", blob[:2], blob[2:])); err != nil {
		t.Fatal(err)
	}
	for _, kv := range [][2]string{{"core.repositoryformatversion", "1"}, {"extensions.partialClone", "origin"},
		{"remote.origin.url", partial}, {"remote.origin.promisor", "true"}, {"remote.origin.uploadpack", prog}} {
		git(t, partial, "config", kv[0], kv[1])
	}

	for name, repo := range map[string]string{"a signed commit": signed, "a partial clone": partial} {
		r := run(t, newDB(t), "", "scan", "--git", repo)
		if _, err := os.Stat(ran); err == nil {
			t.Fatalf("scan --git of %s ran the repository's program", name)
		}
		// What is missing is said, not left to git's first line ("warning:
		// lazy fetching disabled").
		if repo == partial && (r.code != 2 || !strings.Contains(r.stderr, "is a partial clone: the contents of some files are not in it")) {
			t.Errorf("scan --git of a partial clone: exit %d %q", r.code, r.stderr)
		}
	}
}

// endless is input without end that cancels the run after a few reads, as
// Ctrl-C does.
type endless struct {
	cancel context.CancelFunc
	reads  int
}

func (e *endless) Read(p []byte) (int, error) {
	if e.reads++; e.reads == 4 {
		e.cancel()
	}
	for i := range p {
		p[i] = 'a'
	}
	return len(p), nil
}

// Ctrl-C (or SIGTERM) stops a scan inside a file without end (/dev/zero,
// /proc/kcore): it read on, ignoring the signal, until killed.
func TestScanStopsWhenInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errb bytes.Buffer
	db := newDB(t)
	done := make(chan int, 1)
	go func() {
		done <- Run(ctx, []string{"scan", "-"}, Env{Stdin: &endless{cancel: cancel}, Stdout: &out, Stderr: &errb,
			Getenv: func(k string) string { return map[string]string{"KEYDEN_DB": db}[k] }})
	}()
	select {
	case code := <-done:
		if code != ExitRefused || !strings.Contains(errb.String(), "the scan was stopped before it finished") {
			t.Errorf("exit %d %q", code, errb.String())
		}
	case <-time.After(20 * time.Second): // a guard against a hang, not a wait
		t.Fatal("scan went on reading after its context ended")
	}
}

// `keyden scan /` does not walk the kernel's own file systems: /proc holds
// files that never end (kcore), and nothing there is committed text.
func TestScanWalksPastKernelFileSystems(t *testing.T) {
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip("no /proc here")
	}
	if !pseudoFS("/proc") || !pseudoFS("/proc/self") {
		t.Error("/proc is not taken for a kernel file system")
	}
	if pseudoFS(t.TempDir()) {
		t.Error("a test's folder is taken for a kernel file system")
	}
}
