// Command strata runs the data lifecycle of a PostgreSQL / TimescaleDB
// platform: it archives staging (source) and analytics rows to object storage
// as Parquet, retrieves them, verifies the archive and replays transforms.
// Run `strata --help` for the commands.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/stratahq/strata/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Env{
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Getenv: os.Getenv,
	})
	stop()
	os.Exit(code)
}
