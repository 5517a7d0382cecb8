package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
)

const restoreLong = `Restore copies archived analytics rows back into the database: every
committed, current object of the dataset's analytics archive whose UTC day
lies between --from and --to. Objects hold whole days, so --from and --to
select days: a date (2024-11-01) means that day, and a time within a day
(2024-11-01T06:00:00Z) also restores that whole day. Each object is checked
against its catalog SHA-256 and row count before its rows are copied, and
the rows copied are counted against the catalog; all of it happens in one
transaction, so a restore is complete or changes nothing.

Without --into the rows go back into the dataset's Layer 2 table, and the
objects are marked restored in the same transaction: retrieval then reads
those rows from the table, never from the archive as well, and a lineage
record lists the objects and rows ('strata lineage' shows it). A restore
never overwrites a row: when an archived row's key is already in the table
(a newer row), or a key was archived more than once in the range, nothing is
restored and the command names some of the keys (exit 1). Rows still older
than analytics.retention are moved out again, to new archive objects, by the
next 'strata archive' (or 'strata serve''s schedule): restore into Layer 2
is for bringing rows back into use, and each row stays in exactly one place.
The restored objects stay in storage, unread, until archive.retention ends.

With --into TABLE (table or schema.table) the rows are copied into that
table instead, for investigation, and the catalog is left unchanged. A
missing table is created with the archived columns; an existing one must be
empty and have every archived column. The dataset's own table, and schemas
of PostgreSQL (pg_*, information_schema) and Strata (strata) are refused.

Exit status: 0 restored (or nothing archived in the range), 1 failure or a
key conflict (nothing changed), 2 bad input: an unknown dataset, a bad or
reversed range, an unusable --into table.`

type restoreFlags struct {
	dataset, typ, from, to, into string
}

func newRestoreCmd(env Env, g *globalFlags) *cobra.Command {
	var f restoreFlags
	cmd := &cobra.Command{
		Use:   "restore --dataset N --type analytics --from T --to T [--into TABLE]",
		Short: "Copy archived analytics rows of whole days back into Layer 2, or into another table",
		Long:  restoreLong,
		Example: `  # bring March 2024 back into the orders table (the next archive run moves it out again)
  strata restore --dataset orders --type analytics --from 2024-03-01 --to 2024-03-31

  # look at one archived day side by side with today's data, catalog untouched
  strata restore -d orders --from 2024-03-15 --to 2024-03-15 --into investigation.orders_0315
  psql -c 'SELECT status, count(*) FROM investigation.orders_0315 GROUP BY 1'`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runRestore(c.Context(), env, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.dataset, "dataset", "d", "", "dataset name (required)")
	fl.StringVarP(&f.typ, "type", "t", catalog.TypeAnalytics, "archive type: only analytics can be restored")
	fl.StringVar(&f.from, "from", "", "first day to restore: a date or a time within it (required)")
	fl.StringVar(&f.to, "to", "", "last day to restore, inclusive: a date or a time within it (required)")
	fl.StringVar(&f.into, "into", "", "copy into this table (table or schema.table; created if missing, else must be empty) instead of Layer 2")
	return cmd
}

func runRestore(ctx context.Context, env Env, g *globalFlags, f restoreFlags) error {
	req, err := restoreRequest(f)
	if err != nil {
		return err
	}
	a, err := openWriter(ctx, env, g)
	if err != nil {
		return err
	}
	defer a.close()
	rep, err := a.svc.Restore(ctx, req)
	if err != nil {
		if errors.Is(err, strata.ErrInvalid) || errors.Is(err, strata.ErrNotFound) {
			return &ExitError{Code: ExitUsage, Err: err}
		}
		return err
	}
	printRestoreReport(env.Stdout, rep)
	return nil
}

func restoreRequest(f restoreFlags) (strata.RestoreRequest, error) {
	if f.dataset == "" {
		return strata.RestoreRequest{}, usageErr("--dataset is required")
	}
	switch f.typ {
	case catalog.TypeAnalytics:
	case catalog.TypeSource:
		return strata.RestoreRequest{}, usageErr("--type source: raw records are not restored; 'strata replay' re-runs the transform over them, and 'strata retrieve --type source' reads them")
	default:
		return strata.RestoreRequest{}, usageErr("--type %q: only analytics can be restored", f.typ)
	}
	from, to, err := parseRange(f.from, f.to)
	if err != nil {
		return strata.RestoreRequest{}, err
	}
	if f.into != "" {
		if _, err := config.ParseTableName(f.into); err != nil {
			return strata.RestoreRequest{}, usageErr("--into: %v", err)
		}
	}
	return strata.RestoreRequest{Dataset: f.dataset, From: from, To: to, Into: f.into}, nil
}

func printRestoreReport(w io.Writer, rep strata.RestoreReport) {
	span := rep.From.Format(time.DateOnly) + " .. " + rep.To.Format(time.DateOnly)
	if len(rep.Objects) == 0 {
		fmt.Fprintf(w, "%s: nothing archived (committed, not yet restored) for the days %s; nothing changed\n", rep.Dataset, span)
		return
	}
	for _, d := range rep.Days {
		fmt.Fprintf(w, "%s %s: restored %d rows from %d object(s)\n", rep.Dataset, d.Day.Format(time.DateOnly), d.Rows, d.Objects)
	}
	created := ""
	if rep.Created {
		created = " (created)"
	}
	fmt.Fprintf(w, "%s: restored %d rows from %d object(s) of %d day(s) (%s) into %s%s\n",
		rep.Dataset, rep.Rows, len(rep.Objects), len(rep.Days), span, rep.Table, created)
	if rep.Layer2 {
		fmt.Fprintf(w, "the objects are marked restored (lineage record %d); rows still past analytics.retention move to new archive objects at the next 'strata archive'\n", rep.LineageID)
	} else {
		fmt.Fprintln(w, "the catalog is unchanged: this is a copy")
	}
}
