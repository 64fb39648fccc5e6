package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"keyden/format"
	"keyden/keyindex"
	"keyden/model"
	"keyden/storage"
)

func (a *app) createCommand() *cobra.Command {
	var (
		name, channel, env, typ, expires string
		scopes, allow                    []string
		req                              storage.CreateRequest
		decoy                            bool
		wait                             time.Duration
	)
	p := a.printer()
	cmd := &cobra.Command{
		Use:   "create --name N --channel C --env E",
		Short: "Create a key and print it once",
		Long: `Create a key and print it once on standard output: only the key, or with
--json one object holding it under "secret". Nothing else ever shows it again.
Then it waits up to --wait until every running keyden serve accepts the key,
and says so on stderr, so a script may use the key at once.`,
		Example: `  keyden create --name "web checkout" --channel default --env prod
  keyden create --name ci --channel default --env dev --scope 'deploy:*' --allow-ip 10.0.0.0/8 --expires 90d --json
  keyden create --decoy --name "billing backup" --env prod   # plant it where a thief would look`,
		Args: noArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			// Everything that can be checked without the store is checked first,
			// so bad input never opens it.
			req = storage.CreateRequest{Channel: channel, Environment: env, Scopes: scopes, AllowedIPs: allow, Decoy: decoy}
			var err error
			if !cmd.Flags().Changed("name") {
				return usagef("a key needs a name: pass --name, such as --name \"web checkout\"")
			}
			if req.Name, err = model.ValidateKeyName(name); err != nil {
				return usagef("%v", err)
			}
			if env == "" {
				return usagef("a key needs an environment: pass --env, such as --env prod")
			}
			if err := checkEnvFlag(env); err != nil {
				return err
			}
			if err := model.ValidateChannelName(channel); err != nil {
				return usagef("%v", err)
			}
			if req.Type, err = model.ParseKeyType(typ); err != nil {
				return usagef("%v", err)
			}
			if req.Scopes, err = model.NormalizeScopes(scopes); err != nil {
				return usagef("%v", err)
			}
			if req.AllowedIPs, err = model.NormalizeAllowedIPs(allow); err != nil {
				return usagef("%v", err)
			}
			if req.ExpiresAt, err = model.ParseExpiry(expires, a.env.Now()); err != nil {
				return usagef("%v", err)
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			c, err := st.CreateKey(cmd.Context(), req)
			if err != nil {
				return err
			}
			if c.Grown {
				printf(a.env.Stderr, "keyden: this key is %d characters, longer than the store's format, to keep its minimum randomness with this prefix and tag.\n", len(c.Secret))
			}
			err = p.print(struct {
				Secret string `json:"secret"`
				model.KeyView
			}{c.Secret, c.Key.View()}, func(w io.Writer) error {
				if a.env.IsTerminal(a.env.Stdout) && c.Key.Decoy {
					printf(a.env.Stderr, "Created the decoy %s (%s) in %s/%s: plant it where a thief would look; every use of it is refused as unknown and raises an alert.\n",
						model.Quote(c.Key.Name), c.Key.ID, c.Key.Channel, c.Key.Environment)
				} else if a.env.IsTerminal(a.env.Stdout) {
					printf(a.env.Stderr, "Created %s (%s) in %s/%s. This is the only time the key is shown: store it now.\n",
						model.Quote(c.Key.Name), c.Key.ID, c.Key.Channel, c.Key.Environment)
				}
				_, err := fmt.Fprintln(w, c.Secret) // raw: a key is printable ASCII, and scripts take it as it is
				return err
			})
			if err != nil {
				return err
			}
			// A verifier takes a new key in within its poll: a script that
			// used the key at once was refused it as unknown.
			return a.confirmLanding(cmd.Context(), st, wait, inForceOn)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&name, "name", "", "what the key is for, 1–64 printable characters (required)")
	f.StringVar(&channel, "channel", model.DefaultChannel, "channel the key belongs to")
	f.StringVar(&env, "env", "", "environment name or tag, such as prod (required)")
	f.StringVar(&typ, "type", "bearer", "how apps send it: bearer or x-api-key")
	f.StringArrayVar(&scopes, "scope", nil, "a scope the key holds, such as posts:read (repeatable)")
	f.StringArrayVar(&allow, "allow-ip", nil, "an IP or CIDR the key may be used from (repeatable; none = anywhere)")
	f.StringVar(&expires, "expires", "never", "never, a duration such as 90d, or a date such as 2027-01-31")
	f.BoolVar(&decoy, "decoy", false, "make a decoy: a key that looks like any other, is never valid, and raises an alert when used")
	p.jsonFlag(cmd, "print one JSON object with the key under \"secret\"")
	waitFlag(cmd, &wait, "accepts the key")
	return cmd
}

// checkEnvFlag refuses, before the store is read, an --env that can be
// neither an environment's name nor its tag.
func checkEnvFlag(env string) error {
	if model.ValidateEnvName(env) != nil && model.ValidateTag(env) != nil {
		return usagef("--env %s is not an environment name or tag: use lower-case letters, digits and -, such as --env prod", model.Quote(env))
	}
	return nil
}

func (a *app) listCommand() *cobra.Command {
	var channel, env, unusedFor, expiringWithin, query string
	var neverUsed bool
	var f storage.Filter
	var terms keyindex.Terms
	p := a.printer()
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List keys (never their secrets)",
		Long: `List keys in the store's order (by id), never their secrets, as they are
read (memory stays flat on a big store). --filter takes the query
language of the terminal app's filter line: free words, env: channel: by:
scope: status: used:<1h|>90d|never expires:<7d|>30d|never created:<7d|>1y;
terms AND, the same field twice OR, -term negates. The other flags are
shorthands, combined with it.`,
		Example: `  keyden list --filter 'env:prod used:>90d by:alice'
  keyden list --filter 'status:expiring status:expired' --json`,
		Args: noArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			f = storage.Filter{Channel: channel, Environment: env, NeverUsed: neverUsed}
			var err error
			if channel != "" {
				if err := model.ValidateChannelName(channel); err != nil {
					return usagef("--channel: %v", err)
				}
			}
			if env != "" {
				if err := checkEnvFlag(env); err != nil {
					return err
				}
			}
			if unusedFor != "" {
				if f.UnusedFor, err = model.ParseDuration(unusedFor); err != nil {
					return usagef("--unused-for: %v", err)
				}
			}
			if expiringWithin != "" {
				if f.ExpiringWithin, err = model.ParseDuration(expiringWithin); err != nil {
					return usagef("--expiring-within: %v", err)
				}
			}
			if terms, err = parseFilter(query); err != nil {
				return err
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			filtered := channel != "" || env != "" || unusedFor != "" || neverUsed || expiringWithin != "" || !terms.Empty()
			if !terms.Empty() {
				f.Match = terms.Matcher(a.env.Now())
			}
			// Keys go out as they are read: a listing of a million keys
			// holds a part of them at a time, and a text table is sized by a
			// first pass.
			w := bufio.NewWriterSize(a.env.Stdout, 64<<10)
			var out io.Writer = w
			if p.json {
				out = jsonSafe{w} // as every --json: no C1 or bidi rune raw
			}
			if !terms.Empty() {
				// env:prd would match nothing because there is no prd: say so.
				if err := unknownNames(cmd.Context(), st, terms); err != nil {
					return err
				}
			}
			n, err := a.writeKeys(cmd, st, f, p.json, out)
			if err == nil && n == 0 && !p.json {
				if !filtered {
					fmt.Fprintln(w, "No keys yet. Create one with: keyden create --name NAME --env prod")
				} else {
					fmt.Fprintln(w, "No keys match.")
				}
			}
			if ferr := w.Flush(); err == nil {
				err = ferr
			}
			return err
		}),
	}
	cmd.Flags().StringVar(&query, "filter", "", "only keys this query matches, such as 'env:prod used:>90d by:alice' (see the README's query language)")
	cmd.Flags().StringVar(&channel, "channel", "", "only keys of this channel")
	cmd.Flags().StringVar(&env, "env", "", "only keys of this environment (name or tag)")
	cmd.Flags().StringVar(&unusedFor, "unused-for", "", "only keys not used for this long, such as 90d (never-used keys count from creation)")
	cmd.Flags().BoolVar(&neverUsed, "never-used", false, "only keys never used")
	cmd.Flags().StringVar(&expiringWithin, "expiring-within", "", "only keys expiring (or expired) within this long, such as 7d")
	p.jsonFlag(cmd, "print a JSON array")
	return cmd
}

