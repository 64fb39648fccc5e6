// keyden creates, reviews, rotates and deletes API keys from a terminal.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"keyden/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	env := cli.OSEnv()
	code := cli.Run(ctx, os.Args[1:], env)
	stop()
	os.Exit(code)
}
