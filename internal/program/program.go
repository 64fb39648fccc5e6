// Package program is what keyden's binaries run: the command line, with
// the terminal app built in, until a signal or the end of the command.
package program

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"keyden/cli"
	"keyden/storage"
	"keyden/tui"
)

// Main runs keyden and exits with its code. openEtcd opens etcd stores;
// nil in keyden itself, which hands them to keyden-etcd.
func Main(openEtcd func(storage.EtcdConfig, storage.Options) (storage.Store, error)) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := cli.OSEnv()
	env.TUI = func(ctx context.Context, st storage.Store, app cli.AppInfo) error {
		return tui.Run(ctx, st, app.Location, app.Actor, app.Notice, app.Getenv)
	}
	env.OpenEtcd = openEtcd
	code := cli.Run(ctx, os.Args[1:], env)
	stop()
	os.Exit(code)
}
