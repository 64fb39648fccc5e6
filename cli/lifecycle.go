package cli

import (
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
	p := a.printer()
	var req storage.RotateRequest
	cmd := &cobra.Command{
		Use:   "rotate ID [--grace 24h]",
		Short: "Replace a key: print the new one once; the old one expires after the grace",
		Long: `Replace a key. The new key has the old one's name, channel, environment, type,
scopes and allowlist, and is printed once like create prints. The old key keeps
working for the grace (now, 1h, 24h, 3d, 7d, …; an earlier expiry of its own
stays) and is refused as expired after it. The two keys are linked both ways.
The new key gets the old one's lifetime from now, or --expires.`,
		Args: oneArg("key id"),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			g, err := ParseGrace(grace)
			if err != nil {
				return usagef("%v", err)
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
			r, err := st.RotateKey(cmd.Context(), req)
			if err != nil {
				return err
			}
			return p.print(struct {
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
		}),
	}
	cmd.Flags().StringVar(&grace, "grace", "24h", "how long the old key keeps working: now, or a duration such as 1h, 24h, 3d, 7d")
	cmd.Flags().StringVar(&expires, "expires", "", "the new key's expiry (default: the old key's lifetime from now)")
	p.jsonFlag(cmd, "print one JSON object: the new key with \"secret\", and \"replaces\"")
	return cmd
}

func (a *app) disableCommand(disable bool) *cobra.Command {
	use, short := "enable ID", "Enable a disabled key again"
	if disable {
		use, short = "disable ID", "Disable a key: refused as disabled until enabled (a safer step before delete)"
	}
	return &cobra.Command{
		Use: use, Short: short, Args: oneArg("key id"),
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			k, err := st.SetDisabled(cmd.Context(), args[0], disable)
			if err != nil {
				return err
			}
			verb := "Enabled"
			if disable {
				verb = "Disabled"
			}
			printf(a.env.Stdout, "%s %s (%s, %s/%s).\n", verb, model.Quote(k.Name), k.ID, k.Channel, k.Environment)
			return nil
		}),
	}
}
