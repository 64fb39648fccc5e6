package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"keyden/format"
	"keyden/keyindex"
	"keyden/model"
	"keyden/storage"
)

// Bulk changes: `keyden disable|enable|delete|rotate|move` take several
// key ids, or --filter QUERY for every key the query matches (see the
// README's query language). A key that may not be changed is reported on
// stderr, one sentence each, while the others still go through; the
// command then exits 1.

// parseFilter reads --filter, refusing a malformed query before the store is opened.
func parseFilter(q string) (keyindex.Terms, error) {
	t, err := keyindex.ParseQuery(q)
	if err != nil {
		return t, usagef("--filter: %v", err)
	}
	return t, nil
}

// unknownNames is a query's mistake when it matched no key: an
// environment or channel it names exactly (no * and not negated) that the
// store does not have, so a typo such as env:prd, or env:stg for staging's
// tag, is not taken for "no keys match". by: is left alone: a member who
// left still created keys, and a clean-up by their name is no mistake.
func unknownNames(ctx context.Context, st store, terms keyindex.Terms) error {
	envs, err := st.Environments(ctx)
	if err != nil {
		return err
	}
	chs, err := st.Channels(ctx)
	if err != nil {
		return err
	}
	if s := terms.UnknownName(envs, chs); s != "" {
		return usagef("--filter: %s", s)
	}
	return nil
}

// bulk is one bulk command's target: ids, or a parsed --filter.
type bulk struct {
	filter string
	terms  keyindex.Terms
	yes    bool
	// json: stdout is for a JSON array, so the count goes to stderr.
	json bool
}

// summary is where the count line goes.
func (b *bulk) summary(a *app) io.Writer {
	if b.json {
		return a.env.Stderr
	}
	return a.env.Stdout
}

// flags gives cmd --filter and --yes.
func (b *bulk) flags(cmd *cobra.Command, verb string) {
	cmd.Flags().StringVar(&b.filter, "filter", "", "act on every key this `QUERY` matches, such as 'env:dev used:>90d' (the query language of keyden list --filter)")
	cmd.Flags().BoolVarP(&b.yes, "yes", "y", false, verb+" without asking")
}

// check validates ids and --filter before the store is opened. A filter,
// and a delete, need --yes when there is no terminal to ask on.
func (b *bulk) check(a *app, cmd *cobra.Command, args []string, action model.KeyAction) error {
	path := cmd.CommandPath()
	if b.filter == "" && len(args) == 0 {
		return usagef("%s needs a key id, or --filter QUERY for every key it matches: see `%s --help`", path, path)
	}
	if b.filter != "" && len(args) > 0 {
		return usagef("%s takes key ids or --filter, not both", path)
	}
	if b.filter != "" {
		var err error
		if b.terms, err = parseFilter(b.filter); err != nil {
			return err
		}
		if b.terms.Empty() {
			return usagef("--filter %s matches every key: give at least one term, such as env:dev", model.Quote(b.filter))
		}
	}
	if (b.filter != "" || action == model.KeyDelete) && !b.yes && !a.interactive() {
		if len(args) == 1 {
			return usagef("deleting a key needs confirmation: pass --yes (there is no terminal to ask on)")
		}
		what := "keys by --filter"
		if b.filter == "" {
			what = "keys"
		}
		return usagef("%s %s needs confirmation: pass --yes (there is no terminal to ask on); `keyden list --filter QUERY` shows what a query selects", gerund(action), what)
	}
	return nil
}

func (a *app) interactive() bool {
	return a.env.IsTerminal(a.env.Stdin) && a.env.IsTerminal(a.env.Stderr)
}

func gerund(action model.KeyAction) string {
	return strings.TrimSuffix(string(action), "e") + "ing"
}

func pastTense(action model.KeyAction) string {
	return strings.ToUpper(string(action[:1])) + strings.TrimSuffix(string(action[1:]), "e") + "ed"
}