// listHeader is the text listing's header.
var listHeader = []string{"ID", "NAME", "CHANNEL", "ENV", "HINT", "CREATED", "LAST USED", "CREATED BY", "STATUS"}

// writeKeys writes the keys f matches, in the store's order, as they are read: a
// JSON array, one key a line, or a table (with its header only when there
// are keys). It returns how many it wrote.
func (a *app) writeKeys(cmd *cobra.Command, st store, f storage.Filter, asJSON bool, w io.Writer) (int, error) {
	n := 0
	if asJSON {
		buf := make([]byte, 0, 1024)
		buf = append(buf, '[')
		err := st.EachKey(cmd.Context(), f, nil, func(k *model.Key) error {
			if n > 0 {
				buf = append(buf, ',')
			}
			n++
			buf = k.AppendJSON(append(buf, '\n'))
			_, err := w.Write(buf)
			buf = buf[:0]
			return err
		})
		if err != nil {
			return n, err
		}
		_, err = w.Write(append(buf, "\n]\n"...))
		return n, err
	}
	now := a.env.Now()
	cells := make([]string, len(listHeader))
	row := func(k *model.Key) []string {
		status := string(k.Health(now))
		if status == "" {
			status = "ok"
		}
		for i, c := range []string{k.ID, k.Name, k.Channel, k.Environment, k.Hint, format.Date(k.CreatedAt),
			format.Ago(k.LastUsedAt, now), k.CreatedBy, status} {
			cells[i] = format.Safe(c)
		}
		return cells
	}
	cols := newColumns(listHeader)
	err := st.EachKey(cmd.Context(), f, func(k *model.Key) error {
		cols.measure(row(k))
		return nil
	}, func(k *model.Key) error {
		if n == 0 {
			if err := cols.write(w, listHeader); err != nil {
				return err
			}
		}
		n++
		return cols.write(w, row(k))
	})
	return n, err
}

