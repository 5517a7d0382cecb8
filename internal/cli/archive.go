package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/units"
)

func newArchiveCmd(env Env, g *globalFlags) *cobra.Command {
	var dataset, typ string
	var dryRun, flush bool
	cmd := &cobra.Command{
		Use:   "archive [--dataset N] [--type source|analytics] [--dry-run] [--flush]",
		Short: "Archive Layer 3 rows not yet archived, and Layer 2 rows past retention, exactly once",
		Long: `Archive does both halves of the archive (both unless --type says which).

--type source archives the rows of each dataset's Layer 3 table that are not
yet in a committed source batch, whoever wrote them, into

  {prefix}/source/{dataset}/{YYYY}/{MM}/{DD}/source_batch_{id}.parquet

by ingestion day, claiming rows with FOR UPDATE SKIP LOCKED so several strata
processes share the work. With a transform, each batch is also transformed
into Layer 2 and marked processed in the same transaction. To avoid a flood of
small objects, rows wait until a batch is full (source.batch_max_rows or
source.batch_max_bytes) or the oldest has waited source.batch_max_wait;
--flush archives them now.

--type analytics moves every whole UTC day of a dataset's analytics table whose rows
are all older than analytics.retention into

  {prefix}/analytics/{dataset}/{YYYY}/{MM}/{DD}/chunk_{id}.parquet

and then removes exactly those rows from the table, in the same transaction
that marks the object committed in the catalog. A run that dies at any point
loses and duplicates nothing; the next run resumes. Rows that arrive late for
a day already archived become a new chunk of that day on the next run. A
wholly archived native partition (or TimescaleDB chunk) is dropped instead of
deleted row by row. Another strata process archiving the same dataset makes
this one skip it.`,
		Example: `  strata archive --dry-run            # what would move, changing nothing
  strata archive --dataset customers  # one dataset
  strata archive --type source --flush
  strata archive                      # every dataset, both types`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if typ != "" && typ != catalog.TypeAnalytics && typ != catalog.TypeSource {
				return usageErr("--type %q: use source or analytics", typ)
			}
			a, err := openFor(c.Context(), env, g, !dryRun)
			if err != nil {
				return err
			}
			defer a.close()
			if typ != catalog.TypeAnalytics {
				if err := runSourceArchive(c.Context(), a, dataset, typ != "", archive.SourceOptions{DryRun: dryRun, Flush: flush}); err != nil {
					return err
				}
			}
			if typ == catalog.TypeSource {
				return nil
			}
			return runArchive(c.Context(), a, dataset, dryRun, typ != "")
		},
	}
	cmd.Flags().StringVarP(&dataset, "dataset", "d", "", "archive only this dataset (default: all with an analytics table)")
	cmd.Flags().StringVarP(&typ, "type", "t", "", "archive type: source or analytics (default: both)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan (days, rows, estimated bytes) and change nothing")
	cmd.Flags().BoolVar(&flush, "flush", false, "source: archive every waiting row now, even a small batch")
	return cmd
}

func runArchive(ctx context.Context, a *app, dataset string, dryRun, strict bool) error {
	specs, err := analyticsSpecs(a.svc, dataset, strict)
	if err != nil {
		return err
	}
	opts := archive.Options{DryRun: dryRun}
	if isTerminal(a.env.Stdout) {
		opts.Progress = func(d archive.DayReport) {
			state := "archived"
			if d.Pending {
				state = "uploaded, commits with the run's other days"
			}
			fmt.Fprintf(a.env.Stderr, "\r\033[K  %s %s: %d rows, %s %s", d.Dataset, d.Day.Format(time.DateOnly), d.Rows, units.Bytes(d.Bytes), state)
		}
	}
	var failed error
	for _, spec := range specs {
		rep, err := a.svc.ArchiveAnalytics(ctx, spec.Dataset, opts)
		if opts.Progress != nil {
			fmt.Fprint(a.env.Stderr, "\r\033[K")
		}
		printArchiveReport(a.env.Stdout, rep, dryRun)
		if err != nil {
			fmt.Fprintf(a.env.Stderr, "strata: %v\n", err)
			failed = fmt.Errorf("archiving failed for at least one dataset (see above); rerun to resume: nothing was lost")
		}
	}
	return failed
}

func (a *app) archiver() (*archive.Archiver, error) { return a.svc.Archiver(), nil }

