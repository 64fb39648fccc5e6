package cli

import (
	"strings"
	"testing"
)

// A flag given with an empty value is bad usage, never the same as leaving
// it out: on the old code verify --env "" accepted a key of any
// environment and the list filters listed everything.
func TestEmptyFlagValuesAreBadUsage(t *testing.T) {
	db := newDB(t)
	key := create(t, db, "--name", "k", "--env", "prod")
	id := idOf(t, db, "k")
	for _, tt := range []struct {
		stdin string
		args  []string
	}{
		{key, []string{"verify", "--env", ""}},
		{key, []string{"verify", "--scope", ""}},
		{key, []string{"verify", "--ip", ""}},
		{"", []string{"list", "--channel", ""}},
		{"", []string{"list", "--env", ""}},
		{"", []string{"list", "--expiring-within", ""}},
		{"", []string{"list", "--unused-for", ""}},
		{"", []string{"audit", "--key", ""}},
		{"", []string{"audit", "--since", ""}},
		{"", []string{"create", "--name", "t", "--env", "dev", "--type", ""}},
		{"", []string{"create", "--name", "t", "--env", "dev", "--channel", ""}},
		{"", []string{"create", "--name", "t", "--env", "dev", "--expires", ""}},
		{"", []string{"create", "--name", "t", "--env", "dev", "--scope", ""}},
		{"", []string{"rotate", id, "--grace", ""}},
		{"", []string{"channel", "add", "x", "--description", ""}},
		{"", []string{"env", "add", "qa", "--tag", ""}},
		{"", []string{"member", "add", "root", "--role", ""}},
		{"", []string{"serve", "--listen", ""}},
	} {
		before := sum(t, db)
		r := run(t, db, tt.stdin, tt.args...)
		flag := ""
		for i, a := range tt.args {
			if a == "" {
				flag = tt.args[i-1]
			}
		}
		if r.code != 2 || !strings.Contains(r.stderr, flag+" is empty") || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("%q: exit %d %q; want 2 and a sentence naming %s", tt.args, r.code, r.stderr, flag)
		}
		if sum(t, db) != before {
			t.Errorf("%q changed the store", tt.args)
		}
	}
}
