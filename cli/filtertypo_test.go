package cli

import (
	"strings"
	"testing"
)

// A bulk --filter that matches nothing because it names an environment or
// channel the store does not have says so (exit 2) instead of
// "No keys match" (exit 0): a script's typo must not pass for an empty set.
func TestBulkFilterNamesWhatDoesNotExist(t *testing.T) {
	db := newDB(t)
	create(t, db, "--name", "web", "--env", "dev")
	for _, c := range []struct {
		filter, stderr string
	}{
		{"env:prd", `keyden: --filter: there is no environment "prd" in this key store: the environments are dev, staging, prod.` + "\n"},
		{"env:stg", `keyden: --filter: "stg" is the tag of the environment staging: write env:staging.` + "\n"},
		{`channel:"web app" env:dev`, `keyden: --filter: there is no channel "web app" in this key store: the channels are default.` + "\n"},
	} {
		for _, verb := range []string{"disable", "delete"} {
			r := run(t, db, "", verb, "--filter", c.filter, "--yes")
			if r.code != ExitUsage || r.stderr != c.stderr || r.stdout != "" {
				t.Errorf("%s --filter %q: exit %d, stdout %q, stderr\n%q, want\n%q", verb, c.filter, r.code, r.stdout, r.stderr, c.stderr)
			}
		}
	}
	// What exists, a glob, or a negation, matching nothing, is no mistake.
	for _, f := range []string{"env:prod", "env:pr*", "by:bobb", "-env:dev", "channel:default env:staging"} {
		r := run(t, db, "", "disable", "--filter", f, "--yes")
		if r.code != 0 || !strings.Contains(r.stdout, "No keys match: nothing disabled.") {
			t.Errorf("disable --filter %q: exit %d %q %q", f, r.code, r.stdout, r.stderr)
		}
	}
	if v := run(t, db, "", "list", "--filter", "status:disabled"); !strings.Contains(v.stdout, "No keys match") {
		t.Errorf("a refused filter changed a key: %s", v.stdout)
	}
}

// The confirm on a terminal says how many of the keys the user may not
// change before yes is typed, as the TUI's confirm does.
func TestBulkConfirmCountsWhatTheUserMayNotChange(t *testing.T) {
	db, ids := reviewStore(t)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"disable", "--filter", "used:>90d"}, "Disable 5 keys: "},
		{[]string{"disable", "--filter", "used:>90d"}, "\nYou may not disable 3 of them: those are left as they are, the others go through.\n"},
		{[]string{"disable", "--filter", "used:>90d env:dev"}, "\nYou may not disable 1 of them: that one is left as it is, the other goes through.\n"},
		{[]string{"delete", ids["mine dev stale"], ids["alice dev stale"], ids["mine prod stale"]}, "\nYou may not delete 1 of them: that one is left as it is, the others go through.\n"},
	} {
		r := runAt(t, db, "no\n", true, c.args...)
		if r.code != ExitRefused || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want %q in it", c.args, r.code, r.stderr, c.want)
		}
	}
	// Keys the user may not change at all are refused before any question.
	r := runAt(t, db, "yes\n", true, "delete", ids["alice prod stale"], ids["alice dev stale"])
	if r.code != ExitRefused || strings.Contains(r.stderr, "Type yes") || strings.Count(r.stderr, "keyden: not deleted: ") != 2 {
		t.Errorf("deleting only others' keys: exit %d, stderr %q; want each refused, no question", r.code, r.stderr)
	}
	if r := runAt(t, db, "no\n", true, "disable", "--filter", "by:"+Actor()); strings.Contains(r.stderr, "You may not") {
		t.Errorf("the user's own keys: %q", r.stderr)
	}
}
