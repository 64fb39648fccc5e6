package cli

import (
	"io"
	"os/user"

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
	add.Flags().BoolVar(&byName, "confirm-by-name", false, "the TUI asks for a key's typed name before deleting or rotating it (default: on for prod only)")
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
				printf(a.env.Stdout, "Deleting or rotating a key of %s now asks for its name in the TUI.\n", e.Name)
			} else {
				printf(a.env.Stdout, "Deleting or rotating a key of %s now asks yes or no in the TUI.\n", e.Name)
			}
			return nil
		}),
	}
	set.Flags().BoolVar(&byName, "confirm-by-name", false, "the TUI asks for a key's typed name before deleting or rotating it")
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
				return table(w, "USER\tROLE\tADDED\tADDED BY", func(tw io.Writer) {
					for _, m := range ms {
						printf(tw, "%s\t%s\t%s\t%s\n", m.User, m.Role, format.Date(m.AddedAt), m.AddedBy)
					}
				})
			})
		}),
	}
	p.jsonFlag(list, "print a JSON array")
	var role string
	var r model.Role
	add := &cobra.Command{
		Use: "add USER --role admin|super-admin", Short: "Add a member, or change a member's role (super admins only)", Args: oneArg("OS user name"),
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if err := model.ValidateUser(args[0]); err != nil {
				return usagef("%v", err)
			}
			var err error
			if r, err = model.ParseRole(role); err != nil {
				return usagef("%v", err)
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			m, err := st.AddMember(cmd.Context(), args[0], r)
			if err != nil {
				return err
			}
			printf(a.env.Stdout, "%s is now a member as %s.\n", m.User, m.Role)
			// Accepted anyway: a store shared over NFS or etcd serves users
			// of other machines, but a typo should not pass unseen.
			if _, err := user.Lookup(m.User); err != nil {
				printf(a.env.Stderr, "keyden: note: there is no user %s on this machine; the membership counts wherever that user runs keyden, so remove it with `keyden member rm %s` if it is a typo.\n", m.User, m.User)
			}
			return nil
		}),
	}
	add.Flags().StringVar(&role, "role", "admin", "admin (creates keys, changes its own) or super-admin (changes any key, manages members)")
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
	return group("member", "Add, list and remove the store's members (admins and super admins)", add, list, rm)
}
