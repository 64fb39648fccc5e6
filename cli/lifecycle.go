package cli

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"keyden/format"
	"keyden/model"
	"keyden/storage"
)

// ParseGrace reads --grace: "now" or a duration such as 24h, up to 365d.
func ParseGrace(s string) (time.Duration, error) {
	if s == "now" || s == "0" {
		return 0, nil
	}
	d, err := model.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("--grace: %v (or now)", err)
	}
	if d > storage.MaxGrace {
		return 0, fmt.Errorf("--grace %s is longer than 365d: rotate with a shorter grace", model.Quote(s))
	}
	return d, nil
}

func (a *app) rotateCommand() *cobra.Command {
	var grace, expires string
	var b bulk
	var wait time.Duration
	p := a.printer()
	var req storage.RotateRequest
	cmd := &cobra.Command{
		Use:   "rotate ID... [--grace 24h]",
		Short: "Replace a key: print the new one once; the old one expires after the grace",
		Long: `Replace a key. The new key has the old one's name, channel, environment, type,
scopes and allowlist, and is printed once like create prints. The old key keeps
working for the grace (now, 1h, 24h, 3d, 7d, …; an earlier expiry of its own
stays) and is refused as expired after it. The two keys are linked both ways.
The new key gets the old one's lifetime from now, or --expires.
Several ids, or --filter QUERY, rotate every key named or matched, printing
each new key once; a key that cannot be rotated (the user's role, already
replaced, disabled) is reported and left as it is, the others are rotated.`,
		Example: `  keyden rotate k3x9aa7q --grace 1h
  keyden rotate --filter 'env:prod created:>1y' --grace 7d --yes --json`,
		Args: cobra.ArbitraryArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			g, err := ParseGrace(grace)
			if err != nil {
				return usagef("%v", err)
			}
			if err := b.check(a, cmd, args, model.KeyRotate); err != nil {
				return err
			}
			if len(args) != 1 {
				if expires != "" {
					return usagef("--expires is for one key: rotated together, each new key gets its old key's lifetime")
				}
				req.Grace = g
				return nil
			}
			req = storage.RotateRequest{ID: args[0], Grace: g}
			if expires != "" {
				if req.ExpiresAt, err = model.ParseExpiry(expires, a.env.Now()); err != nil {
					return usagef("%v", err)
				}
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			if len(args) != 1 {
				return a.rotateMany(cmd, st, p, &b, args, req.Grace, wait)
			}
			r, err := st.RotateKey(cmd.Context(), req)
			if err != nil {
				return err
			}
			err = p.print(struct {
				Secret string `json:"secret"`
				model.KeyView
				Replaces model.KeyView `json:"replaces"`
			}{r.New.Secret, r.New.Key.View(), r.Old.View()}, func(w io.Writer) error {
				if a.env.IsTerminal(a.env.Stdout) {
					printf(a.env.Stderr, "Rotated %s: new key %s; the old key %s works until %s. This is the only time the new key is shown.\n",
						model.Quote(r.Old.Name), r.New.Key.ID, r.Old.ID, format.Stamp(r.Old.ExpiresAt))
				}
				_, err := fmt.Fprintln(w, r.New.Secret) // raw, as create prints it
				return err
			})
			if err != nil {
				return err
			}
			return a.confirmLanding(cmd.Context(), st, wait, inForceOn)
		}),
	}
	cmd.Flags().StringVar(&grace, "grace", "24h", "how long the old key keeps working: now, or a duration such as 1h, 24h, 3d, 7d")
	cmd.Flags().StringVar(&expires, "expires", "", "the new key's expiry (default: the old key's lifetime from now)")
	p.jsonFlag(cmd, "print one JSON object: the new key with \"secret\", and \"replaces\" (several keys: an array of them)")
	b.flags(cmd, "rotate by --filter")
	waitFlag(cmd, &wait, "has taken the rotation in")
	return cmd
}

// rotated is a rotation's JSON: the new key with its secret, and the key it replaces.
type rotated struct {
	Secret string `json:"secret"`
	model.KeyView
	Replaces model.KeyView `json:"replaces"`
}

// rotateMany rotates several keys: each new key once on stdout, as a line
// ending in the key or, with --json, one array of rotated.
func (a *app) rotateMany(cmd *cobra.Command, st store, p *printer, b *bulk, args []string, grace, wait time.Duration) error {
	var done []rotated
	text := func(w io.Writer, o storage.KeyOutcome) {
		if p.json {
			done = append(done, rotated{o.New.Secret, o.New.Key.View(), o.Key.View()})
			return
		}
		printf(w, "Rotated %s (%s → %s, %s/%s; the old key works until %s): ", model.Quote(o.Key.Name), o.Key.ID, o.New.Key.ID,
			o.Key.Channel, o.Key.Environment, format.Stamp(o.Key.ExpiresAt))
		fmt.Fprintln(w, o.New.Secret) // raw, as create prints it
	}
	b.json = p.json
	out, err := b.run(a, cmd, st, args, storage.BulkRequest{Action: model.KeyRotate, Grace: grace}, text)
	// New keys that were made are printed even when a later batch failed:
	// they are shown nowhere else.
	if p.json && (len(done) > 0 || err == nil || errors.As(err, new(*silentExit))) {
		if done == nil {
			done = []rotated{}
		}
		if perr := p.print(done, nil); perr != nil {
			return perr
		}
	}
	return a.confirmChanged(cmd.Context(), st, wait, inForceOn, out, err)
}

func (a *app) disableCommand(disable bool) *cobra.Command {
	use, short := "enable ID...", "Enable a disabled key again"
	if disable {
		use, short = "disable ID...", "Disable a key: refused as disabled until enabled (a safer step before delete)"
	}
	action := model.KeyEnable
	if disable {
		action = model.KeyDisable
	}
	var b bulk
	var wait time.Duration
	cmd := &cobra.Command{
		Use: use, Short: short, Args: cobra.ArbitraryArgs,
		Long: short + `.

Several ids, or --filter QUERY (with --yes, or asked on a terminal), act on
every key named or matched; a key the user may not change is reported and
left as it is, the others are changed.`,
		Example: "  keyden " + string(action) + " k3x9aa7q\n  keyden " + string(action) + " --filter 'env:dev used:>90d' --yes",
		PreRunE: func(cmd *cobra.Command, args []string) error {
			return b.check(a, cmd, args, action)
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			if len(args) != 1 {
				out, err := b.run(a, cmd, st, args, storage.BulkRequest{Action: action},
					func(w io.Writer, o storage.KeyOutcome) { keyLine(w, action, &o.Key) })
				if !disable {
					return err
				}
				return a.confirmChanged(cmd.Context(), st, wait, refusedBy, out, err)
			}
			k, err := st.SetDisabled(cmd.Context(), args[0], disable)
			if err != nil {
				return err
			}
			verb := "Enabled"
			if disable {
				verb = "Disabled"
			}
			printf(a.env.Stdout, "%s %s (%s, %s/%s).\n", verb, model.Quote(k.Name), k.ID, k.Channel, k.Environment)
			if !disable {
				return nil
			}
			return a.confirmRevocation(cmd.Context(), st, wait)
		}),
	}
	b.flags(cmd, string(action)+" by --filter")
	if disable {
		waitFlag(cmd, &wait, "refuses the key")
	}
	return cmd
}