func (a *app) showCommand() *cobra.Command {
	p := a.printer()
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show one key's details (never its secret)",
		Args:  oneArg("key id"),
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			k, err := st.GetKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			return p.print(shownKey{k, a.env.Now()}, func(w io.Writer) error {
				return table(w, "", func(tw io.Writer) {
					for _, f := range format.KeyFields(&k, a.env.Now()) {
						printf(tw, "%s:\t%s\n", f[0], f[1])
					}
				})
			})
		}),
	}
	p.jsonFlag(cmd, "print one JSON object")
	return cmd
}

// shownKey is show --json's object: the key and its daily uses at now.
type shownKey struct {
	k   model.Key
	now time.Time
}

func (s shownKey) MarshalJSON() ([]byte, error) { return s.k.AppendDetailJSON(nil, s.now), nil }

func (a *app) deleteCommand() *cobra.Command {
	var b bulk
	var wait time.Duration
	cmd := &cobra.Command{
		Use:   "delete ID...",
		Short: "Delete keys: they stop working at once",
		Long: `Delete a key. The next verify of it is refused as unknown, so apps using it
stop working immediately. This cannot be undone. Without --yes keyden asks on
the terminal (yes, or the key's name typed in an environment that confirms by
name, such as prod; for several keys among which one is such, their number),
and refuses when there is none. Several ids, or --filter QUERY, delete every
key named or matched; a key the user may not delete is reported and kept, the
others are deleted.`,
		Example: `  keyden delete k3x9aa7q --yes
  keyden delete --filter 'env:dev used:>1y' --yes`,
		Args: cobra.ArbitraryArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			return b.check(a, cmd, args, model.KeyDelete)
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			if len(args) != 1 {
				out, err := b.run(a, cmd, st, args, storage.BulkRequest{Action: model.KeyDelete},
					func(w io.Writer, o storage.KeyOutcome) { keyLine(w, model.KeyDelete, &o.Key) })
				return a.confirmChanged(cmd.Context(), st, wait, refusedBy, out, err)
			}
			if !b.yes {
				k, err := st.GetKey(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				printf(a.env.Stderr, "Delete %s (%s, %s/%s, last used %s)?\nApps using this key will stop working immediately. This cannot be undone.\n",
					model.Quote(k.Name), k.ID, k.Channel, k.Environment, format.Ago(k.LastUsedAt, a.env.Now()))
				if err := a.confirmDelete(cmd.Context(), st, k); err != nil {
					return err
				}
			}
			k, err := st.DeleteKey(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			printf(a.env.Stdout, "Deleted %s (%s, %s/%s).\n", model.Quote(k.Name), k.ID, k.Channel, k.Environment)
			return a.confirmRevocation(cmd.Context(), st, wait)
		}),
	}
	b.flags(cmd, "delete")
	waitFlag(cmd, &wait, "refuses the key")
	return cmd
}

