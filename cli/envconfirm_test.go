package cli

import (
	"strings"
	"testing"
)

func TestEnvConfirmByName(t *testing.T) {
	db := newDB(t)
	steps := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"env", "add", "qa", "--confirm-by-name"}, 0, "kd_qa_"},
		{[]string{"env", "add", "preprod", "--tag", "pp"}, 0, "kd_pp_"},
		// keyden delete on a terminal asks as the TUI does, and says so.
		{[]string{"env", "set", "prod", "--confirm-by-name=false"}, 0, "(in the TUI, or keyden delete on a terminal) or rotating it in the TUI now asks yes or no"},
		{[]string{"env", "set", "dev", "--confirm-by-name"}, 0, "(in the TUI, or keyden delete on a terminal) or rotating it in the TUI now asks for its name"},
		{[]string{"env", "set", "dev"}, 2, "--confirm-by-name=true"},
		{[]string{"env", "set", "nowhere", "--confirm-by-name"}, 1, "no environment"},
		{[]string{"env", "list", "--json"}, 0, `"name": "preprod",
    "tag": "pp",
    "order": 5,
    "confirm_by_name": false`},
	}
	for _, s := range steps {
		r := run(t, db, "", s.args...)
		if r.code != s.code || !strings.Contains(r.stdout+r.stderr, s.want) {
			t.Fatalf("%v: exit %d out %q err %q; want %d %q", s.args, r.code, r.stdout, r.stderr, s.code, s.want)
		}
	}
	r := run(t, db, "", "env", "list")
	for _, line := range []string{"dev          dev   by name", "prod         prod  yes/no", "qa           qa    by name", "preprod      pp    yes/no"} {
		if !strings.Contains(r.stdout, line) {
			t.Errorf("env list lacks %q:\n%s", line, r.stdout)
		}
	}
}
