package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"keyden/format"
	"keyden/storage"
)

// checker is a store that can check itself whole.
type checker interface {
	Check(ctx context.Context) (storage.CheckReport, error)
}

func (a *app) checkCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check",
		Short: "Read the whole key store and say whether anything in it is damaged",
		Long: `Read the whole key store and check it: keyden's own check (schema and
buckets, every record decodes, every key's environment and channel exist, the
hash index points to each key and back), then, for a file, bbolt's (every page
reachable once, free pages not in use, keys in order). Exit 0 when nothing is
wrong; 1, with the problems listed, when something is.`,
		Args: noArgs,
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			c, ok := st.(checker)
			if !ok {
				return &refusal{msg: fmt.Sprintf("checking %s is not supported", st.Location())}
			}
			rep, err := c.Check(cmd.Context())
			if err != nil {
				return err
			}
			if b, ok := st.(*storage.Bolt); ok && len(rep.Problems) == 0 {
				rep.Problems = a.pageCheck(cmd.Context(), b)
			}
			if len(rep.Problems) == 0 {
				printf(a.env.Stdout, "The key store %s is sound: %s and %s read, nothing wrong found.\n", rep.Location, format.Count(rep.Keys, "key"), format.Count(rep.Events, "audit event"))
				return nil
			}
			printf(a.env.Stdout, "Problems found in %s:\n", rep.Location)
			for _, p := range rep.Problems {
				printf(a.env.Stdout, "  - %s\n", p)
			}
			return &refusal{msg: fmt.Sprintf("the key store %s is damaged (%s above): restore it from a copy made by `keyden backup`", rep.Location, format.Count(len(rep.Problems), "problem"))}
		}),
	}
}

// pageCheck runs bbolt's page check in a keyden process of its own, since
// bbolt's check can crash on a damaged page where no recover reaches; a
// crash is itself the finding. Without a binary to run (in tests) it runs here.
func (a *app) pageCheck(ctx context.Context, b *storage.Bolt) []string {
	if a.env.Executable == "" {
		found, err := b.PageCheck(ctx)
		if err != nil {
			found = append(found, err.Error())
		}
		return found
	}
	child := exec.CommandContext(ctx, a.env.Executable, "--db", b.Path(), "check-pages")
	child.Env = []string{"PATH=/usr/bin:/bin", "KEYDEN_LOCK_TIMEOUT=" + a.env.Getenv("KEYDEN_LOCK_TIMEOUT")}
	out, err := child.Output()
	var found []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		found = append(found, sc.Text())
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.ExitCode() == ExitRefused:
		found = append(found, strings.TrimPrefix(strings.TrimSpace(string(ee.Stderr)), "keyden: "))
	case err != nil:
		found = append(found, "bbolt's page check crashed reading the file: a page of it is damaged")
	}
	return found
}

// checkPagesCommand is the child process of pageCheck.
func (a *app) checkPagesCommand() *cobra.Command {
	return &cobra.Command{
		Use: "check-pages", Hidden: true, Args: noArgs,
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			b, ok := st.(*storage.Bolt)
			if !ok {
				return usagef("check-pages checks a file store")
			}
			found, err := b.PageCheck(cmd.Context())
			for _, f := range found {
				fmt.Fprintln(a.env.Stdout, f) // raw: the parent escapes it
			}
			return err
		}),
	}
}
