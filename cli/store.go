package cli

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"keyden/model"
	"keyden/storage"
)

// store is what the commands need of a key store, on a file or on etcd:
// the one interface storage has for every front end.
type store = storage.Store

// DefaultDBPath is $KEYDEN_DB, else $XDG_DATA_HOME/keyden/keyden.db, else
// ~/.local/share/keyden/keyden.db.
func DefaultDBPath(getenv func(string) string) string {
	if p := getenv("KEYDEN_DB"); p != "" {
		return p
	}
	if x := getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "keyden", "keyden.db")
	}
	home := getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".local", "share", "keyden", "keyden.db")
}

// Actor is the OS user running keyden, from the process's real user id.
// $USER is never consulted: anyone could set it to pass as someone else.
func Actor() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return fmt.Sprintf("uid-%d", os.Getuid())
}

// withStore is the RunE of every command that works on the store named by
// --db or the environment: the one place it is opened. What can be checked
// without it is checked before, in the command's PreRunE, so bad input
// never opens it (etcd is dialled on open).
func (a *app) withStore(run func(cmd *cobra.Command, args []string, st store) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		st, err := a.openStore(storage.Options{NoCreate: !createsStore[cmd.CommandPath()]})
		if err != nil {
			return err
		}
		return run(cmd, args, st)
	}
}

// createsStore are the commands that make a missing store file at an
// explicit path (init opens its own). The others only read or change what
// is there, so for them a missing file is a mistyped path, refused.
var createsStore = map[string]bool{
	"keyden": true, "keyden create": true, "keyden channel add": true, "keyden env add": true, "keyden member add": true,
}

// openStore prepares the store named by --db or the environment: a file,
// or etcd://host:2379[,…]/prefix.
func (a *app) openStore(opt storage.Options) (store, error) {
	if a.store != nil {
		return a.store, nil
	}
	path := a.dbPath
	if a.dbSet && path == "" {
		return nil, usagef("--db is empty: give a store path, or leave --db out for the default")
	}
	if path == "" {
		path = DefaultDBPath(a.env.Getenv)
		// Only the default location makes its folders: an explicit path
		// whose folder is missing is more likely mistyped than new.
		opt.MakeFolders = opt.MakeFolders || a.env.Getenv("KEYDEN_DB") == ""
		// The default location is made on first use, by any command.
		opt.NoCreate = opt.NoCreate && !opt.MakeFolders
	}
	st, err := a.openLocation(path, opt)
	if err != nil {
		return nil, err
	}
	a.store = st
	return st, nil
}

// openExisting opens the store --db, KEYDEN_DB or the default names, never
// making one, not even at the default location (as openStore does): for
// what only looks, such as a shell's tab key or keyden scan.
func (a *app) openExisting() (store, error) {
	if a.store != nil {
		return a.store, nil
	}
	path := a.dbPath
	if path == "" {
		path = DefaultDBPath(a.env.Getenv)
	}
	return a.openLocation(path, storage.Options{NoCreate: true})
}

// openLocation opens any store location with this run's actor, clock and timeout.
func (a *app) openLocation(path string, opt storage.Options) (store, error) {
	opt.Actor = Actor()
	opt.Now = a.env.Now
	if t := a.env.Getenv("KEYDEN_LOCK_TIMEOUT"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 {
			return nil, usagef("KEYDEN_LOCK_TIMEOUT=%s is not a duration: set it like 3s or 500ms", model.Quote(t))
		}
		opt.Timeout = d
	}
	if storage.IsEtcdURL(path) {
		cfg, err := storage.ParseEtcdURL(path, a.env.Getenv)
		if err != nil {
			return nil, err
		}
		if a.env.OpenEtcd == nil {
			return nil, a.noEtcd()
		}
		return a.env.OpenEtcd(cfg, opt)
	}
	return storage.OpenBolt(path, opt)
}
