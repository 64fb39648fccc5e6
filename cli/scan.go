package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"keyden/format"
	"keyden/keygen"
	"keyden/model"
	"keyden/scan"
	"keyden/storage"
)

// scanOpts are keyden scan's flags.
type scanOpts struct {
	git, staged, lookalikes, disable, installHook bool
	rotate, rules, prefix                         string
	grace                                         time.Duration
}

// scanFind is one find as scan reports it.
type scanFind struct {
	Commit string `json:"commit,omitempty"`
	Path   string `json:"path"`
	Line   int    `json:"line"`
	Hint   string `json:"hint"`
	// Status is live, decoy, disabled, expired, not_in_store, or unchecked (no
	// store could be read: the checksum alone says it is a key).
	Status  string         `json:"status"`
	Live    bool           `json:"live"`
	Key     *model.KeyView `json:"key"`
	Action  string         `json:"action,omitempty"`
	Refused string         `json:"refused,omitempty"`

	hash keygen.Hash
}

func (f *scanFind) where() string {
	w := fmt.Sprintf("%s:%d", f.Path, f.Line)
	if f.Commit != "" {
		w = shortCommit(f.Commit) + " " + w
	}
	return w
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}

// scanReport is keyden scan --json.
type scanReport struct {
	Store string `json:"store"`
	// Checked is "store" when finds were looked up, "checksum" when no
	// store could be read.
	Checked    string       `json:"checked"`
	Prefix     string       `json:"prefix"`
	Finds      []scanFind   `json:"finds"`
	Lookalikes []scanFind   `json:"lookalikes,omitempty"`
	Rotated    []scanRotate `json:"rotated,omitempty"`
	// Unrecorded says why the live keys found could not be audited (nor
	// disabled or rotated): a store this user may only read, a full disk.
	Unrecorded string `json:"unrecorded,omitempty"`
}

// scanRotate is a replacement made by --rotate, with its secret shown once.
type scanRotate struct {
	Secret string `json:"secret"`
	model.KeyView
	Replaces string `json:"replaces"`
}

