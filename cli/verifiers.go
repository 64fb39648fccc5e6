package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"keyden/format"
	"keyden/storage"
)

// DefaultWait is how long delete and disable wait for the running
// verifiers to confirm.
const DefaultWait = 5 * time.Second

// waitFlag gives a revoking command --wait.
func waitFlag(cmd *cobra.Command, wait *time.Duration) {
	cmd.Flags().DurationVar(wait, "wait", DefaultWait, "wait up to this long for every running keyden serve to confirm it refuses the key (0: do not wait)")
}

// confirmRevocation waits up to wait until every live verifier has applied
// the store's changes so far (the caller's among them), then says on
// stderr how the revocation landed. With no verifier running it says
// nothing: there is nobody to wait for.
func (a *app) confirmRevocation(ctx context.Context, st store, wait time.Duration) error {
	if wait <= 0 {
		return nil
	}
	start := time.Now()
	seq, _, err := st.FeedHead(ctx)
	if err != nil {
		return err
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		vs, err := st.Verifiers(ctx)
		if err != nil {
			return err
		}
		now := a.env.Now()
		var live, missing []storage.Verifier
		for _, v := range vs {
			if !v.Alive(now) {
				continue
			}
			live = append(live, v)
			if v.Applied < seq {
				missing = append(missing, v)
			}
		}
		took := time.Since(start)
		if len(live) == 0 {
			return nil
		}
		if len(missing) == 0 {
			printf(a.env.Stderr, "Refused by %d/%d %s in %s.\n", len(live), len(live), plural(len(live), "verifier", "verifiers"), roundTook(took))
			return nil
		}
		if took >= wait {
			var names []string
			for _, v := range missing {
				names = append(names, fmt.Sprintf("%s (last heard %s ago, %d %s behind)", verifierName(v), roundTook(now.Sub(v.Beat)), seq-v.Applied, plural(int(seq-v.Applied), "change", "changes")))
			}
			printf(a.env.Stderr, "keyden: refused by %d/%d verifiers after %s; not confirmed by %s: check that it runs and can reach the store (keyden verifiers).\n",
				len(live)-len(missing), len(live), roundTook(took), strings.Join(names, ", "))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func roundTook(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(100 * time.Millisecond)
}

func verifierName(v storage.Verifier) string {
	return fmt.Sprintf("%s pid %d on %s", v.Host, v.PID, v.Listen)
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