// run makes req's change to the keys named by args or matched by the
// filter, asking first on a terminal when it must, and reports each key:
// done on stdout with done, refused on stderr, then a count. Refusals exit 1.
func (b *bulk) run(a *app, cmd *cobra.Command, st store, args []string, req storage.BulkRequest, done func(w io.Writer, o storage.KeyOutcome)) ([]storage.KeyOutcome, error) {
	ctx := cmd.Context()
	req.IDs = args
	if b.filter != "" {
		req.IDs, req.Match = nil, b.terms.Matcher(a.env.Now())
	}
	if (b.filter != "" || req.Action == model.KeyDelete) && !b.yes {
		ids, ok, err := a.confirmBulk(cmd, st, req, b)
		if err != nil || !ok {
			return nil, err
		}
		// What was shown is what may change, each key tested again.
		req.IDs = ids
	}
	out, err := st.ChangeKeys(ctx, req)
	w := bufio.NewWriter(a.env.Stdout)
	sw := w
	if b.json {
		sw = bufio.NewWriter(a.env.Stderr)
	}
	refused, already := 0, 0
	for _, o := range out {
		if b.filter != "" && alreadyDone(req.Action, o) {
			// --filter asks for a state: a key in it already is not a
			// refusal, so running a clean-up again is not a failure.
			already++
			w.Flush()
			printf(a.env.Stderr, "keyden: %s\n", format.Sentence(o.Err.Error()))
			continue
		}
		if o.Err != nil {
			refused++
			w.Flush()
			printf(a.env.Stderr, "keyden: not %s: %s\n", strings.ToLower(pastTense(req.Action)), format.Sentence(o.Err.Error()))
			continue
		}
		done(w, o)
	}
	changed := len(out) - refused - already
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	switch {
	case err != nil:
	case len(out) == 0:
		if b.filter != "" {
			if err := unknownNames(ctx, st, b.terms); err != nil {
				return nil, err
			}
		}
		fmt.Fprintf(sw, "No keys match: nothing %s.\n", strings.ToLower(pastTense(req.Action)))
	case len(out) > 1 || refused > 0 || already > 0:
		fmt.Fprintf(sw, "%s %s", pastTense(req.Action), format.Count(changed, "key"))
		if already > 0 {
			fmt.Fprintf(sw, "; %d %s", already, alreadyWord(req))
		}
		if refused > 0 {
			fmt.Fprintf(sw, "; %d refused", refused)
		}
		fmt.Fprintln(sw, ".")
	}
	if ferr := sw.Flush(); err == nil {
		err = ferr
	}
	if err == nil && refused > 0 {
		err = &silentExit{code: ExitRefused}
	}
	return out, err
}

// alreadyDone says o only reports a key the action leaves as it is by
// its state: one already disabled, enabled or in the channel; for a
// rotate, one already replaced, disabled or a decoy, none of which is
// ever rotated (a filter such as env:prod takes in decoys too).
func alreadyDone(action model.KeyAction, o storage.KeyOutcome) bool {
	switch {
	case o.Err == nil:
		return false
	case action == model.KeyRotate:
		return (errors.Is(o.Err, storage.ErrExists) || errors.Is(o.Err, storage.ErrConflict)) &&
			(o.Key.RotatedTo != "" || o.Key.Disabled || o.Key.Decoy)
	}
	return errors.Is(o.Err, storage.ErrExists) &&
		(action == model.KeyDisable || action == model.KeyEnable || action == model.KeyMove)
}

func alreadyWord(req storage.BulkRequest) string {
	switch req.Action {
	case model.KeyMove:
		return "already in " + format.Safe(req.Channel)
	case model.KeyRotate:
		return "left as they are (already replaced, disabled or decoys)"
	}
	return "already " + strings.ToLower(pastTense(req.Action))
}

