package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"keyden/format"
	"keyden/storage"
)

// DefaultWait is how long delete and disable wait for the running
// verifiers to confirm.
const DefaultWait = 5 * time.Second

// waitFlag gives a revoking command --wait; what is what a verifier
// confirms ("refuses the key").
func waitFlag(cmd *cobra.Command, wait *time.Duration, what string) {
	cmd.Flags().DurationVar(wait, "wait", DefaultWait, "wait up to this long for every running keyden serve to confirm it "+what+" (0: do not wait)")
}

// How a change landed on the verifiers begins: a revocation is refused
// there; a rotation both refuses (after its grace) and accepts.
const (
	refusedBy = "Refused by"
	inForceOn = "In force on"
)

// confirmRevocation waits up to wait until every live verifier has applied
// the store's changes so far (the caller's among them), then says on
// stderr how the revocation landed. With no verifier running it says
// nothing: there is nobody to wait for.
func (a *app) confirmRevocation(ctx context.Context, st store, wait time.Duration) error {
	return a.confirmLanding(ctx, st, wait, refusedBy)
}

// confirmLanding is confirmRevocation for a change whose sentence begins
// with done.
func (a *app) confirmLanding(ctx context.Context, st store, wait time.Duration, done string) error {
	if wait <= 0 {
		return nil
	}
	l, err := storage.AwaitVerifiers(ctx, st, wait, a.env.Now)
	if ctx.Err() != nil {
		// ctrl+c during the wait: the change is made, so neither "context
		// canceled" (exit 2) nor the store's "run the command again",
		// which would make a second key.
		return &refusal{msg: "stopped waiting for the running keyden serve processes: the change is made; `keyden verifiers` says which have applied it"}
	}
	if err != nil {
		// The change is made: the store's sentence alone (exit 1, "try
		// again") had a script make a second key.
		printf(a.env.Stderr, "keyden: the change is made, but whether every running keyden serve has applied it could not be read (%s): see keyden verifiers.\n", strings.TrimSuffix(err.Error(), "."))
		return nil
	}
	switch {
	case l.Live == 0:
	case len(l.Missing) == 0:
		printf(a.env.Stderr, "%s\n", l.Say(done))
	default:
		printf(a.env.Stderr, "keyden: %s\n", format.Sentence(l.Say(done)))
	}
	return nil
}

// confirmChanged is confirmLanding after a bulk change, when it changed any
// key: also when others were refused, whose exit status it keeps.
func (a *app) confirmChanged(ctx context.Context, st store, wait time.Duration, done string, out []storage.KeyOutcome, err error) error {
	if err != nil && !errors.As(err, new(*silentExit)) {
		return err
	}
	if slices.ContainsFunc(out, func(o storage.KeyOutcome) bool { return o.Err == nil }) {
		if cerr := a.confirmLanding(ctx, st, wait, done); cerr != nil {
			return cerr
		}
	}
	return err
}

// verifierView is keyden verifiers --json.
type verifierView struct {
	storage.Verifier
	Alive bool `json:"alive"`
	// Behind is how many changes it has yet to apply.
	Behind uint64 `json:"behind"`
	// LagSeconds is the time since its last heartbeat.
	LagSeconds float64 `json:"lag_seconds"`
}

func (a *app) verifiersCommand() *cobra.Command {
	p := a.printer()
	cmd := &cobra.Command{
		Use:   "verifiers",
		Short: "List the running keyden serve processes and how far behind each is",
		Long: `List every keyden serve that reports to this store: where it runs, the
change it has applied, how many it has yet to apply, and when it last said so.
A verifier silent for 10 s counts as gone; one that stopped cleanly is removed.`,
		Args: noArgs,
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			seq, _, err := st.FeedHead(cmd.Context())
			if err != nil {
				return err
			}
			vs, err := st.Verifiers(cmd.Context())
			if err != nil {
				return err
			}
			now := a.env.Now()
			out := make([]verifierView, 0, len(vs))
			for _, v := range vs {
				vv := verifierView{Verifier: v, Alive: v.Alive(now), LagSeconds: now.Sub(v.Beat).Seconds()}
				if v.Applied < seq {
					vv.Behind = seq - v.Applied
				}
				out = append(out, vv)
			}
			return p.print(out, func(w io.Writer) error {
				if len(out) == 0 {
					_, err := fmt.Fprintln(w, "No keyden serve reports to this store.")
					return err
				}
				return table(w, "HOST\tPID\tLISTEN\tSTARTED\tAPPLIED\tSTATE", func(tw io.Writer) {
					for _, v := range out {
						state := "current"
						switch {
						case !v.Alive:
							state = "gone: last heard " + format.Ago(v.Beat, now)
						case v.Behind > 0:
							state = fmt.Sprintf("%d %s behind", v.Behind, plural(int(v.Behind), "change", "changes"))
						}
						printf(tw, "%s\t%d\t%s\t%s\t%d\t%s\n", v.Host, v.PID, v.Listen, format.Ago(v.Started, now), v.Applied, state)
					}
				})
			})
		}),
	}
	p.jsonFlag(cmd, "print a JSON list: each verifier with alive, behind and lag_seconds")
	return cmd
}
