package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"keyden/storage"
)

// EtcdHelper is the program that opens etcd:// and etcds:// stores: the
// whole keyden with the etcd client linked in. keyden itself is built
// without it, so a command on a file pays nothing for etcd; for a run that
// names an etcd location it runs EtcdHelper in its place, as git runs
// git-remote-https. `go install ./...` installs both.
const EtcdHelper = "keyden-etcd"

// handedOff marks a run that keyden handed to EtcdHelper, so a helper
// without the etcd client (a renamed keyden) fails instead of handing off
// again, forever.
const handedOff = "KEYDEN_HANDED_OFF"

// handOff runs EtcdHelper in place of this process, with the same
// arguments and environment, when this keyden has no etcd client and the
// command names an etcd location (--db, $KEYDEN_DB or a flag such as
// migrate's --to). It runs before any command reads its input.
func (a *app) handOff(cmd *cobra.Command) error {
	if a.env.OpenEtcd != nil || a.store != nil {
		return nil
	}
	etcd := !a.dbSet && storage.IsEtcdURL(DefaultDBPath(a.env.Getenv))
	cmd.Flags().Visit(func(f *pflag.Flag) {
		etcd = etcd || (locationFlags[f.Name] && storage.IsEtcdURL(f.Value.String()))
	})
	if !etcd || !usesStore(cmd) {
		return nil
	}
	path, err := a.etcdHelper()
	if err != nil {
		// scan reads no store it cannot open: the checksum decides, as
		// with etcd down, so a pre-commit hook keeps working.
		if cmd.Name() == "scan" && a.env.Getenv(handedOff) == "" {
			return nil
		}
		return err
	}
	if a.env.Exec == nil {
		return a.noEtcd()
	}
	if err := a.env.Exec(path); err != nil {
		return &refusal{msg: fmt.Sprintf("could not run %s (%v), which opens etcd stores: install it again with `go install ./...` in keyden's source folder", path, err)}
	}
	return nil
}

// usesStore says whether cmd may open the store: help, completion scripts
// and man pages never do, and work with $KEYDEN_DB on etcd and no
// keyden-etcd (a shell's startup file runs keyden completion).
func usesStore(cmd *cobra.Command) bool {
	for c := cmd; c.HasParent(); c = c.Parent() {
		if c.Parent().HasParent() {
			continue
		}
		switch c.Name() {
		case "help", "completion", "man":
			return false
		}
	}
	return true
}

// locationFlags name a store location: --db, and migrate's --from and --to.
var locationFlags = map[string]bool{"db": true, "from": true, "to": true}

// etcdHelper finds EtcdHelper next to this keyden's binary, else on PATH.
func (a *app) etcdHelper() (string, error) {
	if a.env.Getenv(handedOff) != "" {
		return "", &refusal{msg: fmt.Sprintf("this %s was built without the etcd client: install it again with `go install ./...` in keyden's source folder", EtcdHelper)}
	}
	if a.env.Executable != "" {
		p := filepath.Join(filepath.Dir(a.env.Executable), EtcdHelper)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	if p, err := exec.LookPath(EtcdHelper); err == nil {
		return p, nil
	}
	return "", a.noEtcd()
}

func (a *app) noEtcd() error {
	return &refusal{msg: fmt.Sprintf("etcd stores are opened by %s, which is neither next to keyden nor on PATH: install both with `go install ./...` in keyden's source folder", EtcdHelper)}
}

// execInPlace replaces this process with path, keeping its arguments and
// environment: no secret is ever put in the arguments.
func execInPlace(path string) error {
	return syscall.Exec(path, append([]string{path}, os.Args[1:]...), append(os.Environ(), handedOff+"=1"))
}