// confirmBulk shows how many keys req would change, with the first
// names, and asks for yes on the terminal. It returns the ids shown.
func (a *app) confirmBulk(cmd *cobra.Command, st store, req storage.BulkRequest, b *bulk) ([]string, bool, error) {
	ids := req.IDs
	var names []string
	// The count of keys the user may not change is said before yes is
	// typed, as the TUI's confirm says it.
	members, err := st.Members(cmd.Context())
	if err != nil {
		return nil, false, err
	}
	envs, err := st.Environments(cmd.Context())
	if err != nil {
		return nil, false, err
	}
	// A delete of keys of an environment that confirms by name asks for the
	// count typed, as the TUI does: yes alone let a second id skip the name
	// that deleting the prod key by itself asks for.
	var named []string
	byName := 0
	mayNot := 0
	count := func(k *model.Key) {
		if model.Members(members).CanChangeKey(st.Actor(), req.Action, k) != nil {
			mayNot++
		}
		if req.Action == model.KeyDelete && slices.ContainsFunc(envs, func(e model.Environment) bool { return e.Name == k.Environment && e.ConfirmByName }) {
			byName++
			if !slices.Contains(named, k.Environment) {
				named = append(named, k.Environment)
			}
		}
	}
	if req.Match != nil {
		ids = nil
		err := st.EachKey(cmd.Context(), storage.Filter{Match: req.Match}, nil, func(k *model.Key) error {
			ids = append(ids, k.ID)
			count(k)
			if len(names) < 3 {
				names = append(names, model.Quote(k.Name)+" ("+k.ID+")")
			}
			return nil
		})
		if err != nil {
			return nil, false, err
		}
		if len(ids) == 0 {
			if err := unknownNames(cmd.Context(), st, b.terms); err != nil {
				return nil, false, err
			}
			fmt.Fprintf(b.summary(a), "No keys match: nothing %s.\n", strings.ToLower(pastTense(req.Action)))
			return nil, false, nil
		}
	} else {
		for _, id := range ids {
			k, err := st.GetKey(cmd.Context(), id)
			if err == nil {
				count(&k)
			} else if errors.Is(err, storage.ErrNotFound) {
				mayNot++ // gone: nothing to ask about
			}
			// By name, as a filter's keys are: ids alone told nothing.
			if len(names) < 3 && err == nil {
				names = append(names, model.Quote(k.Name)+" ("+id+")")
			} else if len(names) < 3 {
				names = append(names, id)
			}
		}
	}
	if mayNot == len(ids) {
		// Nothing the user could say yes to: refused at once, key by key,
		// as the TUI refuses before its confirm.
		return ids, true, nil
	}
	list := strings.Join(names, ", ")
	if more := len(ids) - len(names); more > 0 {
		list += fmt.Sprintf(" and %d more", more)
	}
	verb := string(req.Action)
	printf(a.env.Stderr, "%s %s: %s?\n", strings.ToUpper(verb[:1])+verb[1:], format.Count(len(ids), "key"), list)
	if mayNot > 0 {
		fmt.Fprintf(a.env.Stderr, "You may not %s %d of them: %s left as %s, %s.\n", verb, mayNot,
			plural(mayNot, "that one is", "those are"), plural(mayNot, "it is", "they are"),
			plural(len(ids)-mayNot, "the other goes through", "the others go through"))
	}
	switch {
	case req.Action == model.KeyDelete:
		fmt.Fprintln(a.env.Stderr, "Apps using these keys will stop working immediately. This cannot be undone.")
	case req.Action == model.KeyRotate && req.Grace == 0:
		fmt.Fprintln(a.env.Stderr, "The old keys stop working at once (--grace now): apps using them must switch to the new keys now.")
	case req.Action == model.KeyRotate:
		// The grace is what a rotation's question is about: the TUI's
		// confirm offers it, and the question here said nothing of it.
		printf(a.env.Stderr, "Each old key keeps working until %s (--grace), or its own earlier expiry: apps using it must switch to the new key by then.\n",
			format.Stamp(a.env.Now().Add(req.Grace)))
	}
	prompt, want := fmt.Sprintf("Type yes to %s: ", verb), "yes"
	if byName > 0 {
		are := fmt.Sprintf("%d of them are %s keys", byName, strings.Join(named, "/"))
		if byName == 1 {
			are = "1 of them is a " + strings.Join(named, "/") + " key"
		}
		want = strconv.Itoa(len(ids))
		prompt = format.Safe(are) + ": type " + want + ", the number of keys, to " + verb + ": "
	}
	answer, err := a.ask(cmd.Context(), prompt)
	if err != nil || answer != want {
		fmt.Fprintf(a.env.Stderr, "%sNothing %s.\n", cancelled(err), strings.ToLower(pastTense(req.Action)))
		return nil, false, &silentExit{code: ExitRefused}
	}
	return ids, true, nil
}

