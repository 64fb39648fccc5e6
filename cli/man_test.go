package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docs/man is what the .deb and `man keyden` show: it must be what the
// commands say now. After changing a command's help or flags, run
// `go run . man --dir docs/man` and commit the pages.
func TestManPagesAreCurrent(t *testing.T) {
	dir := t.TempDir()
	if r := run(t, newDB(t), "", "man", "--dir", dir); r.code != 0 {
		t.Fatalf("keyden man: %d %s", r.code, r.stderr)
	}
	made, err := filepath.Glob(filepath.Join(dir, "*.1"))
	if err != nil || len(made) == 0 {
		t.Fatalf("no pages made: %v", err)
	}
	// Markdown on the way must not eat the query language as HTML tags.
	if list, _ := os.ReadFile(filepath.Join(dir, "keyden-list.1")); !strings.Contains(string(list), "used:<1h") {
		t.Errorf("keyden-list(1) lost the query language's used:<1h:\n%s", list)
	}
	// Each page's header names its own command, as man shows it.
	if create, _ := os.ReadFile(filepath.Join(dir, "keyden-create.1")); !strings.Contains(string(create), `.TH "KEYDEN-CREATE" "1"`) {
		t.Errorf("keyden-create(1)'s header is not KEYDEN-CREATE(1):\n%.200s", create)
	}
	kept, _ := filepath.Glob(filepath.Join("..", "docs", "man", "*.1"))
	if len(kept) != len(made) {
		t.Errorf("docs/man has %d pages, the commands make %d: run `go run . man --dir docs/man` (and remove pages of commands that are gone)", len(kept), len(made))
	}
	for _, p := range made {
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join("..", "docs", "man", filepath.Base(p)))
		if err != nil || string(got) != string(want) {
			t.Errorf("docs/man/%s is not what the commands say now: run `go run . man --dir docs/man`", filepath.Base(p))
		}
	}
}
