package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/actor"
)

const eraseLong = `Erase removes one data subject's records from every place Strata keeps
them (GDPR Art. 17, the right to erasure): the raw records in Layer 3, the
rows in Layer 2, and the source and analytics archives. The dataset's
subject: configuration says where the subject is (analytics column(s), and a
JSON path or SQL expression over the raw record); --subject is the value
that identifies the person there, e.g. a customer id.

In one database transaction, erase deletes the subject's rows from Layer 3
and Layer 2 and, for every archived object that holds some, writes a new
object identical but for those rows (same columns, row order, metadata,
checksums recorded in the catalog), which replaces the old one in every read
at once. Analytics objects that cannot hold the subject are skipped by their
catalog key range, row-group statistics and bloom filters; source objects,
whose subject is inside the raw JSON, are each read. The old objects are
deleted from storage as soon as their retention allows: at once where the
storage has none, at the end of the retention on write-once storage
('strata erase list' shows what is pending; 'strata purge' deletes it when
due). A crash at any point leaves everything as it was or everything done:
run the same command again.

The erasure is recorded in the catalog's ledger with the subject only as a
keyed hash (HMAC-SHA-256 with the key in erasure.key_file, kept outside the
database), so that replays and restores never bring the subject back, while
records of the same subject ingested later are stored normally. The command
prints the erasure's certificate (JSON): what was found and removed in each
place, the objects replaced with their old and new SHA-256, and the deletions
pending until when. 'strata erase show ID' prints it again.

An erasure is refused (exit 2, and recorded) when a legal hold covers the
subject's records or the dataset has a retention_basis (a statute that
obliges keeping them); the message says which. --dry-run finds everything
and prints what would change, changing and recording nothing.

Exit status: 0 erased (or nothing found), 1 failure (nothing changed; run it
again), 2 bad input or refused.`

type eraseFlags struct {
	dataset, subject, reason string
	dryRun                   bool
}

func newEraseCmd(env Env, g *globalFlags) *cobra.Command {
	var f eraseFlags
	cmd := &cobra.Command{
		Use:   "erase --dataset N --subject V --reason R [--dry-run] | list | show ID",
		Short: "Erase a data subject's records from Layer 3, Layer 2 and both archives, with a certificate",
		Long:  eraseLong,
		Example: `  # what would be erased for customer 1042 of orders
  strata erase --dataset orders --subject 1042 --reason "GDPR request #311" --dry-run

  # erase it, keep the certificate
  strata erase -d orders --subject 1042 --reason "GDPR request #311" > erasure-311.json

  strata erase list                 # erasures, refusals, deletions pending
  strata erase show 7               # the certificate of erasure 7, deletions as they stand`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if f.dataset == "" || f.subject == "" || f.reason == "" {
				return usageErr("erase needs --dataset, --subject and --reason (see 'strata erase --help')")
			}
			return runErase(c.Context(), env, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.dataset, "dataset", "d", "", "dataset name (required)")
	fl.StringVar(&f.subject, "subject", "", "the value identifying the data subject, as the dataset's subject: config finds it (required)")
	fl.StringVar(&f.reason, "reason", "", "why: recorded in the ledger and the certificate (required)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "report what would be erased; change and record nothing")
	cmd.AddCommand(newEraseListCmd(env, g), newEraseShowCmd(env, g))
	return cmd
}

func runErase(ctx context.Context, env Env, g *globalFlags, f eraseFlags) error {
	a, err := openApp(ctx, env, g)
	if err != nil {
		return err
	}
	defer a.close()
	ctx = actor.With(ctx, actor.Actor{Name: actor.OSUser(), Via: actor.ViaCLI})
	cert, err := a.svc.Erase(ctx, strata.EraseRequest{Dataset: f.dataset, Subject: f.subject, Reason: f.reason, DryRun: f.dryRun})
	var refused *strata.ErasureRefused
	if errors.As(err, &refused) {
		if perr := printJSON(env, refused.Certificate); perr != nil {
			return perr
		}
		return &ExitError{Code: ExitUsage, Err: err}
	}
	if err != nil {
		return err
	}
	return printJSON(env, cert)
}

func printJSON(env Env, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.Stdout, "%s\n", b)
	return err
}

func newEraseListCmd(env Env, g *globalFlags) *cobra.Command {
	var dataset string
	cmd := &cobra.Command{
		Use:   "list [--dataset N]",
		Short: "List erasures and refusals, and the deletions from storage still pending (JSON)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := openApp(c.Context(), env, g)
			if err != nil {
				return err
			}
			defer a.close()
			l, err := a.svc.EraseList(c.Context(), dataset)
			if err != nil {
				return err
			}
			return printJSON(env, l)
		},
	}
	cmd.Flags().StringVarP(&dataset, "dataset", "d", "", "only this dataset")
	return cmd
}

func newEraseShowCmd(env Env, g *globalFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "show ID",
		Short: "Print the certificate of an erasure (JSON), its deletions as they stand now",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return usageErr("erase show %q: give the erasure's id, a positive number ('strata erase list' shows them)", args[0])
			}
			a, err := openApp(c.Context(), env, g)
			if err != nil {
				return err
			}
			defer a.close()
			cert, err := a.svc.EraseShow(c.Context(), id)
			if err != nil {
				return err
			}
			return printJSON(env, cert)
		},
	}
}