// confirmDelete asks for yes, or for the key's name typed when its
// environment confirms by name (prod's default), as the TUI does.
func (a *app) confirmDelete(ctx context.Context, st store, k model.Key) error {
	byName := false
	envs, err := st.Environments(ctx)
	if err != nil {
		return err
	}
	for _, e := range envs {
		if e.Name == k.Environment {
			byName = e.ConfirmByName
		}
	}
	prompt, want := "Type yes to delete: ", "yes"
	if byName {
		prompt, want = "This is a "+format.Safe(k.Environment)+" key: type its name, \""+format.Safe(k.Name)+"\", to delete: ", k.Name
	}
	answer, err := a.ask(ctx, prompt)
	switch {
	case err != nil:
		fmt.Fprintln(a.env.Stderr, "Cancelled. Not deleted.")
	case answer == want:
		return nil
	case byName:
		printf(a.env.Stderr, "%s is not the key's name, %s. Not deleted.\n", model.Quote(answer), model.Quote(k.Name))
	default:
		fmt.Fprintln(a.env.Stderr, "Not deleted.")
	}
	return &silentExit{code: ExitRefused}
}

// maxSecretInput bounds what verify reads: a key is at most 256 bytes.
const maxSecretInput = 4096

func (a *app) verifyCommand() *cobra.Command {
	var env, scope, ip string
	p := a.printer()
	var req storage.VerifyRequest
	cmd := &cobra.Command{
		Use:   "verify [--env E] [--scope S] [--ip IP]",
		Short: "Check a key read from standard input (never from arguments)",
		Long: `Check a key read from standard input; exit 0 when it is accepted and 1 when
it is refused, with the reason (malformed, unknown, wrong_environment, expired,
disabled, scope_missing, ip_not_allowed). A success records the key's last use.
The key is never taken from the command line, where other users could see it.`,
		Example: `  printf %s "$KEY" | keyden verify --env prod
  keyden verify --env prod --scope posts:write --ip 203.0.113.7 < key.txt`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				// Never echo the argument: it may well be a key.
				return usagef("verify reads the key from standard input, never from arguments (they are visible to other users): printf %%s \"$KEY\" | keyden verify")
			}
			return nil
		},
		PreRunE: func(cmd *cobra.Command, args []string) error {
			req = storage.VerifyRequest{Environment: env, Scope: scope}
			if env != "" {
				if err := checkEnvFlag(env); err != nil {
					return err
				}
			}
			if scope != "" {
				if err := model.ValidateScope(scope); err != nil {
					return usagef("%v", err)
				}
			}
			if ip != "" {
				addr, err := netip.ParseAddr(strings.TrimSpace(ip))
				if err != nil || addr.Zone() != "" {
					return usagef("--ip %s is not an IP address: give one such as 203.0.113.7", model.Quote(ip))
				}
				req.ClientIP = addr
			}
			secret, err := a.readSecret(cmd.Context())
			if err != nil {
				return err
			}
			req.Secret = secret
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			res, err := st.Verify(cmd.Context(), req)
			if err != nil {
				return err
			}
			return a.reportVerify(p, res)
		}),
	}
	cmd.Flags().StringVar(&env, "env", "", "the environment the key must belong to (name or tag)")
	cmd.Flags().StringVar(&scope, "scope", "", "a scope the key must hold")
	cmd.Flags().StringVar(&ip, "ip", "", "the client's IP address, checked against the key's allowlist and recorded")
	p.jsonFlag(cmd, "print the result as one JSON object")
	return cmd
}

