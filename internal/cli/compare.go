package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/lineage"
)

// compareFlags are the flags of compare and replay.
type compareFlags struct {
	dataset, from, to, format string
	apply                     bool
	// transform is a candidate transform's file (--transform).
	transform string
}

func (f *compareFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVarP(&f.dataset, "dataset", "d", "", "dataset name (required)")
	fl.StringVar(&f.from, "from", "", "start of the period of ingestion times, inclusive (required)")
	fl.StringVar(&f.to, "to", "", "end of the period, inclusive (required)")
	fl.StringVarP(&f.format, "format", "f", "text", "output: text (a summary) or json (the whole report)")
	fl.StringVar(&f.transform, "transform", "", "a candidate transform `FILE` to run instead of the dataset's configured one (the configured one stays as it is)")
}

// check validates the flags before anything is opened.
func (f *compareFlags) check() (from, to time.Time, err error) {
	if f.dataset == "" {
		return from, to, usageErr("--dataset is required")
	}
	if f.format != "text" && f.format != "json" {
		return from, to, usageErr("--format %q: use text or json", f.format)
	}
	return parseRange(f.from, f.to)
}

const compareLong = `Compare takes the raw records ingested in the period (from Layer 3 or the
source archive, whichever holds them), runs the dataset's current transform
over them, the latest record per key winning as at ingest, and compares the
result key by key with the analytics rows of those keys wherever they are now:
Layer 2, the analytics archive on the days where they should be, and, for
keys found in neither, the rest of the committed analytics archive (objects
ruled out by their catalog key range, footer statistics, bloom filters and
key columns before any is read whole). It changes nothing.

It counts matched keys and three kinds of difference: missing (expected, but
no analytics row anywhere), unexpected (an analytics row for a key that a
record of the period names, but that the transform yields no row for) and
changed (an analytics row that differs), with the columns that differ and
samples; a row found on another day than its records give it is changed
(its time column differs) and counted as moved. Columns are compared by name: the columns the transform yields; a
Layer 2 column it does not yield is not compared. A key with a record
ingested after the period is counted as later and not compared: its row
comes from that record (compare the period that holds it).

--transform FILE tries a candidate transform instead of the configured one:
the report then says what adopting it would change (changed rows, with
the columns it changes and samples of expected = candidate vs found =
current values; missing; unexpected). Nothing is written, and the
configured transform stays as it is. The candidate is checked like a
transform file (one SELECT naming {{source}} once, at most 256 KiB) and
runs in a read-only transaction; one that does not parse, that PostgreSQL
refuses, or that fails over the records (a division by zero, a value Layer
2 cannot hold) exits 2 with the database's message. 'strata replay
--transform FILE --apply' adopts it.

The work runs in PostgreSQL, in temporary tables of one session, so a
period larger than memory costs temporary disk space, not memory. While the
analytics rows are read it holds the dataset's analytics lock, so an
archive run waits (or a compare waits up to 30 s for one to finish).
docs/LINEAGE.md has the details and the limits.

Exit status: 0 when source and analytics agree (with --transform: the
candidate would change nothing), 3 when they differ, 2 on bad input (an
unknown dataset, one without source, analytics and transform, a bad period,
a transform that does not parse or run), 1 on failure.`

func newCompareCmd(env Env, g *globalFlags) *cobra.Command {
	var f compareFlags
	cmd := &cobra.Command{
		Use:   "compare --dataset N --from T --to T [--transform FILE] [--format text|json]",
		Short: "Check that the analytics rows are what the transform makes of the raw records of a period",
		Long:  compareLong,
		Example: `  strata compare --dataset orders --from 2024-11-01 --to 2024-11-07
  strata compare -d orders --from 2024-11-01T00:00:00Z --to 2024-11-01T12:00:00Z --format json
  strata compare --dataset orders --from 2024-11-01 --to 2024-11-07 --transform candidate.sql   # what adopting it would change`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runCompare(c.Context(), env, g, f, "compare")
		},
	}
	f.add(cmd)
	return cmd
}

