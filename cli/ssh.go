package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"keyden/format"
	"keyden/model"
	"keyden/sshd"
	"keyden/storage"
)

func (a *app) sshCommand() *cobra.Command {
	var listen, hostKey string
	var opt sshd.Options
	cmd := &cobra.Command{
		Use:   "ssh --listen ADDR [--host-key PATH]",
		Short: "Serve the terminal app and commands over SSH to members known by their SSH keys",
		Long: `Serve keyden over SSH: a member runs ssh -p 2222 HOST for the terminal app, or
ssh -p 2222 HOST list --json (also show, audit, create, rotate, disable,
enable, delete) for one command, under its role; the audit log names the
member and the fingerprint of its key. With ssh -t, delete asks on the
session's terminal as it does locally; without, it needs --yes. Members get
keys with keyden member add NAME --ssh-key "ssh-ed25519 AAAA…". Only public-key
authentication; no shell, forwarding, subsystem or file path.

The host key (ed25519) is made on first start next to the store, mode 0600,
unless --host-key names one; its fingerprint is printed so members can check
it. SIGINT or SIGTERM tells every session that the server is stopping, then
closes.`,
		Example: `  keyden ssh --listen :2222
  ssh -p 2222 keys.example.com list --json`,
		Args: noArgs,
		PreRunE: func(cmd *cobra.Command, args []string) error {
			if err := checkListen(listen); err != nil {
				return err
			}
			// A host key named is made if missing, but not its folder: a
			// mistyped path would silently give members a new host key.
			if dir := filepath.Dir(hostKey); hostKey != "" {
				if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
					return usagef("the folder %s for the host key %s does not exist: check --host-key, or make the folder first", dir, filepath.Base(hostKey))
				}
			}
			switch {
			case opt.MaxSessions < 1:
				return usagef("--max-sessions must be 1 or more")
			case opt.IdleTimeout < time.Second:
				return usagef("--idle-timeout %v is too short: give 1s or more, such as 15m", opt.IdleTimeout)
			case opt.LoginGrace < time.Second:
				return usagef("--login-grace %v is too short to sign in: give 1s or more, such as 30s", opt.LoginGrace)
			case opt.InputRate < 64:
				return usagef("--max-input-rate %d is too low to type in: give 64 bytes a second or more", opt.InputRate)
			}
			return nil
		},
		RunE: a.withStore(func(cmd *cobra.Command, args []string, st store) error {
			ctx := cmd.Context()
			if hostKey == "" {
				hostKey = a.defaultHostKey(st)
			}
			signer, made, err := sshd.HostKey(hostKey)
			if err != nil {
				return &refusal{msg: err.Error()}
			}
			ms, err := st.Members(ctx)
			if err != nil {
				return err
			}
			opt.Store, opt.HostKey, opt.Getenv = st, signer, a.env.Getenv
			opt.Log = safeLines{a.env.Stderr}
			opt.Exec = a.runRemote
			srv, err := sshd.New(ctx, opt)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return &refusal{msg: fmt.Sprintf("cannot listen on %s: %v; choose another --listen address", listen, errors.Unwrap(err))}
			}
			if made {
				printf(a.env.Stderr, "keyden ssh: made a new host key at %s.\n", hostKey)
			}
			printf(a.env.Stderr, "keyden ssh: serving %s on %s; host key %s (%s).\n", st.Location(), ln.Addr().String(), srv.Fingerprint(), hostKey)
			if !anySSHKey(ms) {
				printf(a.env.Stderr, "keyden ssh: no member has an SSH key yet, so nobody can sign in: add one with `keyden member add NAME --ssh-key \"$(cat key.pub)\"`.\n")
			}
			done := make(chan int, 1)
			go func() {
				<-ctx.Done()
				stop, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				done <- srv.Shutdown(stop)
			}()
			if err := srv.Serve(ln); err != nil && ctx.Err() == nil {
				return &refusal{msg: fmt.Sprintf("keyden ssh stopped: %v", err)}
			}
			n := <-done
			printf(a.env.Stderr, "keyden ssh: stopped; told %s.\n", format.Count(n, "session"))
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&listen, "listen", ":2222", "address to listen on")
	f.StringVar(&hostKey, "host-key", "", "the server's SSH host key, made if missing (default: ssh_host_ed25519_key next to the store)")
	f.IntVar(&opt.MaxSessions, "max-sessions", 50, "the most sessions open at once")
	f.DurationVar(&opt.IdleTimeout, "idle-timeout", 15*time.Minute, "close a session after this long without input")
	f.DurationVar(&opt.LoginGrace, "login-grace", 30*time.Second, "close a connection not signed in this long after it opened")
	f.IntVar(&opt.InputRate, "max-input-rate", 16<<10, "the most bytes a second a session may send (more is read that slowly)")
	return cmd
}

func anySSHKey(ms []model.Member) bool {
	for _, m := range ms {
		if len(m.SSHKeys) > 0 {
			return true
		}
	}
	return false
}

// defaultHostKey is next to the store file, or for etcd in the folder the
// default store file would have (never derived from an etcd KEYDEN_DB).
func (a *app) defaultHostKey(st store) string {
	dir := filepath.Dir(DefaultDBPath(func(k string) string {
		if k == "KEYDEN_DB" {
			return ""
		}
		return a.env.Getenv(k)
	}))
	if b, ok := st.(*storage.Bolt); ok {
		dir = filepath.Dir(b.Path())
	}
	return filepath.Join(dir, "ssh_host_ed25519_key")
}

// remoteVerbs are the commands a member may run over keyden ssh.
var remoteVerbs = map[string]bool{"list": true, "show": true, "audit": true, "create": true, "rotate": true,
	"disable": true, "enable": true, "delete": true, "help": true}

// runRemote runs one command line a member sent over keyden ssh, on st (which
// acts as the member), with the session's streams, and its terminal when the
// client asked for one (tty, else nil): only remoteVerbs, and neither --db
// nor anything read from the server's environment.
func (a *app) runRemote(ctx context.Context, st storage.Store, args []string, stdin io.Reader, stdout, stderr io.Writer, tty *term.Terminal) int {
	// The help's usage lines read "keyden list": typed as they are, the
	// word keyden comes first.
	if len(args) > 1 && args[0] == "keyden" {
		args = args[1:]
	}
	if len(args) == 0 || !remoteVerbs[args[0]] && !slices.Contains([]string{"--help", "-h", "--version", "-v"}, args[0]) {
		fmt.Fprintln(stderr, "keyden: keyden ssh runs only the app and list, show, audit, create, rotate, disable, enable and delete: see `help`.")
		return ExitUsage
	}
	r := &app{env: Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Now: a.env.Now,
		Getenv: func(string) string { return "" }, IsTerminal: func(any) bool { return tty != nil }}, store: st, remote: true}
	if tty != nil {
		r.env.ReadLine = func(prompt string) (string, error) {
			tty.SetPrompt(prompt)
			return tty.ReadLine()
		}
	}
	return r.run(ctx, args)
}
