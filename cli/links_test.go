package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A path that is a symbolic link to nothing makes nothing where the link
// points, for every command that may make a file: someone who may write
// the folder would choose where keyden writes. On the old code init,
// create, the default store's first use and migrate --to made the store
// at the link's target, and --install-hook an executable there; backup
// and ssh refused as "file exists".
func TestNothingIsMadeThroughALinkToNothing(t *testing.T) {
	db := newDB(t)
	create(t, db, "--name", "k", "--env", "dev")
	repo := newRepo(t)

	for _, tt := range []struct {
		name string
		// link is made to point at a missing file before run.
		link string
		run  func(link string) result
		says string
	}{
		{"init", filepath.Join(t.TempDir(), "keyden.db"),
			func(link string) result { return run(t, link, "", "init") }, "the key store path"},
		{"create", filepath.Join(t.TempDir(), "keyden.db"),
			func(link string) result { return run(t, link, "", "create", "--name", "n", "--env", "dev") }, "the key store path"},
		{"channel add", filepath.Join(t.TempDir(), "keyden.db"),
			func(link string) result { return run(t, link, "", "channel", "add", "web") }, "the key store path"},
		{"default store", filepath.Join(t.TempDir(), "home", ".local", "share", "keyden", "keyden.db"),
			func(link string) result {
				home := strings.TrimSuffix(link, "/.local/share/keyden/keyden.db")
				return runEnv(t, map[string]string{"HOME": home}, "", "list")
			}, "the key store path"},
		{"default store's folder", filepath.Join(t.TempDir(), "home", ".local", "share", "keyden"),
			func(link string) result {
				home := strings.TrimSuffix(link, "/.local/share/keyden")
				return runEnv(t, map[string]string{"HOME": home}, "", "list")
			}, "the folder"},
		{"migrate --to", filepath.Join(t.TempDir(), "copy.db"),
			func(link string) result { return run(t, db, "", "migrate", "--from", db, "--to", link) }, "the key store path"},
		{"backup", filepath.Join(t.TempDir(), "b.db"),
			func(link string) result { return run(t, db, "", "backup", link) }, "the backup path"},
		{"ssh --host-key", filepath.Join(t.TempDir(), "host"),
			func(link string) result {
				return run(t, db, "", "ssh", "--listen", "127.0.0.1:0", "--host-key", link)
			}, "the host key path"},
		{"scan --install-hook", filepath.Join(repo, ".git", "hooks", "pre-commit"),
			func(string) result { return run(t, db, "", "scan", "--install-hook", repo) }, "the hook"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			target := filepath.Join(t.TempDir(), "chosen")
			if err := os.MkdirAll(filepath.Dir(tt.link), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(target, tt.link); err != nil {
				t.Fatal(err)
			}
			r := tt.run(tt.link)
			want := tt.says + " " + tt.link + " is a symbolic link to " + target + ", which does not exist"
			if r.code != 1 || !strings.Contains(r.stderr, want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
				t.Errorf("exit %d %q; want 1 and %q", r.code, r.stderr, want)
			}
			if _, err := os.Lstat(target); !os.IsNotExist(err) {
				t.Errorf("%s was made through the link", target)
			}
		})
	}
}
