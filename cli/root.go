// Package cli is keyden's command line: one cobra command per subcommand,
// each a thin layer over storage.Store, in one file per group of verbs. The
// app is their shared factory (after cli/cli's cmdutil.Factory): the run's
// streams and environment, the store opened once (store.go) and the one
// printer (output.go). Run is the whole program, so tests drive it
// in-process with their own streams and environment.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"keyden/format"
	"keyden/model"
	"keyden/storage"
)

// Env is what a run of keyden gets from its process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// LookupEnv tells a variable set empty from one not set (nil: none is
	// set empty).
	LookupEnv func(string) (string, bool)
	// IsTerminal says whether a stream is an interactive terminal.
	IsTerminal func(any) bool
	// ReadLine, when set, asks on a terminal that echoes and edits the
	// line (keyden ssh's); io.EOF is a cancel. Nil reads a line of Stdin.
	ReadLine func(prompt string) (string, error)
	// Now is the clock (time.Now if nil).
	Now func() time.Time
	// Executable is keyden's own binary, for work run in a process of its
	// own ("" runs it in this one).
	Executable string
	// TUI runs the terminal app on a store; nil means none is built in.
	TUI func(ctx context.Context, st storage.Store, app AppInfo) error
	// OpenEtcd opens an etcd location: set in keyden-etcd, nil in keyden,
	// which hands such runs to keyden-etcd (see EtcdHelper).
	OpenEtcd func(cfg storage.EtcdConfig, opt storage.Options) (storage.Store, error)
	// Exec runs a program in place of this process, with its arguments and
	// environment; nil where there is no process of keyden's own (tests).
	Exec func(path string) error
}

// AppInfo is what the TUI needs to know of its run.
type AppInfo struct {
	Location string
	Actor    string
	Getenv   func(string) string
	// Notice is for the status line: that this run made the store.
	Notice string
}

// OSEnv is the real process's Env.
func OSEnv() Env {
	exe, _ := os.Executable()
	return Env{
		Executable: exe,
		Exec:       execInPlace,
		Stdin:      os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv, LookupEnv: os.LookupEnv,
		IsTerminal: func(f any) bool {
			fd, ok := f.(interface{ Fd() uintptr })
			return ok && term.IsTerminal(int(fd.Fd()))
		},
	}
}

// Exit codes.
const (
	ExitOK      = 0
	ExitRefused = 1
	ExitUsage   = 2
)

// usageError is bad input that no store was consulted for: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// refusal is an operation the store or a check refused: exit 1.
type refusal struct{ msg string }

func (e *refusal) Error() string { return e.msg }

// silentExit ends with a code after the command has already said why.
type silentExit struct{ code int }

func (e *silentExit) Error() string { return fmt.Sprintf("exit %d", e.code) }

// app carries what every command needs.
type app struct {
	env    Env
	dbPath string
	// dbSet says --db was given, even empty.
	dbSet bool
	store store
	// remote: a command a member sent over keyden ssh (see remoteVerbs).
	remote bool
}

// Run runs keyden with args (without the program name) and returns its exit code.
func Run(ctx context.Context, args []string, env Env) int {
	if env.Now == nil {
		env.Now = time.Now
	}
	if env.IsTerminal == nil {
		env.IsTerminal = func(any) bool { return false }
	}
	return (&app{env: env}).run(ctx, args)
}

// run is Run on an app whose store a test may have set.
func (a *app) run(ctx context.Context, args []string) int {
	env := a.env
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.PersistentPreRunE = func(cmd *cobra.Command, args []string) error {
		a.dbSet = cmd.Flags().Changed("db")
		if a.remote && a.dbSet {
			return usagef("--db is not taken over keyden ssh: the server's key store is the one you reach")
		}
		if err := noEmptyFlags(cmd); err != nil {
			return err
		}
		// As --db "" is: a script's KEYDEN_DB=$STORE with STORE unset must
		// not act on the default store.
		if a.env.LookupEnv != nil && !a.dbSet {
			if v, set := a.env.LookupEnv("KEYDEN_DB"); set && v == "" {
				return usagef("KEYDEN_DB is set but empty: set it to a key store, or unset it for the default store")
			}
		}
		return a.handOff(cmd)
	}
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var se *silentExit
	if errors.As(err, &se) {
		return se.code
	}
	fmt.Fprintln(env.Stderr, "keyden: "+format.Safe(format.Sentence(err.Error())))
	var ue *usageError
	var rf *refusal
	switch {
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &rf):
		return ExitRefused
	case errors.Is(err, storage.ErrInvalid):
		return ExitUsage
	case isStoreError(err):
		return ExitRefused
	}
	// What is left is cobra's own complaint about the command line.
	return ExitUsage
}

