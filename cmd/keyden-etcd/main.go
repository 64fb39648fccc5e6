// keyden-etcd is the whole keyden with the etcd client linked in: keyden
// runs it in its place for an etcd:// or etcds:// store (see
// cli.EtcdHelper), and it can be run as keyden itself, on either backend.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"keyden/cli"
	"keyden/storage"
	"keyden/storage/etcdstore"
	"keyden/tui"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := cli.OSEnv()
	env.TUI = func(ctx context.Context, st storage.Store, app cli.AppInfo) error {
		return tui.Run(ctx, st, app.Location, app.Actor, app.Notice, app.Getenv)
	}
	env.OpenEtcd = func(cfg storage.EtcdConfig, opt storage.Options) (storage.Store, error) {
		return etcdstore.Open(cfg, opt)
	}
	code := cli.Run(ctx, os.Args[1:], env)
	stop()
	os.Exit(code)
}
