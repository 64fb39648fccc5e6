package cli

import (
	"io"
	"os"
	"os/user"
	"strings"

	"github.com/spf13/cobra"

	"keyden/format"
	"keyden/model"
)

// group is a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return usagef("%s needs a command: see `%s --help`", cmd.CommandPath(), cmd.CommandPath())
		}}
	cmd.AddCommand(subs...)
	return cmd
}

func (a *app) channelCommand() *cobra.Command {
	var desc string
	add := &cobra.Command{
		Use: "add NAME", Short: "Add a channel (an app, a partner, a client)", Args: oneArg("channel name"),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if err := model.ValidateChannelName(args[0]); err != nil {
				return usagef("%v", err)
			}
			if _, err := model.ValidateDescription(desc); err != nil {
				return usagef("%v", err)
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			c, err := st.AddChannel(cmd.Context(), model.Channel{Name: args[0], Description: desc})
			if err != nil {
				return err
			}
			printf(a.env.Stdout, "Added channel %s.\n", c.Name)
			return nil
		}),
	}
	add.Flags().StringVar(&desc, "description", "", "what the channel is")
	p := a.printer()
	list := &cobra.Command{
		Use: "list", Short: "List channels", Args: noArgs,
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			chs, err := st.Channels(cmd.Context())
			if err != nil {
				return err
			}
			return p.print(chs, func(w io.Writer) error {
				return table(w, "CHANNEL\tCREATED\tCREATED BY\tDESCRIPTION", func(tw io.Writer) {
					for _, c := range chs {
						printf(tw, "%s\t%s\t%s\t%s\n", c.Name, format.Date(c.CreatedAt), c.CreatedBy, c.Description)
					}
				})
			})
		}),
	}
	p.jsonFlag(list, "print a JSON array")
	rm := &cobra.Command{
		Use: "rm NAME", Aliases: []string{"remove"}, Short: "Remove a channel no key uses", Args: oneArg("channel name"),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if err := model.ValidateChannelName(args[0]); err != nil {
				return usagef("%v", err)
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			if err := st.RemoveChannel(cmd.Context(), args[0]); err != nil {
				return err
			}
			printf(a.env.Stdout, "Removed channel %s.\n", args[0])
			return nil
		}),
	}
	return group("channel", "Add, list and remove channels", add, list, rm)
}

func (a *app) envCommand() *cobra.Command {
	var tag string
	var byName bool
	add := &cobra.Command{
		Use: "add NAME [--tag T]", Short: "Add an environment; its tag goes into every key made in it", Args: oneArg("environment name"),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if err := model.ValidateEnvName(args[0]); err != nil {
				return usagef("%v", err)
			}
			if tag != "" {
				if err := model.ValidateTag(tag); err != nil {
					return usagef("%v", err)
				}
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			// The prefix is read first: a store that cannot say it is
			// refused before it is changed, and the sentence never guesses.
			in, err := st.Info(cmd.Context())
			if err != nil {
				return err
			}
			if !cmd.Flags().Changed("confirm-by-name") {
				byName = model.ConfirmByNameFor(args[0])
			}
			e, err := st.AddEnvironment(cmd.Context(), model.Environment{Name: args[0], Tag: tag, ConfirmByName: byName})
			if err != nil {
				return err
			}
			printf(a.env.Stdout, "Added environment %s (keys look like %s_%s_…).\n", e.Name, in.Prefix, e.Tag)
			return nil
		}),
	}
	add.Flags().StringVar(&tag, "tag", "", "short tag used in keys, [a-z0-9]{1,8} (default: the name)")
	add.Flags().BoolVar(&byName, "confirm-by-name", false, "deleting a key (in the TUI, or keyden delete on a terminal) or rotating it in the TUI asks for its typed name (default: on for prod only)")
	set := &cobra.Command{
		Use: "set NAME --confirm-by-name=true|false", Short: "Change an environment's settings", Args: oneArg("environment name"),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if err := model.ValidateEnvName(args[0]); err != nil {
				return usagef("%v", err)
			}
			if !cmd.Flags().Changed("confirm-by-name") {
				return usagef("nothing to set: pass --confirm-by-name=true or --confirm-by-name=false")
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			e, err := st.SetConfirmByName(cmd.Context(), args[0], byName)
			if err != nil {
				return err
			}
			if e.ConfirmByName {
				printf(a.env.Stdout, "Deleting a key of %s (in the TUI, or keyden delete on a terminal) or rotating it in the TUI now asks for its name.\n", e.Name)
			} else {
				printf(a.env.Stdout, "Deleting a key of %s (in the TUI, or keyden delete on a terminal) or rotating it in the TUI now asks yes or no.\n", e.Name)
			}
			return nil
		}),
	}
	set.Flags().BoolVar(&byName, "confirm-by-name", false, "deleting a key (in the TUI, or keyden delete on a terminal) or rotating it in the TUI asks for its typed name")
	p := a.printer()
	list := &cobra.Command{
		Use: "list", Short: "List environments", Args: noArgs,
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			envs, err := st.Environments(cmd.Context())
			if err != nil {
				return err
			}
			return p.print(envs, func(w io.Writer) error {
				return table(w, "ENVIRONMENT\tTAG\tCONFIRM", func(tw io.Writer) {
					for _, e := range envs {
						confirm := "yes/no"
						if e.ConfirmByName {
							confirm = "by name"
						}
						printf(tw, "%s\t%s\t%s\n", e.Name, e.Tag, confirm)
					}
				})
			})
		}),
	}
	p.jsonFlag(list, "print a JSON array")
	rm := &cobra.Command{
		Use: "rm NAME", Aliases: []string{"remove"}, Short: "Remove an environment no key uses", Args: oneArg("environment name"),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if err := model.ValidateEnvName(args[0]); err != nil {
				return usagef("%v", err)
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			if err := st.RemoveEnvironment(cmd.Context(), args[0]); err != nil {
				return err
			}
			printf(a.env.Stdout, "Removed environment %s.\n", args[0])
			return nil
		}),
	}
	return group("env", "Add, list, change and remove environments", add, list, set, rm)
}

