package cli

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

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
				if rep.Problems, err = a.pageCheck(cmd.Context(), b); err != nil {
					return err
				}
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
// crash is itself the finding. The child has a time and a memory cap (both
// grow with the file), dies with keyden and ends on SIGTERM, so a damaged
// file can never leave it running. Without a binary to run (in tests) it
// runs here.
func (a *app) pageCheck(ctx context.Context, b *storage.Bolt) ([]string, error) {
	if a.env.Executable == "" {
		found, err := b.PageCheck(ctx)
		if err != nil {
			found = append(found, err.Error())
		}
		return found, nil
	}
	size := int64(0)
	if fi, err := os.Stat(b.Path()); err == nil {
		size = fi.Size()
	}
	limit := pageCheckTime + time.Duration(size/pageCheckRate)*time.Second
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	child := exec.CommandContext(cctx, a.env.Executable, "--db", b.Path(), "check-pages")
	child.Env = []string{"PATH=/usr/bin:/bin", "KEYDEN_LOCK_TIMEOUT=" + a.env.Getenv("KEYDEN_LOCK_TIMEOUT"),
		fmt.Sprintf("KEYDEN_CHECK_MEMORY=%d", pageCheckMemory+4*size)}
	child.Cancel = func() error { return child.Process.Signal(syscall.SIGTERM) }
	child.WaitDelay = 5 * time.Second // then SIGKILL
	dieWithParent(child)
	runtime.LockOSThread()
	out, err := child.Output()
	runtime.UnlockOSThread()
	var found []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		found = append(found, sc.Text())
	}
	var ee *exec.ExitError
	errors.As(err, &ee)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return nil, &refusal{msg: "the check was stopped before bbolt's page check finished: run `keyden check` again to check the whole file"}
	case cctx.Err() != nil:
		found = append(found, fmt.Sprintf("bbolt's page check ran out of time (%v) reading the file: a page of it is damaged", limit))
	case ee != nil && ee.ExitCode() == ExitRefused:
		found = append(found, strings.TrimPrefix(strings.TrimSpace(string(ee.Stderr)), "keyden: "))
	case ee != nil && (bytes.Contains(ee.Stderr, []byte("out of memory")) || bytes.Contains(ee.Stderr, []byte("cannot allocate memory"))):
		found = append(found, "bbolt's page check ran out of memory reading the file: a page of it is damaged")
	default:
		found = append(found, "bbolt's page check crashed reading the file: a page of it is damaged")
	}
	return found, nil
}

// The page check's child may take pageCheckTime and a second more for each
// pageCheckRate bytes of the file (a sound 100 MB store takes about a
// second), and pageCheckMemory bytes of address space (Go reserves much it
// never uses) and four times the file's size more (the file's map, and a
// map entry for every page).
const (
	pageCheckRate   = 10 << 20
	pageCheckMemory = 3 << 30
)

var pageCheckTime = time.Minute // a variable for tests

// checkPagesCommand is the child process of pageCheck.
func (a *app) checkPagesCommand() *cobra.Command {
	return &cobra.Command{
		Use: "check-pages", Hidden: true, Args: noArgs,
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			b, ok := st.(*storage.Bolt)
			if !ok {
				return usagef("check-pages checks a file store")
			}
			// The parent stops the check with SIGTERM: not the context
			// serve's shutdown needs, bbolt's check does not heed one.
			signal.Reset(os.Interrupt, syscall.SIGTERM)
			if n, err := strconv.ParseUint(a.env.Getenv("KEYDEN_CHECK_MEMORY"), 10, 64); err == nil {
				capMemory(n)
			}
			found, err := b.PageCheck(cmd.Context())
			for _, f := range found {
				fmt.Fprintln(a.env.Stdout, f) // raw: the parent escapes it
			}
			return err
		}),
	}
}
