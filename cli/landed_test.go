package cli

import (
	"strings"
	"testing"

	"keyden/internal/verifiertest"
	"keyden/server"
	"keyden/storage"
)

// A bulk disable, delete or rotate says how it landed on the running
// verifiers also when some keys were refused (the exit stays 1), and
// waits for nothing when it changed no key.
func TestBulkChangesSayHowTheyLanded(t *testing.T) {
	db, ids := reviewStore(t)
	st, err := storage.OpenBolt(db, storage.Options{Actor: "sue"})
	if err != nil {
		t.Fatal(err)
	}
	verifiertest.Start(t, st, "v1")
	// The OS user is an admin: its own two stale keys are disabled, alice's refused.
	r := run(t, db, "", "disable", "--filter", "used:>90d", "--yes")
	if r.code != 1 || !strings.Contains(r.stderr, "\nRefused by 1/1 verifier in ") {
		t.Fatalf("disable --filter with refusals: %d %q", r.code, r.stderr)
	}
	// Again: nothing more to disable, nothing landed.
	r = run(t, db, "", "disable", "--filter", "used:>90d", "--yes")
	if r.code != 1 || strings.Contains(r.stderr, "verifier") {
		t.Fatalf("disable --filter changing nothing: %d %q", r.code, r.stderr)
	}
	// Both are disabled: each rotation refused, nothing to wait for.
	r = run(t, db, "", "rotate", ids["mine dev stale"], ids["mine prod stale"], "--grace", "now", "--yes")
	if r.code != 1 || strings.Contains(r.stderr, "verifier") {
		t.Fatalf("rotate of disabled keys: %d %q", r.code, r.stderr)
	}
	r = run(t, db, "", "enable", ids["mine dev stale"], ids["mine prod stale"])
	if r.code != 0 {
		t.Fatalf("enable: %d %q", r.code, r.stderr)
	}
	r = run(t, db, "", "rotate", ids["mine dev stale"], ids["mine prod stale"], "--grace", "now", "--yes")
	if r.code != 0 || !strings.Contains(r.stderr, "In force on 1/1 verifier in ") {
		t.Fatalf("rotate: %d %q", r.code, r.stderr)
	}
	r = run(t, db, "", "delete", ids["mine dev stale"], ids["alice dev stale"], "--yes")
	if r.code != 1 || !strings.Contains(r.stderr, "\nRefused by 1/1 verifier in ") {
		t.Fatalf("delete with a refusal: %d %q", r.code, r.stderr)
	}
}

// create waits until the running verifiers accept the new key: a script
// that used the key at once was refused it as unknown until the next poll.
func TestCreateWaitsUntilTheVerifiersAcceptTheKey(t *testing.T) {
	db := newDB(t)
	if r := run(t, db, "", "init"); r.code != 0 {
		t.Fatalf("init: %d %q", r.code, r.stderr)
	}
	st, err := storage.OpenBolt(db, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := verifiertest.Start(t, st, "v1")
	r := run(t, db, "", "create", "--name", "ci", "--env", "dev")
	if r.code != 0 || !strings.Contains(r.stderr, "In force on 1/1 verifier in ") {
		t.Fatalf("create: %d %q", r.code, r.stderr)
	}
	if res := srv.Verify(server.Request{Secret: strings.TrimSpace(r.stdout), Env: "dev"}); !res.OK {
		t.Fatalf("the verifier refused the key create had just printed: %s", res.Reason)
	}
	if r := run(t, db, "", "create", "--name", "ci 2", "--env", "dev", "--wait", "0"); r.code != 0 || r.stderr != "" {
		t.Fatalf("create --wait 0: %d %q", r.code, r.stderr)
	}
}