// runCompare runs compare or replay and prints the report.
func runCompare(ctx context.Context, env Env, g *globalFlags, f compareFlags, verb string) error {
	from, to, err := f.check()
	if err != nil {
		return err
	}
	candidate, err := readCandidate(f.transform)
	if err != nil {
		return err
	}
	a, err := openFor(ctx, env, g, verb == "replay" && f.apply)
	if err != nil {
		return err
	}
	defer a.close()
	var rep *strata.CompareReport
	req := strata.ReplayRequest{Dataset: f.dataset, From: from, To: to, Apply: f.apply, Transform: candidate, TransformName: f.transform}
	if verb == "compare" {
		rep, err = a.svc.Compare(ctx, strata.CompareRequest{Dataset: req.Dataset, From: from, To: to, Transform: candidate, TransformName: f.transform})
	} else {
		rep, err = a.svc.Replay(ctx, req)
	}
	if err != nil {
		if errors.Is(err, strata.ErrInvalid) || errors.Is(err, strata.ErrNotFound) {
			return &ExitError{Code: ExitUsage, Err: err}
		}
		return fmt.Errorf("%s: %w", verb, err)
	}
	if f.format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printCompareReport(env.Stdout, rep, verb)
	}
	if verb == "compare" && !rep.Agree {
		return &ExitError{Code: ExitFound}
	}
	return nil
}

// printCompareReport writes the human summary of a compare or replay.
func printCompareReport(w io.Writer, r *strata.CompareReport, verb string) {
	fmt.Fprintf(w, "%s %s: records ingested %s .. %s, %s\n", verb, r.Dataset,
		r.From.Format(time.RFC3339Nano), r.To.Format(time.RFC3339Nano), transformLabel(r))
	s := r.SourceRecords
	fmt.Fprintf(w, "source records: %d (source archive %d, Layer 3 %d)", s.Archive+s.Layer3, s.Archive, s.Layer3)
	if s.WithoutKey > 0 {
		fmt.Fprintf(w, "; %d without a readable key", s.WithoutKey)
	}
	if s.Quarantined > 0 {
		fmt.Fprintf(w, "; %d quarantined (the transform refused them at ingest; replay --apply processes them)", s.Quarantined)
	}
	a := r.AnalyticsRows
	fmt.Fprintf(w, "\nanalytics rows: %d expected; found %d live, %d archived", a.Expected, a.Live, a.Archived)
	if a.Duplicates > 0 {
		fmt.Fprintf(w, " (and %d duplicates)", a.Duplicates)
	}
	if c := r.Search; c.Objects > 0 {
		fmt.Fprintf(w, "\narchive searched for the keys beyond their days: %d object(s), %d ruled out by their key ranges, %d probed (statistics, bloom filters, key columns), %d read",
			c.Objects, c.SkippedRange, c.Probed, c.Read)
	}
	fmt.Fprint(w, "\n\n")
	later := ""
	if r.Later > 0 {
		later = "keys with a record after the period: not compared"
	}
	width := len(strconv.FormatInt(max(r.Matched, r.Changed, r.Missing, r.Unexpected, r.Later), 10))
	for _, l := range []struct {
		label string
		n     int64
		note  string
	}{{"matched", r.Matched, ""}, {"changed", r.Changed, changedColumnsNote(r)}, {"missing", r.Missing, ""},
		{"unexpected", r.Unexpected, ""}, {"later", r.Later, later}} {
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("  %-10s %*d  %s", l.label, width, l.n, l.note), " "))
	}
	printCompareSamples(w, r)
	fmt.Fprintf(w, "\ncompared columns: %s", strings.Join(r.Compared, ", "))
	if len(r.Ignored) > 0 {
		fmt.Fprintf(w, "; not compared (not yielded by the transform): %s", strings.Join(r.Ignored, ", "))
	}
	fmt.Fprintln(w)
	printCompareOutcome(w, r, verb)
}

func versionPrefix(version string) string {
	if len(version) > 12 {
		return version[:12]
	}
	return version
}

