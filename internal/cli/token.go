package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/audit"
	"github.com/stratahq/strata/internal/auth"
	"github.com/stratahq/strata/internal/config"
)

type tokenFlags struct {
	name     string
	scopes   []string
	datasets []string
}

func newTokenCmd(env Env, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token create --name N --scopes read,ingest,replay,admin [--datasets a,b]",
		Short: "Make bearer tokens for the HTTP API",
		Long: `Tokens let clients use the HTTP API of strata serve (docs/HTTP.md, Access).
A token has a name (the audit trail records it), scopes and the datasets it
may touch. strata.yaml holds the SHA-256 of its secret under server.tokens,
never the secret: 'token create' prints a new secret once, and the lines to
add. Restart serve to apply a change; delete a token's lines to revoke it.

Scopes (each grants its own routes only):
  read    retrievals, the catalog, lineage, compare, the console, /metrics
  ingest  POST /v1/datasets/{dataset}/records
  replay  replay, and compare or replay with a candidate transform
  admin   legal holds, erasure, restore`,
		Args: noArgs("token takes a subcommand: create (see 'strata token --help')"),
	}
	cmd.AddCommand(newTokenCreateCmd(env, g))
	return cmd
}

func newTokenCreateCmd(env Env, g *globalFlags) *cobra.Command {
	var f tokenFlags
	cmd := &cobra.Command{
		Use:   "create --name N --scopes read,ingest,replay,admin [--datasets a,b]",
		Short: "Print a new random token secret once, and the server.tokens lines that accept it",
		Long: `Create prints a new random secret (256 bits, starting strata_) and the lines to
add under server.tokens in strata.yaml. Strata never stores the secret: copy it
now into the client's secret store. Nothing is written anywhere.

When a configuration is found (--config, $STRATA_CONFIG or ./strata.yaml),
the name must be new and every dataset configured. Without --datasets the
token may touch every dataset ("*").`,
		Example: `  strata token create --name reporting --scopes read --datasets orders,customers
  strata token create --name loader --scopes ingest --datasets orders
  strata token create --name prometheus --scopes read --datasets ''   # /metrics only
  curl -H "Authorization: Bearer $STRATA_TOKEN" http://127.0.0.1:8080/v1/catalog`,
		Args: noArgs("token create takes flags only (see 'strata token create --help')"),
		RunE: func(c *cobra.Command, _ []string) error {
			return runTokenCreate(c.Context(), env, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.name, "name", "", "who the token is for: 1 to 64 letters, digits, . _ @ - (required)")
	fl.StringSliceVar(&f.scopes, "scopes", nil, "what it may do: read, ingest, replay, admin, comma-separated (required)")
	fl.StringSliceVar(&f.datasets, "datasets", []string{config.AllDatasets}, `datasets it may touch, comma-separated; "*" for all, '' for none`)
	return cmd
}

// noArgs refuses arguments with exit 2 and msg.
func noArgs(msg string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usageErr("%s, got %q", msg, args[0])
		}
		return nil
	}
}

func runTokenCreate(ctx context.Context, env Env, g *globalFlags, f tokenFlags) error {
	f.datasets = slices.DeleteFunc(f.datasets, func(s string) bool { return s == "" })
	if err := checkTokenFlags(f); err != nil {
		return err
	}
	if err := checkTokenAgainstConfig(env, g, f); err != nil {
		return err
	}
	secret, sha := auth.NewSecret()
	printToken(env.Stdout, f, secret, sha)
	recordTokenCreate(ctx, env, g, f)
	return nil
}

// recordTokenCreate records the new token (its name, scopes and datasets,
// never its secret) in the audit trail when there is a configuration to
// find the database by; without one it says that nothing was recorded.
func recordTokenCreate(ctx context.Context, env Env, g *globalFlags, f tokenFlags) {
	if g.configPath == "" && env.Getenv("STRATA_CONFIG") == "" {
		if _, err := os.Stat("strata.yaml"); err != nil {
			fmt.Fprintln(env.Stderr, "strata: no configuration, so the token's creation is not in the audit trail (pass --config to record it)")
			return
		}
	}
	a, err := openApp(ctx, env, g)
	if err == nil {
		defer a.close()
		err = a.svc.AuditTrail().Record(ctx, strata.AuditEntry{Action: audit.ActionTokenCreate,
			Detail: fmt.Sprintf("token %s: scopes %s; datasets %s", f.name, strings.Join(f.scopes, ","), strings.Join(f.datasets, ","))})
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "strata: the token is printed above, but its creation could not be recorded in the audit trail: %v\n", err)
	}
}

// checkTokenFlags checks what needs no configuration.
func checkTokenFlags(f tokenFlags) error {
	if !config.ValidTokenName(f.name) {
		return usageErr("--name %q is not a token name (use 1 to 64 letters, digits, . _ @ -, starting with a letter or digit)", f.name)
	}
	if len(f.scopes) == 0 {
		return usageErr("--scopes is required: one or more of %s, comma-separated", strings.Join(config.TokenScopes(), ", "))
	}
	for _, s := range f.scopes {
		if !slices.Contains(config.TokenScopes(), s) {
			return usageErr("--scopes: %q is not a scope (use %s)", s, strings.Join(config.TokenScopes(), ", "))
		}
	}
	for _, ds := range f.datasets {
		if ds == config.AllDatasets && len(f.datasets) > 1 {
			return usageErr(`--datasets: "*" stands for every dataset: use it alone`)
		}
		if ds != config.AllDatasets && !config.ValidDatasetName(ds) {
			return usageErr("--datasets: %q is not a dataset name", ds)
		}
	}
	return nil
}

// checkTokenAgainstConfig checks the name and datasets against the
// configuration, when there is one.
func checkTokenAgainstConfig(env Env, g *globalFlags, f tokenFlags) error {
	if g.configPath == "" && env.Getenv("STRATA_CONFIG") == "" {
		if _, err := os.Stat("strata.yaml"); err != nil {
			return nil
		}
	}
	cfg, err := loadConfig(env, g)
	if err != nil {
		return err
	}
	for _, t := range cfg.Server.Tokens {
		if t.Name == f.name {
			return usageErr("--name %q: %s already has a token of that name (choose another, or delete its lines to replace it)", f.name, cfg.File)
		}
	}
	for _, ds := range f.datasets {
		if _, ok := cfg.Dataset(ds); !ok && ds != config.AllDatasets {
			return usageErr("--datasets: %q is not a dataset of %s", ds, cfg.File)
		}
	}
	return nil
}

// printToken prints the secret and the configuration lines.
func printToken(w io.Writer, f tokenFlags, secret, sha string) {
	quote := func(list []string) string {
		q := make([]string, len(list))
		for i, s := range list {
			q[i] = fmt.Sprintf("%q", s)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	fmt.Fprintf(w, "Secret of token %q (shown only now; strata keeps only its SHA-256):\n\n  %s\n\n", f.name, secret)
	fmt.Fprintf(w, "Add under server.tokens in strata.yaml, then restart strata serve:\n\n")
	fmt.Fprintf(w, "server:\n  tokens:\n    - name: %s\n      sha256: %s\n      scopes: %s\n      datasets: %s\n\n",
		f.name, sha, quote(f.scopes), quote(f.datasets))
	fmt.Fprintf(w, "Clients send: Authorization: Bearer %s\n", secret)
}
