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
