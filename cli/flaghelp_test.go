package cli

import (
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// A back-quoted word in a flag's usage is what cobra prints as the flag's
// value in --help and the man pages: "(see `keyden list --filter`)" made
// delete's help read "--filter keyden list --filter   act on every key…".
func TestFlagValueNamesAreOneWord(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		check := func(f *pflag.Flag) {
			if name, _ := pflag.UnquoteUsage(f); strings.ContainsAny(name, " \t") {
				t.Errorf("%s --%s: --help shows its value as %q: back-quote one word naming the value, or none", c.CommandPath(), f.Name, name)
			}
		}
		c.LocalFlags().VisitAll(check)
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk((&app{env: Env{Getenv: func(string) string { return "" }}}).rootCommand())
	r := run(t, newDB(t), "", "delete", "--help")
	if !strings.Contains(r.stdout, "--filter QUERY ") {
		t.Errorf("delete --help does not name --filter's value QUERY:\n%s", r.stdout)
	}
}