func isStoreError(err error) bool {
	for _, k := range []error{storage.ErrBusy, storage.ErrNotFound, storage.ErrExists, storage.ErrInUse,
		storage.ErrNotStore, storage.ErrNewerSchema, storage.ErrUnavailable, storage.ErrDamaged, storage.ErrForbidden, storage.ErrUnwritable, storage.ErrConflict} {
		if errors.Is(err, k) {
			return true
		}
	}
	return false
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "keyden",
		Short: "Create, review, rotate and delete API keys from a terminal",
		Long: `keyden keeps API keys for channels (apps, partners) in environments (dev,
staging, prod), in a local file or in etcd (--db). With no command it opens the
terminal app. A key's secret is shown once; only its SHA-256 is stored.`,
		Version:       Build().String(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if a.env.TUI == nil {
				return usagef("this keyden has no terminal app built in: use a command, see `keyden --help`")
			}
			if !a.env.IsTerminal(a.env.Stdin) || !a.env.IsTerminal(a.env.Stdout) {
				return usagef("the terminal app needs a terminal: run keyden in one, or use a command (see `keyden --help`)")
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			// A store that cannot be read is a sentence here, before the
			// terminal is taken over.
			b, isFile := st.(*storage.Bolt)
			existed := isFile && b.Exists()
			if _, err := st.Info(cmd.Context()); err != nil {
				return err
			}
			info := AppInfo{Location: st.Location(), Actor: st.Actor(), Getenv: a.env.Getenv}
			if isFile && !existed {
				info.Notice = "Made a new key store at " + b.Path() + "."
			}
			return a.env.TUI(cmd.Context(), st, info)
		}),
	}
	root.PersistentFlags().StringVar(&a.dbPath, "db", "", "key store: a file, or etcd://host:2379[,host:2379]/prefix (default $KEYDEN_DB, else ~/.local/share/keyden/keyden.db)")
	root.SetVersionTemplate("keyden {{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return usagef("%v: see `%s --help`", err, cmd.CommandPath())
	})
	root.AddCommand(a.initCommand(), a.infoCommand(), a.createCommand(), a.listCommand(), a.showCommand(),
		a.deleteCommand(), a.rotateCommand(), a.disableCommand(true), a.disableCommand(false), a.moveCommand(), a.verifyCommand(), a.channelCommand(), a.envCommand(), a.memberCommand(),
		a.auditCommand(), a.backupCommand(), a.serveCommand(), a.sshCommand(), a.migrateCommand(), a.checkCommand(), a.checkPagesCommand(), a.manCommand(), a.scanCommand(), a.verifiersCommand())
	root.CompletionOptions.HiddenDefaultCmd = false
	a.wireCompletions(root)
	if a.remote {
		root.CompletionOptions.DisableDefaultCmd = true
		_ = root.PersistentFlags().MarkHidden("db")
		root.Long = `keyden over SSH: connect with a terminal (ssh -t) for the app, or give one
of the commands below; each runs under your role as a member of the key
store, and the audit log names you and your SSH key. Quote words with spaces
for the remote side: create --name "'web checkout'" --env prod.`
		for _, c := range root.Commands() {
			if !remoteVerbs[c.Name()] {
				root.RemoveCommand(c)
			}
		}
		root.Args = func(cmd *cobra.Command, args []string) error {
			return usagef("keyden ssh runs only the app and list, show, audit, create, rotate, disable, enable and delete: see `help`")
		}
	}
	return root
}

// noArgs refuses positional arguments as a usage error naming the command's help.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		if cmd.HasSubCommands() {
			return usagef("unknown command %s: see `%s --help`", model.Quote(args[0]), cmd.CommandPath())
		}
		return usagef("%s takes no arguments: see `%s --help`", cmd.CommandPath(), cmd.CommandPath())
	}
	return nil
}

// oneArg wants exactly one positional argument, named what.
func oneArg(what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != 1 {
			return usagef("%s needs exactly one %s: see `%s --help`", cmd.CommandPath(), what, cmd.CommandPath())
		}
		return nil
	}
}
