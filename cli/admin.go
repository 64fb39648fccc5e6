package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"keyden/format"
	"keyden/keygen"
	"keyden/model"
	"keyden/storage"
)

func (a *app) initCommand() *cobra.Command {
	var prefix, keyFormat, group string
	cmd := &cobra.Command{
		Use:   "init [--prefix kd] [--format default|compact]",
		Short: "Create a new key store with a chosen prefix and key length",
		Long: `Create a new key store. Any command creates one with the defaults on first use;
init is for choosing the key prefix ([a-z]{2,8}) or the compact 40-character
format for systems that cap key length. Both are fixed for the store's life.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := model.ValidatePrefix(prefix); err != nil {
				return usagef("%v", err)
			}
			f, err := keygen.ParseFormat(keyFormat)
			if err != nil {
				return usagef("%v", err)
			}
			opt := storage.Options{Prefix: prefix, Format: f, MakeFolders: true}
			if group != "" {
				g, err := user.LookupGroup(group)
				if err != nil {
					return usagef("there is no group %s: create it (groupadd %s) or give an existing one", model.Quote(group), group)
				}
				if opt.SharedGID, err = strconv.Atoi(g.Gid); err != nil {
					return usagef("the group %s has no numeric id", model.Quote(group))
				}
			}
			st, err := a.openStore(opt)
			if err != nil {
				return err
			}
			if err := st.Init(cmd.Context()); err != nil {
				return err
			}
			tag := longestTag()
			l := keygen.LayoutFor(f, prefix, tag)
			printf(a.env.Stdout, "Created the key store %s (keys like %s_%s_…, %d characters).\n", st.Location(), prefix, tag, l.Total)
			return nil
		},
	}
	cmd.Flags().StringVar(&prefix, "prefix", "kd", "key prefix, 2–8 lower-case letters")
	cmd.Flags().StringVar(&keyFormat, "format", "default", "default (64 characters) or compact (40)")
	cmd.Flags().StringVar(&group, "group", "", "share the store with this OS group: file 0660, a new folder 2770 (members still need roles)")
	return cmd
}

// longestTag is the longest tag of a new store's environments: the key
// length init and info show is that of its keys, the longest.
func longestTag() string {
	tag := ""
	for _, e := range model.DefaultEnvironments() {
		if len(e.Tag) > len(tag) {
			tag = e.Tag
		}
	}
	return tag
}

func (a *app) infoCommand() *cobra.Command {
	p := a.printer()
	cmd := &cobra.Command{
		Use: "info", Short: "Show where the key store is and how its keys look", Args: noArgs,
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			in, err := st.Info(cmd.Context())
			if err != nil {
				return err
			}
			out := infoOutput{Info: in, Binary: a.env.Executable, Build: Build()}
			return p.print(out, func(w io.Writer) error {
				return table(w, "", func(tw io.Writer) {
					printf(tw, "Store:\t%s\nSchema:\t%d\nPrefix:\t%s\nFormat:\t%s (%d characters)\nCreated:\t%s by %s\nKeys:\t%d\nBinary:\t%s\nVersion:\t%s\n",
						in.Location, in.Schema, in.Prefix, in.Format, keygen.LayoutFor(in.Format, in.Prefix, longestTag()).Total,
						format.Stamp(in.CreatedAt), in.CreatedBy, in.Keys, out.Binary, out.Build)
				})
			})
		}),
	}
	p.jsonFlag(cmd, "print one JSON object")
	return cmd
}

// infoOutput is `keyden info`: the store's facts and which binary read them.
type infoOutput struct {
	storage.Info
	Binary string    `json:"binary"`
	Build  BuildInfo `json:"build"`
}

func (a *app) auditCommand() *cobra.Command {
	var keyID, since string
	var limit int
	p := a.printer()
	var f storage.AuditFilter
	cmd := &cobra.Command{
		Use: "audit [--key ID] [--since 7d]", Short: "Show the audit log, newest first", Args: noArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			f = storage.AuditFilter{KeyID: keyID, Limit: limit}
			if limit < 0 {
				return usagef("--limit must be 0 (no limit) or more")
			}
			if since != "" {
				// A date too: "since the first of the month" is a date, not
				// a number of days an admin has to count.
				if t, err := time.Parse("2006-01-02", since); err == nil {
					f.Since = t
				} else if t, err := time.Parse(time.RFC3339, since); err == nil {
					f.Since = t
				} else if d, err := model.ParseDuration(since); err == nil {
					f.Since = a.env.Now().Add(-d)
				} else {
					return usagef("--since: %s is neither a duration nor a date: write one such as 7d, 24h or 2026-11-01", model.Quote(since))
				}
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			if p.json {
				return a.writeEventsJSON(cmd, st, f, keyID)
			}
			evs, err := st.Audit(cmd.Context(), f)
			if err != nil {
				return err
			}
			if keyID != "" && len(evs) == 0 {
				if err := knownKey(cmd.Context(), st, keyID); err != nil {
					return err
				}
			}
			return p.print(evs, func(w io.Writer) error {
				if len(evs) == 0 {
					// As list says it: a header alone read as a listing cut short.
					_, err := fmt.Fprintln(w, "No events match.")
					return err
				}
				return table(w, "TIME\tACTOR\tACTION\tKEY\tNAME\tCHANNEL\tENV\tDETAIL", func(tw io.Writer) {
					for _, e := range evs {
						actor := e.Actor
						if e.ActorKey != "" {
							actor += " (ssh " + e.ActorKey + ")"
						}
						detail := e.Detail
						if e.ClientIP != "" { // a decoy's use: who used it is the alert
							detail += "; from " + e.ClientIP
						}
						if e.UserAgent != "" {
							detail += "; User-Agent " + e.UserAgent
						}
						printf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", format.Stamp(e.Time), actor, e.Action,
							e.KeyID, e.KeyName, e.Channel, e.Environment, detail)
					}
				})
			})
		}),
	}
	cmd.Flags().StringVar(&keyID, "key", "", "only events of this key id")
	cmd.Flags().StringVar(&since, "since", "", "only events newer than this: a duration such as 7d, or a date such as 2026-11-01 (UTC)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many events (0: all)")
	p.jsonFlag(cmd, "print a JSON array")
	return cmd
}

func (a *app) backupCommand() *cobra.Command {
	return &cobra.Command{
		Use: "backup PATH", Short: "Write a consistent copy of the store while others keep using it", Args: oneArg("backup path"),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if args[0] == "" {
				return usagef("the backup path is empty: give the file to write, such as keyden backup keyden-backup.db")
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			if err := st.Backup(cmd.Context(), args[0]); err != nil {
				return err
			}
			// The store's own check ran on the copy; bbolt's page check
			// needs a process of its own, so it runs here. An etcd
			// store's backup is a new file written record by record.
			if _, ok := st.(*storage.Bolt); ok {
				if err := a.checkBackupPages(cmd.Context(), st.Location(), args[0]); err != nil {
					return err
				}
			}
			printf(a.env.Stdout, "Wrote a backup of %s to %s.\n", st.Location(), args[0])
			return nil
		}),
	}
}

// checkBackupPages runs bbolt's page check on a backup just written and
// removes it when the check finds damage (copied from the store) or was
// stopped, so no damaged or unchecked backup is left to restore from.
func (a *app) checkBackupPages(ctx context.Context, from, path string) error {
	cp, err := storage.OpenBolt(path, storage.Options{NoCreate: true})
	if err != nil {
		return err
	}
	found, err := a.pageCheck(ctx, cp)
	if err != nil || len(found) > 0 {
		os.Remove(cp.Path())
	}
	if err != nil {
		return &refusal{msg: "the backup was stopped before its check finished, so none was kept: run `keyden backup` again"}
	}
	if len(found) > 0 {
		return &refusal{msg: fmt.Sprintf("the key store %s is damaged (bbolt's page check of the copy found %s), so no backup was kept: run `keyden check` to see what is wrong", from, format.Count(len(found), "problem"))}
	}
	return nil
}

// knownKey refuses an id that no key has and the audit log never names, so
// a mistyped id is not mistaken for a key with no history.
func knownKey(ctx context.Context, st store, id string) error {
	if _, err := st.GetKey(ctx, id); !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	evs, err := st.Audit(ctx, storage.AuditFilter{KeyID: id, Limit: 1})
	if err != nil {
		return err
	}
	if len(evs) == 0 {
		return &refusal{msg: fmt.Sprintf("there is no key with id %s, now or in the audit log: see `keyden list` for ids", model.Quote(id))}
	}
	return nil
}

// writeEventsJSON writes the events f matches as one JSON array, as
// printer.print would, but each as it is read: an audit log grows without end.
func (a *app) writeEventsJSON(cmd *cobra.Command, st store, f storage.AuditFilter, keyID string) error {
	w := bufio.NewWriterSize(a.env.Stdout, 64<<10)
	var one bytes.Buffer
	enc := json.NewEncoder(&one)
	enc.SetEscapeHTML(false)
	enc.SetIndent("  ", "  ")
	n := 0
	err := st.EachEvent(cmd.Context(), f, func(ev *model.Event) error {
		one.Reset()
		if err := enc.Encode(ev); err != nil {
			return err
		}
		sep := ",\n  "
		if n == 0 {
			sep = "[\n  "
		}
		n++
		w.WriteString(sep)
		_, err := jsonSafe{w}.Write(bytes.TrimSuffix(one.Bytes(), []byte("\n")))
		return err
	})
	if err == nil && n == 0 && keyID != "" {
		err = knownKey(cmd.Context(), st, keyID)
	}
	if err != nil {
		w.Flush()
		return err
	}
	if n == 0 {
		w.WriteString("[]\n")
	} else {
		w.WriteString("\n]\n")
	}
	return w.Flush()
}