func (a *app) memberCommand() *cobra.Command {
	p := a.printer()
	list := &cobra.Command{
		Use: "list", Short: "List the store's members and their roles", Args: noArgs,
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			ms, err := st.Members(cmd.Context())
			if err != nil {
				return err
			}
			return p.print(ms, func(w io.Writer) error {
				return table(w, "USER\tROLE\tADDED\tADDED BY\tSSH KEYS", func(tw io.Writer) {
					for _, m := range ms {
						var fps []string
						for _, k := range m.SSHKeys {
							fps = append(fps, k.Fingerprint+" "+k.Comment)
						}
						printf(tw, "%s\t%s\t%s\t%s\t%s\n", m.User, m.Role, format.Date(m.AddedAt), m.AddedBy, strings.Join(fps, ", "))
					}
				})
			})
		}),
	}
	p.jsonFlag(list, "print a JSON array")
	var role, keysFrom string
	var sshKeys []string
	var r model.Role
	var keys []model.SSHKey
	add := &cobra.Command{
		Use: "add USER --role admin|super-admin [--ssh-key LINE]... [--ssh-keys-from FILE]", Short: "Add a member, change a member's role, or give it SSH keys (super admins only)", Args: oneArg("OS user name"),
		Long: `Add a member, or change a member's role. --ssh-key (repeatable) and
--ssh-keys-from (a file of authorized_keys lines) give the member SSH public
keys, by which keyden ssh knows it; a member that already has the role is
given the keys alone.`,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if err := model.ValidateUser(args[0]); err != nil {
				return usagef("%v", err)
			}
			var err error
			if r, err = model.ParseRole(role); err != nil {
				return usagef("%v", err)
			}
			keys = nil
			for _, line := range sshKeys {
				k, err := model.ParseSSHKey(line)
				if err != nil {
					return usagef("--ssh-key: %v", err)
				}
				keys = append(keys, k)
			}
			if keysFrom != "" {
				f, err := os.Open(keysFrom)
				if err != nil {
					return usagef("--ssh-keys-from: %s cannot be read: give a file of authorized_keys lines", model.Quote(keysFrom))
				}
				defer f.Close()
				more, err := model.ParseSSHKeyFile(f, keysFrom)
				if err != nil {
					return usagef("--ssh-keys-from: %v", err)
				}
				keys = append(keys, more...)
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			m, err := st.AddMember(cmd.Context(), args[0], r, keys...)
			if err != nil {
				return err
			}
			printf(a.env.Stdout, "%s is now a member as %s.\n", m.User, m.Role)
			for _, k := range keys {
				printf(a.env.Stdout, "%s signs in to keyden ssh with %s.\n", m.User, k.Fingerprint)
			}
			// Accepted anyway: a store shared over NFS or etcd serves users
			// of other machines, but a typo should not pass unseen. A
			// member with SSH keys needs no account: keyden ssh knows it.
			if _, err := user.Lookup(m.User); err != nil && len(m.SSHKeys) == 0 {
				printf(a.env.Stderr, "keyden: note: there is no user %s on this machine; the membership counts wherever that user runs keyden, so remove it with `keyden member rm %s` if it is a typo.\n", m.User, m.User)
			}
			return nil
		}),
	}
	add.Flags().StringVar(&role, "role", "admin", "admin (creates keys, changes its own) or super-admin (changes any key, manages members)")
	add.Flags().StringArrayVar(&sshKeys, "ssh-key", nil, "an SSH public key line the member signs in to keyden ssh with (repeatable)")
	add.Flags().StringVar(&keysFrom, "ssh-keys-from", "", "a file of authorized_keys lines, each a key of the member")
	rmKey := &cobra.Command{
		Use: "rm-key USER FINGERPRINT", Short: "Take an SSH key from a member (super admins only)",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usagef("%s needs a member name and a key fingerprint (SHA256:…, see `keyden member list`)", cmd.CommandPath())
			}
			return nil
		},
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if err := model.ValidateUser(args[0]); err != nil {
				return usagef("%v", err)
			}
			if k, err := model.ParseSSHKey(args[1]); err == nil {
				args[1] = k.Fingerprint // a whole key line names its key too
			} else if !strings.HasPrefix(args[1], "SHA256:") {
				return usagef("%s is not a key fingerprint: give it as `keyden member list` shows it, SHA256:…", model.Quote(args[1]))
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			if err := st.RemoveSSHKey(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			printf(a.env.Stdout, "Took the SSH key %s from %s.\n", args[1], args[0])
			return nil
		}),
	}
	rm := &cobra.Command{
		Use: "rm USER", Aliases: []string{"remove"}, Short: "Remove a member (super admins only; never the last super admin)", Args: oneArg("member name"),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if err := model.ValidateUser(args[0]); err != nil {
				return usagef("%v", err)
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			if err := st.RemoveMember(cmd.Context(), args[0]); err != nil {
				return err
			}
			printf(a.env.Stdout, "Removed member %s.\n", args[0])
			return nil
		}),
	}
	return group("member", "Add, list and remove the store's members (admins and super admins) and their SSH keys", add, list, rm, rmKey)
}
