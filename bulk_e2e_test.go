package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"keyden/internal/etcdtest"
)

// The query language and bulk changes through the real binary, on a file
// and on etcd (through keyden-etcd): list --filter, disable, move, rotate
// and delete by --filter, each printing one line a key and a count.
func TestBulkByFilterThroughTheBinary(t *testing.T) {
	stores := map[string]func(t *testing.T) string{
		"file": func(t *testing.T) string { return filepath.Join(t.TempDir(), "k.db") },
		"etcd": func(t *testing.T) string {
			if testing.Short() {
				t.Skip("embedded etcd in -short")
			}
			ms := etcdtest.Start(t, 1, t.TempDir(), false)
			t.Cleanup(ms[0].Stop)
			return etcdtest.URL(ms, "/bulk")
		},
	}
	for name, store := range stores {
		t.Run(name, func(t *testing.T) {
			db := store(t)
			run := func(stdin string, args ...string) (string, string, int) {
				t.Helper()
				return keyden(t, db, stdin, args...)
			}
			secrets := map[string]string{}
			for _, k := range [][2]string{{"ci deploy", "dev"}, {"load test", "dev"}, {"web checkout", "prod"}, {"ios release", "prod"}} {
				out, errs, code := run("", "create", "--name", k[0], "--env", k[1])
				if code != 0 {
					t.Fatalf("create: %s", errs)
				}
				secrets[k[0]] = strings.TrimSpace(out)
			}
			names := func(args ...string) []string {
				t.Helper()
				out, errs, code := run("", append([]string{"list", "--json"}, args...)...)
				if code != 0 {
					t.Fatalf("list %q: %s", args, errs)
				}
				var keys []struct{ Name string }
				if err := json.Unmarshal([]byte(out), &keys); err != nil {
					t.Fatal(err)
				}
				var n []string
				for _, k := range keys {
					n = append(n, k.Name)
				}
				slices.Sort(n)
				return n
			}
			if got := names("--filter", "env:dev used:never -load"); !slices.Equal(got, []string{"ci deploy"}) {
				t.Fatalf("list --filter: %q", got)
			}
			if _, errs, code := run("", "list", "--filter", "used:soon"); code != 2 || !strings.Contains(errs, `"used:soon" is not a time filter`) {
				t.Fatalf("a malformed filter: %d %q", code, errs)
			}
			if _, errs, code := run("", "disable", "--filter", "env:dev"); code != 2 || !strings.Contains(errs, "pass --yes") {
				t.Fatalf("disable --filter without --yes: %d %q", code, errs)
			}
			out, errs, code := run("", "disable", "--filter", "env:dev", "--yes")
			if code != 0 || strings.Count(out, "\n") != 3 || !strings.HasSuffix(out, "Disabled 2 keys.\n") {
				t.Fatalf("disable --filter: %d %q %q", code, out, errs)
			}
			if _, errs, code := run(secrets["ci deploy"], "verify"); code != 1 || !strings.Contains(errs, "disabled") {
				t.Fatalf("a disabled key verifies: %d %q", code, errs)
			}
			if _, errs, code := run("", "channel", "add", "tools"); code != 0 {
				t.Fatal(errs)
			}
			if out, errs, code := run("", "move", "--filter", "status:disabled", "--channel", "tools", "--yes"); code != 0 || !strings.HasSuffix(out, "Moved 2 keys.\n") {
				t.Fatalf("move --filter: %d %q %q", code, out, errs)
			}
			if _, errs, code := run("", "channel", "rm", "tools"); code != 1 || !strings.Contains(errs, "`keyden move` or delete them first") {
				t.Fatalf("channel rm of a used channel: %d %q", code, errs)
			}
			out, errs, code = run("", "rotate", "--filter", "env:prod", "--grace", "now", "--yes", "--json")
			var rotated []struct {
				Secret   string `json:"secret"`
				Replaces struct {
					Name string `json:"name"`
				} `json:"replaces"`
			}
			if err := json.Unmarshal([]byte(out), &rotated); code != 0 || err != nil || len(rotated) != 2 || errs != "Rotated 2 keys.\n" {
				t.Fatalf("rotate --filter --json: %d %v %q %q", code, err, out, errs)
			}
			for _, r := range rotated {
				if _, errs, code := run(r.Secret, "verify"); code != 0 {
					t.Errorf("a new key does not verify: %q", errs)
				}
				if _, _, code := run(secrets[r.Replaces.Name], "verify"); code != 1 {
					t.Errorf("the replaced %q still verifies after --grace now", r.Replaces.Name)
				}
			}
			if out, errs, code := run("", "delete", "--filter", "channel:tools", "--yes"); code != 0 || !strings.HasSuffix(out, "Deleted 2 keys.\n") {
				t.Fatalf("delete --filter: %d %q %q", code, out, errs)
			}
			if got := names("--filter", "env:dev"); len(got) != 0 {
				t.Fatalf("left in dev: %q", got)
			}
			if _, errs, code := run("", "channel", "rm", "tools"); code != 0 {
				t.Fatalf("channel rm after the delete: %q", errs)
			}
		})
	}
}
