// Package cli is Strata's command line: one file per verb, each building a
// cobra command that parses flags, loads the configuration and calls into the
// archive, retrieve and catalog packages. It maps errors to exit codes:
// 0 success, 1 failure, 2 bad usage or bad input, 3 differences or damage found.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/actor"
)

// Exit codes shared by every command.
const (
	ExitOK      = 0
	ExitFailure = 1
	ExitUsage   = 2
	ExitFound   = 3
)

// Env is what a command may touch of the outside world.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
}

// ExitError carries an exit code other than 1 up to Main.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Code)
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// usageErr marks err as bad usage or bad input (exit 2).
func usageErr(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, env Env) int {
	root := newRoot(env)
	root.SetArgs(args)
	// The audit trail records commands as the operating-system user's
	// (and the database role's, which it reads from the session).
	ctx = actor.With(ctx, actor.Actor{Name: actor.OSUser(), Via: actor.ViaCLI})
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(env.Stderr, "strata: %v\n", ee.Err)
		}
		return ee.Code
	}
	fmt.Fprintf(env.Stderr, "strata: %v\n", err)
	if isFlagError(err) || errors.Is(err, strata.ErrInvalid) || errors.Is(err, strata.ErrNotFound) ||
		errors.Is(err, strata.ErrHeld) || errors.Is(err, strata.ErrConflict) {
		return ExitUsage
	}
	return ExitFailure
}

// globalFlags are accepted by every command.
type globalFlags struct {
	configPath string
	logLevel   string
}

func newRoot(env Env) *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "strata",
		Short: "Archive PostgreSQL staging and analytics data to Parquet in object storage, and get it back",
		Long: `Strata runs the data lifecycle of a PostgreSQL / TimescaleDB platform.

Raw records land in Layer 3 staging tables and are archived at once (source
archive); transformed rows in Layer 2 tables move to the archive when they
age out (analytics archive). Archives are Parquet objects on local disk,
Azure Blob / ADLS Gen2 or S3, listed in a catalog kept in the same database,
immutable and checksummed.

Start with 'strata demo', which runs the whole flow on a throwaway local
PostgreSQL. Configuration is strata.yaml (see strata.example.yaml); every key
can be overridden by an environment variable such as STRATA_DATABASE_URL.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.PersistentFlags().StringVarP(&g.configPath, "config", "c", "", "configuration file (default: $STRATA_CONFIG, else ./strata.yaml)")
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "", "log level: debug, info, warn, error (default info)")
	for _, add := range commands {
		root.AddCommand(add(env, g))
	}
	return root
}

// commands lists the verbs; each file adds its constructor in init-free
// fashion by appending here.
var commands = []func(Env, *globalFlags) *cobra.Command{
	newDemoCmd,
	newArchiveCmd,
	newVerifyCmd,
	newCatalogCmd,
	newRetrieveCmd,
	newIngestCmd,
	newPurgeCmd,
	newServeCmd,
	newRestoreCmd,
	newLineageCmd,
	newCompareCmd, newReplayCmd,
	newHoldCmd,
	newTokenCmd,
	newEraseCmd,
	newAuditCmd,
	newTablesCmd,
}

func isFlagError(err error) bool {
	var ee *ExitError
	return errors.As(err, &ee) && ee.Code == ExitUsage
}