// readSecret reads one key from stdin: without echo on a terminal, and
// bounded and trimmed of surrounding white space otherwise.
func (a *app) readSecret(ctx context.Context) (string, error) {
	// ctrl+c ends ctx (keyden catches the signal): the read is left
	// behind, with the terminal's echo given back.
	stopped := &refusal{msg: "stopped before a key was read, so nothing was checked"}
	if a.env.IsTerminal(a.env.Stdin) {
		if fd, ok := a.env.Stdin.(interface{ Fd() uintptr }); ok {
			fmt.Fprint(a.env.Stderr, "Key (not shown): ")
			state, _ := term.GetState(int(fd.Fd()))
			b, err := untilDone(ctx, func() (string, error) {
				b, err := term.ReadPassword(int(fd.Fd()))
				return string(b), err
			})
			fmt.Fprintln(a.env.Stderr)
			if ctx.Err() != nil {
				if state != nil {
					_ = term.Restore(int(fd.Fd()), state)
				}
				return "", stopped
			}
			if err != nil {
				return "", usagef("could not read the key from the terminal: pipe it in instead")
			}
			return strings.TrimSpace(b), nil
		}
	}
	s, err := untilDone(ctx, func() (string, error) {
		b, err := io.ReadAll(io.LimitReader(a.env.Stdin, maxSecretInput+1))
		return string(b), err
	})
	if ctx.Err() != nil {
		return "", stopped
	}
	if err != nil {
		return "", usagef("could not read the key from standard input: %v", err)
	}
	if len(s) > maxSecretInput {
		return "", usagef("standard input is too long to be a key: pipe in just the key")
	}
	if s = strings.TrimSpace(s); s == "" {
		return "", usagef("no key on standard input: pipe one in, such as printf %%s \"$KEY\" | keyden verify")
	}
	return s, nil
}

func (a *app) reportVerify(p *printer, res storage.VerifyResult) error {
	if res.Unrecorded != "" {
		printf(a.env.Stderr, "keyden: the key is valid, but its last use could not be recorded: %s\n", format.Sentence(res.Unrecorded))
	}
	out := struct {
		OK     bool       `json:"ok"`
		Reason string     `json:"reason,omitempty"`
		Detail string     `json:"detail,omitempty"`
		Key    *model.Key `json:"key,omitempty"`
		// Why last used was not written, on a success.
		Unrecorded string `json:"last_use_unrecorded,omitempty"`
	}{OK: res.OK, Reason: string(res.Reason), Detail: res.Detail, Unrecorded: res.Unrecorded}
	if res.Key.ID != "" {
		out.Key = &res.Key
	}
	err := p.print(out, func(w io.Writer) error {
		if !res.OK {
			_, err := printf(a.env.Stderr, "keyden: refused (%s): %s.\n", res.Reason, res.Detail)
			return err
		}
		k := res.Key
		_, err := printf(w, "ok: %s %s (channel %s, env %s, scopes %s)\n", k.ID, model.Quote(k.Name), k.Channel, k.Environment, scopeList(k.Scopes))
		return err
	})
	if err == nil && !res.OK {
		return &silentExit{code: ExitRefused}
	}
	return err
}

func scopeList(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ",")
}
