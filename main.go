// keyden creates, reviews, rotates and deletes API keys from a terminal.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"keyden/cli"
	"keyden/storage"
	"keyden/tui"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := cli.OSEnv()
	env.TUI = func(ctx context.Context, st storage.Store, app cli.AppInfo) error {
		return tui.Run(ctx, st, app.Location, app.Actor, app.Notice, app.Getenv)
	}
	code := cli.Run(ctx, os.Args[1:], env)
	stop()
	os.Exit(code)
}