// ask reads one answer after prompt, trimmed: on keyden ssh's terminal
// (echoed and editable, ctrl+c or ctrl+d cancel), else a line of stdin.
// A cancel, or input ending before a line, is io.EOF; so is ctx ending
// (ctrl+c on a local terminal: keyden catches the signal, and the read
// went on waiting for a line).
func (a *app) ask(ctx context.Context, prompt string) (string, error) {
	if a.env.ReadLine != nil {
		line, err := untilDone(ctx, func() (string, error) { return a.env.ReadLine(prompt) })
		if errors.Is(err, term.ErrPasteIndicator) {
			err = nil
		}
		if ctx.Err() != nil {
			return "", io.EOF
		}
		return strings.TrimSpace(line), err
	}
	fmt.Fprint(a.env.Stderr, prompt)
	line, err := untilDone(ctx, func() (string, error) { return bufio.NewReader(a.env.Stdin).ReadString('\n') })
	if ctx.Err() != nil {
		fmt.Fprintln(a.env.Stderr)
		return "", io.EOF
	}
	if err != nil && line == "" {
		return "", io.EOF
	}
	return strings.TrimSpace(line), nil
}

// untilDone runs read and returns what it read, or ctx's error as soon as
// ctx ends; a read still blocked then is left behind (keyden is ending).
func untilDone(ctx context.Context, read func() (string, error)) (string, error) {
	type result struct {
		s   string
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := read()
		done <- result{s, err}
	}()
	select {
	case r := <-done:
		return r.s, r.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// cancelled starts the refusal's sentence when the question was cancelled.
func cancelled(err error) string {
	if err != nil {
		return "Cancelled. "
	}
	return ""
}

// keyLine is a done key's line: Disabled "web" (k1, default/prod).
func keyLine(w io.Writer, action model.KeyAction, k *model.Key) {
	printf(w, "%s %s (%s, %s/%s).\n", pastTense(action), model.Quote(k.Name), k.ID, k.Channel, k.Environment)
}

func (a *app) moveCommand() *cobra.Command {
	var b bulk
	var channel string
	cmd := &cobra.Command{
		Use:   "move ID... --channel C",
		Short: "Move keys to another channel",
		Long: `Move keys to another channel: the keys named, or with --filter every key the
query matches (with --yes, or asked on a terminal). Each move is audited. A
key the user may not change is reported and left where it is; the others move.`,
		Example: `  keyden move k3x9aa7q k8c2ffd1 --channel web
  keyden move --filter 'channel:old-app' --channel web --yes`,
		Args: cobra.ArbitraryArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if channel == "" {
				return usagef("move needs the channel to move to: pass --channel, such as --channel web")
			}
			if err := model.ValidateChannelName(channel); err != nil {
				return usagef("--channel: %v", err)
			}
			return b.check(a, cmd, args, model.KeyMove)
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			_, err := b.run(a, cmd, st, args, storage.BulkRequest{Action: model.KeyMove, Channel: channel},
				func(w io.Writer, o storage.KeyOutcome) {
					printf(w, "Moved %s (%s, %s) to %s.\n", model.Quote(o.Key.Name), o.Key.ID, o.Key.Environment, o.Key.Channel)
				})
			return err
		}),
	}
	cmd.Flags().StringVar(&channel, "channel", "", "the channel to move the keys to (required)")
	b.flags(cmd, "move by --filter")
	return cmd
}
