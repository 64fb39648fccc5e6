package cli

import (
	"context"
	"errors"
	"strings"

	"github.com/spf13/cobra"

	"keyden/format"
	"keyden/model"
	"keyden/storage"
)

// Shell completion (`keyden completion bash|zsh|fish`) completes what the
// store names: key ids, environments, channels and members. It reads the
// store without making one, and offers ids and names only, never a
// secret or a hash. Completions are wired here, by command path and flag
// name, so the verbs' own files stay about what the verbs do.

// completer lists the candidates for one kind of argument that start with
// prefix (it may list others too: they are filtered again).
type completer func(ctx context.Context, st store, prefix string) ([]string, error)

// maxCompletions keeps a shell responsive on a store of a million keys.
const maxCompletions = 2000

// errEnough stops a read of the keys once maxCompletions are found.
var errEnough = errors.New("enough completions")

// keyIDs reads the keys one at a time and stops at maxCompletions: a tab
// press on a store of 300,000 keys read them all at once (about 1 s and
// 180 MB each time).
func keyIDs(ctx context.Context, st store, prefix string) ([]string, error) {
	var out []string
	err := st.EachKey(ctx, storage.Filter{}, nil, func(k *model.Key) error {
		if strings.HasPrefix(k.ID, prefix) {
			out = append(out, k.ID+"\t"+k.Name)
			if len(out) == maxCompletions {
				return errEnough
			}
		}
		return nil
	})
	if errors.Is(err, errEnough) {
		err = nil
	}
	return out, err
}

func envNames(ctx context.Context, st store, _ string) ([]string, error) {
	envs, err := st.Environments(ctx)
	var out []string
	for _, e := range envs {
		out = append(out, e.Name)
	}
	return out, err
}

func channelNames(ctx context.Context, st store, _ string) ([]string, error) {
	chs, err := st.Channels(ctx)
	var out []string
	for _, c := range chs {
		out = append(out, c.Name)
	}
	return out, err
}

func memberNames(ctx context.Context, st store, _ string) ([]string, error) {
	ms, err := st.Members(ctx)
	var out []string
	for _, m := range ms {
		out = append(out, m.User)
	}
	return out, err
}

// argCompleters name what each command's positional argument is.
var argCompleters = map[string]completer{
	"keyden show": keyIDs, "keyden delete": keyIDs, "keyden rotate": keyIDs,
	"keyden disable": keyIDs, "keyden enable": keyIDs, "keyden move": keyIDs,
	"keyden env rm": envNames, "keyden env set": envNames,
	"keyden channel rm": channelNames,
	"keyden member rm":  memberNames, "keyden member rm-key": memberNames,
}

// takesPath are the commands whose argument is a file: the shell's own
// file completion serves them.
var takesPath = map[string]bool{"keyden backup": true}

// flagCompleters name what a flag's value is, on every command that has it.
var flagCompleters = map[string]completer{
	"env": envNames, "channel": channelNames, "key": keyIDs, "by": memberNames,
}

// wireCompletions registers the completers on root's command tree.
func (a *app) wireCompletions(root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if f, ok := argCompleters[c.CommandPath()]; ok {
			c.ValidArgsFunction = a.complete(f)
		} else if c.ValidArgsFunction == nil && c.Args != nil && !takesPath[c.CommandPath()] {
			c.ValidArgsFunction = noCompletions
		}
		for name, f := range flagCompleters {
			if c.Flags().Lookup(name) != nil {
				_ = c.RegisterFlagCompletionFunc(name, a.complete(f))
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func noCompletions(*cobra.Command, []string, string) ([]cobra.Completion, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveNoFileComp
}

// complete runs f on the store named by --db, offering what starts with
// the word typed so far. A store that cannot be read offers nothing: a
// shell's tab key is no place for an error sentence.
func (a *app) complete(f completer) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if cmd.Flags().Changed("db") && a.dbPath == "" {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		st, err := a.openExisting()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		all, err := f(cmd.Context(), st, toComplete)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, c := range all {
			if !strings.HasPrefix(c, toComplete) {
				continue
			}
			// A tampered store must not write into the user's shell.
			word, desc, _ := strings.Cut(c, "\t")
			c = format.Safe(word)
			if desc != "" {
				c += "\t" + format.Safe(desc)
			}
			out = append(out, c)
			if len(out) == maxCompletions {
				break
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