// changedColumnsNote lists the differing columns with their counts.
func changedColumnsNote(r *strata.CompareReport) string {
	cols := make([]string, 0, len(r.Columns))
	for c := range r.Columns {
		cols = append(cols, c)
	}
	slices.SortFunc(cols, func(x, y string) int { return int(r.Columns[y] - r.Columns[x]) })
	var parts []string
	for _, c := range cols {
		parts = append(parts, fmt.Sprintf("%s %d", c, r.Columns[c]))
	}
	note := strings.Join(parts, ", ")
	switch {
	case r.Moved > 0:
		note += fmt.Sprintf(" (%d archived, %d of them on another day)", r.ChangedArchived, r.Moved)
	case r.ChangedArchived > 0:
		note += fmt.Sprintf(" (%d archived)", r.ChangedArchived)
	}
	return note
}

// printCompareSamples writes the report's samples, one key per line.
func printCompareSamples(w io.Writer, r *strata.CompareReport) {
	s := r.Samples
	if len(s.Changed)+len(s.Missing)+len(s.Unexpected)+len(s.Later)+len(s.Moved) == 0 {
		return
	}
	fmt.Fprintln(w)
	for _, c := range s.Changed {
		cols := make([]string, 0, len(c.Columns))
		for name := range c.Columns {
			cols = append(cols, name)
		}
		slices.Sort(cols)
		diffs := make([]string, len(cols))
		for i, name := range cols {
			v := c.Columns[name]
			diffs[i] = fmt.Sprintf("%s: expected %s, found %s", name, sampleValue(v.Expected), sampleValue(v.Actual))
		}
		where := ""
		if c.Archived {
			where = " (archived)"
		}
		fmt.Fprintf(w, "  changed     %s%s  %s\n", sampleKey(c.Key), where, strings.Join(diffs, "; "))
	}
	for _, k := range []struct {
		kind string
		keys []lineage.KeySample
	}{{"missing", s.Missing}, {"unexpected", s.Unexpected}, {"later", s.Later}} {
		for _, ks := range k.keys {
			fmt.Fprintf(w, "  %-11s %s\n", k.kind, sampleKey(ks.Key))
		}
	}
	for _, m := range s.Moved {
		to := "an object of that day"
		if m.Layer2 {
			to = "Layer 2"
		}
		fmt.Fprintf(w, "  moved       %s  archived on %s, its records give %s (replay --apply moves it to %s)\n", sampleKey(m.Key), m.From, m.To, to)
	}
}

func sampleKey(key map[string]string) string { return lineage.FormatKey(key) }

func sampleValue(v *string) string {
	if v == nil {
		return "NULL"
	}
	return strconv.Quote(*v)
}

// printCompareOutcome says what the report means, and what was written.
func printCompareOutcome(w io.Writer, r *strata.CompareReport, verb string) {
	switch {
	case r.Candidate != nil:
		printCandidateOutcome(w, r, verb)
	case r.Applied != nil:
		printApplied(w, r.Applied)
	case verb == "replay":
		fmt.Fprintln(w, "dry run: nothing was changed (--apply writes the changed and missing rows)")
	case r.Agree:
		fmt.Fprintln(w, "result: source and analytics agree")
	default:
		fmt.Fprintln(w, "result: source and analytics differ (exit 3); 'strata replay --apply' over the period writes the transform's rows")
	}
}

// printApplied says what an apply wrote.
func printApplied(w io.Writer, a *lineage.Applied) {
	if a.Lineage == 0 {
		fmt.Fprintln(w, "applied: nothing to change")
		return
	}
	fmt.Fprintf(w, "applied: Layer 2 %d inserted, %d updated", a.Inserted, a.Updated)
	if a.Skipped > 0 {
		fmt.Fprintf(w, ", %d skipped (changed since compared: run the replay again)", a.Skipped)
	}
	if len(a.Objects) > 0 {
		fmt.Fprintf(w, "; archive %d rows corrected in %d new object(s) superseding %d", a.ArchivedRows, len(a.Objects), len(a.Superseded))
	}
	if a.MovedToLayer2+a.MovedInArchive > 0 {
		fmt.Fprintf(w, "; rows that had moved to another day: %d put in Layer 2, %d in objects of their own day, their stale copies superseded",
			a.MovedToLayer2, a.MovedInArchive)
	}
	if a.Quarantined > 0 {
		fmt.Fprintf(w, "; %d quarantined record(s) processed", a.Quarantined)
	}
	fmt.Fprintf(w, "; lineage record %d\n", a.Lineage)
}