// analyticsSpecs maps the configured datasets (or the one named) to archive specs.
// With strict, a named dataset without an analytics table is an error.
func analyticsSpecs(svc *strata.Service, only string, strict bool) ([]archive.AnalyticsSpec, error) {
	cfg := svc.Config()
	var out []archive.AnalyticsSpec
	found := false
	for _, ds := range cfg.Datasets {
		if only != "" && ds.Name != only {
			continue
		}
		found = true
		if ds.Analytics == nil {
			if only != "" && strict {
				return nil, usageErr("dataset %q has no analytics table (datasets[].analytics in the config)", only)
			}
			continue
		}
		spec, err := svc.AnalyticsSpec(&ds)
		if err != nil {
			return nil, err
		}
		out = append(out, spec)
	}
	if only != "" && !found {
		return nil, usageErr("no dataset %q in the config (datasets: %s)", only, datasetNames(cfg))
	}
	return out, nil
}

// runSourceArchive archives the waiting Layer 3 rows of every dataset with a
// source table (or the one named).
func runSourceArchive(ctx context.Context, a *app, dataset string, strict bool, opts archive.SourceOptions) error {
	var dss []*config.Dataset
	var err error
	if dataset == "" || strict {
		dss, err = sourceDatasets(a.cfg, dataset)
	} else if ds, ok := a.cfg.Dataset(dataset); ok && ds.Source != nil {
		dss = []*config.Dataset{ds}
	}
	if err != nil {
		return err
	}
	var failed error
	for _, ds := range dss {
		rep, err := a.svc.ArchiveSource(ctx, ds.Name, opts)
		printSourceReport(a.env.Stdout, rep, opts.DryRun)
		if err != nil {
			fmt.Fprintf(a.env.Stderr, "strata: %v\n", err)
			failed = fmt.Errorf("source archiving failed for at least one dataset (see above); rerun to resume: nothing was lost")
		}
	}
	return failed
}

func printSourceReport(w io.Writer, rep archive.Report, dryRun bool) {
	switch {
	case dryRun && len(rep.Days) > 0:
		fmt.Fprintf(w, "%s: source: %d rows wait to be archived (about %s of Parquet)", rep.Dataset, rep.Rows(), units.Bytes(rep.Bytes()))
		if rep.Skipped != "" {
			fmt.Fprintf(w, "; %s", rep.Skipped)
		}
		fmt.Fprintln(w)
		return
	case rep.Skipped != "":
		fmt.Fprintf(w, "%s: source: %s\n", rep.Dataset, rep.Skipped)
		return
	}
	fmt.Fprintf(w, "%s: source: archived %d rows in %d object(s), %s\n", rep.Dataset, rep.Rows(), len(rep.Days), units.Bytes(rep.Bytes()))
	for _, d := range rep.Days {
		fmt.Fprintf(w, "  %s  %d rows  %s  %s\n", d.Day.Format(time.DateOnly), d.Rows, units.Bytes(d.Bytes), d.Key)
	}
}

func datasetNames(cfg *config.Config) string {
	s := ""
	for i, ds := range cfg.Datasets {
		if i > 0 {
			s += ", "
		}
		s += ds.Name
	}
	return s
}

func printArchiveReport(w io.Writer, rep archive.Report, dryRun bool) {
	switch {
	case rep.Skipped != "":
		fmt.Fprintf(w, "%s: skipped: %s\n", rep.Dataset, rep.Skipped)
		return
	case len(rep.Days) == 0:
		fmt.Fprintf(w, "%s: nothing to archive (no rows before %s)\n", rep.Dataset, rep.Cutoff.Format(time.DateOnly))
		return
	}
	verb := "archived"
	if dryRun {
		verb = "would archive"
	}
	fmt.Fprintf(w, "%s: %s %d rows in %d day(s) before %s, %s\n", rep.Dataset, verb, rep.Rows(), len(rep.Days),
		rep.Cutoff.Format(time.DateOnly), bytesLabel(rep.Bytes(), dryRun))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	if dryRun {
		fmt.Fprintln(tw, "  DAY\tROWS\tEST. BYTES")
	} else {
		fmt.Fprintln(tw, "  DAY\tROWS\tBYTES\tOBJECT")
	}
	for _, d := range rep.Days {
		if dryRun {
			fmt.Fprintf(tw, "  %s\t%d\t%s\n", d.Day.Format(time.DateOnly), d.Rows, units.Bytes(d.Bytes))
			continue
		}
		note := ""
		if d.Adopted {
			note = " (adopted from an interrupted run)"
		}
		if d.Dropped != "" {
			note += " (partition " + d.Dropped + " dropped)"
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s%s\n", d.Day.Format(time.DateOnly), d.Rows, units.Bytes(d.Bytes), d.Key, note)
	}
	tw.Flush()
}

func bytesLabel(n int64, estimate bool) string {
	if estimate {
		return "about " + units.Bytes(n) + " of Parquet (estimate)"
	}
	return units.Bytes(n) + " of Parquet"
}