func (a *app) scanCommand() *cobra.Command {
	var o scanOpts
	p := a.printer()
	cmd := &cobra.Command{
		Use:   "scan [PATH…|-]",
		Short: "Find this store's keys in files, standard input or a git history",
		Long: `Find keys of this store in files and folders (recursively, skipping .git),
in standard input (-), in every commit of a git repository (--git [REPO]) or in
the staged changes (--staged). Only a string with the store's prefix and a valid
checksum is a key; each is looked up by its SHA-256 and reported with where it
is, its name, channel, environment, status and last use, never the key itself.
Exit 1 when a live key (one that works now) was found, 0 when none, 2 on bad
usage or an unreadable path. Every live key found is written to the audit log
with where it was found; --disable or --rotate GRACE also act on it.
When the store cannot be read, the checksum alone decides and every key found
counts as live (--prefix names the prefix then; default kd).`,
		Example: `  keyden scan .
  git diff | keyden scan -
  keyden scan --git ~/src/app --disable
  keyden scan --rules gitleaks >> .gitleaks.toml
  keyden scan --install-hook`,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			modes := 0
			for _, on := range []bool{o.git, o.staged, o.rules != "", o.installHook} {
				if on {
					modes++
				}
			}
			if modes > 1 {
				return usagef("--git, --staged, --rules and --install-hook do not go together: use one")
			}
			if (o.staged || o.installHook || o.git) && len(args) > 1 {
				return usagef("%s takes at most one repository folder: see `keyden scan --help`", modeFlag(o))
			}
			if o.rules != "" && len(args) > 0 {
				return usagef("--rules takes no paths: see `keyden scan --help`")
			}
			if o.rules != "" && o.rules != "gitleaks" && o.rules != "trufflehog" {
				return usagef("--rules %s is not a scanner keyden writes rules for: use gitleaks or trufflehog", model.Quote(o.rules))
			}
			if o.disable && o.rotate != "" {
				return usagef("--disable and --rotate do not go together: choose one")
			}
			if o.rotate != "" {
				g, err := ParseGrace(o.rotate)
				if err != nil {
					return usagef("--rotate: %v", strings.TrimPrefix(err.Error(), "--grace: "))
				}
				o.grace = g
			}
			if o.prefix != "" {
				if err := model.ValidatePrefix(o.prefix); err != nil {
					return usagef("--prefix: %v", err)
				}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			st, info, why := a.scanStore(cmd.Context())
			prefix := info.Prefix
			if o.prefix != "" {
				prefix = o.prefix
			}
			if prefix == "" {
				prefix = "kd"
			}
			switch {
			case o.rules != "":
				return a.printRules(cmd.Context(), st, prefix, info.Format, o.rules)
			case o.installHook:
				return a.installHook(cmd.Context(), args, prefix)
			}
			if st == nil && (o.disable || o.rotate != "") {
				return &refusal{fmt.Sprintf("%s, so nothing can be disabled or rotated: fix the store (or --db) and scan again", why)}
			}
			unread := 0
			finds, looks, err := a.runScan(cmd.Context(), o, args, scan.New(prefix), &unread)
			if cmd.Context().Err() != nil {
				return &refusal{"the scan was stopped before it finished, so nothing was looked up or reported: scan again"}
			}
			if err != nil {
				return err
			}
			rep := scanReport{Prefix: prefix, Checked: "checksum", Finds: finds}
			if o.lookalikes {
				rep.Lookalikes = looks
			}
			if st != nil {
				rep.Store, rep.Checked = st.Location(), "store"
				if rep.Rotated, rep.Unrecorded, err = a.judgeFinds(cmd.Context(), st, rep.Finds, o); err != nil {
					return err
				}
			} else {
				printf(a.env.Stderr, "keyden: %s, so the checksum alone decides: every key found counts as live.\n", why)
				for i := range rep.Finds {
					rep.Finds[i].Status, rep.Finds[i].Live = "unchecked", true
				}
			}
			if err := p.print(rep, func(w io.Writer) error { return a.scanText(w, rep) }); err != nil {
				return err
			}
			if rep.Unrecorded != "" {
				nor := ""
				switch {
				case o.disable:
					nor = ", nor any key disabled"
				case o.rotate != "":
					nor = ", nor any key rotated"
				}
				printf(a.env.Stderr, "keyden: the leaks found could not be recorded in the audit log%s: %s\n", nor, rep.Unrecorded)
			}
			if unread > 0 {
				printf(a.env.Stderr, "keyden: %s could not be read, so this scan is not complete: scan again as a user who can read %s.\n",
					format.Count(unread, "path"), plural(unread, "it", "them"))
			}
			if err := scanVerdict(a.env.Stderr, rep, o); err != nil || unread == 0 {
				return err
			}
			return &silentExit{code: ExitUsage}
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.git, "git", false, "scan every commit of the repository in the folder given (default .) through git")
	f.BoolVar(&o.staged, "staged", false, "scan the changes staged for the next commit (what the pre-commit hook runs)")
	f.BoolVar(&o.lookalikes, "lookalikes", false, "also list strings shaped like keys whose checksum is wrong (never reported as keys)")
	f.BoolVar(&o.disable, "disable", false, "disable every live key found (audited with where it was found)")
	f.StringVar(&o.rotate, "rotate", "", "rotate every live key found; the leaked key keeps working for this grace (now, 1h, 24h, …)")
	f.StringVar(&o.rules, "rules", "", "print a rule for gitleaks or trufflehog that finds this store's keys")
	f.BoolVar(&o.installHook, "install-hook", false, "write a git pre-commit hook that runs keyden scan --staged")
	f.StringVar(&o.prefix, "prefix", "", "the key prefix to look for (default: the store's, else kd)")
	p.jsonFlag(cmd, "print one JSON object: the store, its prefix, every find and what was done")
	return cmd
}

func modeFlag(o scanOpts) string {
	switch {
	case o.git:
		return "--git"
	case o.staged:
		return "--staged"
	}
	return "--install-hook"
}

// scanStore opens the store to look finds up in, never making one: no
// store, or one that cannot be read, leaves the checksum to decide (why
// says what went wrong).
func (a *app) scanStore(ctx context.Context) (store, storage.Info, string) {
	st, err := a.openExisting()
	if err != nil {
		return nil, storage.Info{}, "the key store could not be opened (" + strings.TrimSuffix(err.Error(), ".") + ")"
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, storage.Info{}, "the key store could not be read (" + strings.TrimSuffix(err.Error(), ".") + ")"
	}
	return st, info, ""
}

// runScan searches what the arguments name; finds are keys, looks are lookalikes.
// Paths inside folders that could not be read are said on stderr, counted
// in unread and skipped.
func (a *app) runScan(ctx context.Context, o scanOpts, args []string, m *scan.Matcher, unread *int) (finds, looks []scanFind, err error) {
	add := func(commit, path string, f scan.Find) {
		sf := scanFind{Commit: commit, Path: path, Line: f.Line, Hint: f.Hint, hash: f.Hash}
		if f.Valid {
			finds = append(finds, sf)
		} else {
			sf.Status = "lookalike"
			looks = append(looks, sf)
		}
	}
	if o.git || o.staged {
		dir := "."
		if len(args) == 1 {
			dir = args[0]
		}
		// --text: a key in a file git takes for binary (one NUL byte is
		// enough) is still a leak; git would say only "Binary files differ".
		gitArgs := []string{"log", "--all", "-p", "--text", "-U0", "--no-color", "--no-ext-diff", "--no-textconv", "--no-show-signature", "--format=commit %H"}
		if o.staged {
			gitArgs = []string{"diff", "--cached", "--text", "-U0", "--no-color", "--no-ext-diff", "--no-textconv"}
		}
		// Outside a repository git diff compares files instead and says
		// "unknown option cached": ask git whether dir is one first.
		if err := runGit(ctx, dir, []string{"rev-parse", "--git-dir"}, func(r io.Reader) error { _, err := io.Copy(io.Discard, r); return err }); err != nil {
			return nil, nil, err
		}
		err := runGit(ctx, dir, gitArgs, func(r io.Reader) error {
			return m.Diff(r, func(d scan.DiffFind) { add(d.Commit, d.Path, d.Find) })
		})
		return finds, looks, err
	}
	if len(args) == 0 {
		return nil, nil, usagef("scan needs something to read: give files or folders, - for standard input, or --git")
	}
	for _, arg := range args {
		if arg == "-" {
			if err := m.Scan(ctxReader{ctx, a.env.Stdin}, func(f scan.Find) { add("", "-", f) }); err != nil {
				if ctx.Err() != nil {
					return nil, nil, ctx.Err()
				}
				return nil, nil, usagef("could not read standard input: %v", err)
			}
			continue
		}
		// A path named that cannot be read is a mistake to say at once; one
		// met inside a folder is said and skipped, so one unreadable file
		// does not hide what the rest holds.
		skip := func(path string, err error) error {
			if path == arg {
				return usagef("could not read %s: %v", path, unwrapPath(err))
			}
			printf(a.env.Stderr, "keyden: could not read %s (%v), so it was not scanned.\n", path, unwrapPath(err))
			*unread++
			return nil
		}
		root := arg
		if fi, err := os.Stat(arg); err == nil && fi.IsDir() {
			root = strings.TrimSuffix(arg, "/") + "/" // a link to a folder named is walked as the folder
		}
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if path == root {
				path = arg
			}
			if err != nil {
				if serr := skip(path, err); serr != nil || d == nil || !d.IsDir() {
					return serr
				}
				return filepath.SkipDir
			}
			if d.IsDir() {
				if path != arg && (d.Name() == ".git" || pseudoFS(path)) {
					return filepath.SkipDir
				}
				return nil
			}
			// Devices, pipes and sockets in a folder are not files to read;
			// a link is read when named, not when met in a folder.
			if !d.Type().IsRegular() && path != arg {
				return nil
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			file, err := os.Open(path)
			if err == nil {
				defer file.Close()
				err = m.Scan(ctxReader{ctx, file}, func(f scan.Find) { add("", path, f) })
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				return skip(path, err)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return finds, looks, nil
}

// ctxReader stops a read at ctx's end: Ctrl-C (or SIGTERM) ends a scan
// inside a file without end, such as /proc/kcore or /dev/zero named.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// runGit runs git in dir and hands its output to read as it comes.
func runGit(ctx context.Context, dir string, args []string, read func(io.Reader) error) error {
	// A repository's own config runs no program of its choosing here: scan
	// may be given a repository it does not trust. An fsmonitor hook runs
	// on git diff --cached; a partial clone fetches a missing object from
	// its promisor remote, running the remote's uploadpack (no transport,
	// no fetch); log.showSignature runs gpg.program (--no-show-signature).
	cmd := exec.CommandContext(ctx, "git", append([]string{"-C", dir, "-c", "core.fsmonitor=false", "-c", "protocol.allow=never"}, args...)...)
	cmd.Env = append(os.Environ(), "GIT_NO_LAZY_FETCH=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return usagef("could not run git (%v): install git to scan a repository", err)
	}
	rerr := read(out)
	_, _ = io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		if e := stderr.String(); strings.Contains(e, "lazy fetching disabled") || strings.Contains(e, "transport '") && strings.Contains(e, "' not allowed") {
			return usagef("%s is a partial clone: the contents of some files are not in it, and keyden scan does not fetch them (a fetch runs programs the repository's config may name): scan a full clone (git clone without --filter)", dir)
		}
		msg, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		return usagef("git could not read %s (%s): give the folder of a git repository", dir, cmp(msg, err.Error()))
	}
	return rerr
}

func cmp(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// judgeFinds looks every find up in the store, audits each live key's
// leak once (with where it was first found) and carries out --disable or
// --rotate. A store that can be read but not written still gets its finds
// reported: unrecorded says why they were not audited.
func (a *app) judgeFinds(ctx context.Context, st store, finds []scanFind, o scanOpts) (rotated []scanRotate, unrecorded string, err error) {
	var hashes []keygen.Hash
	places := map[keygen.Hash][]int{}
	for i, f := range finds {
		if places[f.hash] == nil {
			hashes = append(hashes, f.hash)
		}
		places[f.hash] = append(places[f.hash], i)
	}
	keys, err := st.LookupHashes(ctx, hashes)
	if err != nil {
		return nil, "", err
	}
	now := a.env.Now()
	for _, h := range hashes {
		at := places[h]
		k, ok := keys[h]
		status := "not_in_store"
		switch {
		case !ok:
		case k.Decoy:
			status = "decoy" // planted on purpose; its use, not its sight, is the alert
		case k.Disabled:
			status = "disabled"
		case k.Expired(now):
			status = "expired"
		default:
			status = "live"
		}
		var action, refused string
		if status == "live" {
			where := finds[at[0]].where()
			if len(at) > 1 {
				where += fmt.Sprintf(" and %d more %s", len(at)-1, plural(len(at)-1, "place", "places"))
			}
			out, err := st.RecordLeak(ctx, storage.Leak{Hash: h, Where: where, Source: "keyden scan"},
				storage.LeakResponse{Disable: o.disable, Rotate: o.rotate != "", Grace: o.grace})
			if errors.Is(err, storage.ErrUnwritable) {
				unrecorded = format.Sentence(err.Error())
				if o.disable || o.rotate != "" {
					out.Refused = errors.New("the key store could not be written") // the whole sentence follows the table
				}
			} else if err != nil {
				return rotated, "", err
			}
			if out.Found {
				k = out.Key
			}
			action = out.Done
			if out.Refused != nil {
				refused = format.Sentence(out.Refused.Error())
			}
			if out.Done == "rotated" {
				r := out.Rotated
				rotated = append(rotated, scanRotate{Secret: r.New.Secret, KeyView: r.New.Key.View(), Replaces: r.Old.ID})
			}
		}
		for _, i := range at {
			f := &finds[i]
			f.Status, f.Live, f.Action, f.Refused = status, status == "live", action, refused
			if ok {
				v := k.View()
				f.Key = &v
			}
		}
	}
	return rotated, unrecorded, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// scanText is keyden scan's table: one line a find, never a key.
func (a *app) scanText(w io.Writer, rep scanReport) error {
	if len(rep.Finds)+len(rep.Lookalikes) == 0 {
		_, err := fmt.Fprintln(w, "No keys found.")
		return err
	}
	now := a.env.Now()
	err := table(w, "WHERE\tKEY\tNAME\tCHANNEL\tENV\tSTATUS\tLAST USED", func(tw io.Writer) {
		for _, f := range append(append([]scanFind(nil), rep.Finds...), rep.Lookalikes...) {
			name, channel, env, used := "-", "-", "-", "-"
			if f.Key != nil {
				name, channel, env = f.Key.Name, f.Key.Channel, f.Key.Environment
				used = "never"
				if f.Key.LastUsedAt != nil {
					used = format.Ago(*f.Key.LastUsedAt, now)
				}
			}
			status := strings.ReplaceAll(f.Status, "_", " ")
			switch {
			case f.Action != "":
				status += ", " + f.Action + " now"
			case f.Refused != "":
				status += ", left as it is: " + f.Refused
			}
			printf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.where(), f.Hint, name, channel, env, status, used)
		}
	})
	if err != nil {
		return err
	}
	for _, r := range rep.Rotated {
		// raw, as rotate prints a new key: the only time it is shown
		if _, err := fmt.Fprintf(w, "New key for %s (%s, replaces %s): %s\n", format.Safe(model.Quote(r.Name)), r.ID, r.Replaces, r.Secret); err != nil {
			return err
		}
	}
	return nil
}

// scanVerdict says on stderr what the finds mean and gives the exit code:
// 1 when a live key was found.
func scanVerdict(stderr io.Writer, rep scanReport, o scanOpts) error {
	places, keys, acted, replaced := 0, map[keygen.Hash]bool{}, true, true
	for _, f := range rep.Finds {
		if f.Live {
			places++
			keys[f.hash] = true
			acted = acted && f.Action != ""
			replaced = replaced && f.Key != nil && f.Key.RotatedTo != ""
		}
	}
	if places == 0 {
		return nil
	}
	// One key is "it", several "them".
	n := len(keys)
	it, they, is := "it", "it", "is"
	if n > 1 {
		it, they, is = "them", "they", "are"
	}
	what := fmt.Sprintf("disable or rotate %s (keyden scan --disable, or --rotate 1h) and take %s out of the text", it, it)
	switch {
	case o.staged:
		what = fmt.Sprintf("take %s out of the staged changes before committing (git commit --no-verify skips this check)", it)
	case replaced && !acted:
		// Rotated already, working out their grace: rotate would refuse
		// and point at the new key, which did not leak.
		what = fmt.Sprintf("%s %s replaced already but %s until %s grace ends: disable %s now (keyden scan --disable) and take %s out of the text",
			they, is, plural(n, "works", "work"), plural(n, "its", "their"), it, it)
	case !acted: // refused for some: the table says why
	case o.disable:
		what = fmt.Sprintf("%s %s disabled now; take %s out of the text", they, is, it)
	case o.rotate != "":
		what = fmt.Sprintf("%s %s rotated now; hand out the new %s and take the old %s out of the text",
			they, is, plural(n, "key", "keys"), plural(n, "one", "ones"))
	}
	printf(stderr, "keyden: found %d live %s in %d %s: %s.\n", n, plural(n, "key", "keys"), places, plural(places, "place", "places"), what)
	return &silentExit{code: ExitRefused}
}
