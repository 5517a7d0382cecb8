package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/units"
)

type lineageFlags struct {
	dataset, from, to, format string
	verify                    bool
}

func newLineageCmd(env Env, g *globalFlags) *cobra.Command {
	var f lineageFlags
	cmd := &cobra.Command{
		Use:   "lineage --dataset N --from T --to T [--format text|json] [--verify]",
		Short: "Show the evidence chain of a period: raw records, batches, transform texts, analytics objects",
		Long: `Lineage prints, for one dataset and period, the chain of evidence from the
raw records received to the analytics rows they became, as the catalog
(schema strata) recorded it when each step committed:

  1. the source archive objects holding the raw records ingested in the
     period (key, day, rows, size, SHA-256, when committed), and how many of
     the period's records are still in the Layer 3 table;
  2. every batch and run of the period (ingest, source archive, analytics
     archive, replay, restore): when, its run and status, the Layer 3 ids and
     record count, the source objects, the transform version, the Layer 2
     rows written, the analytics objects written or superseded; then later
     runs that acted on the period's objects (an analytics archive months
     later);
  3. the full text of every transform version used, the current one (the
     config's transform file) marked, so the transformation logic of any
     period can be shown years later;
  4. the analytics archive objects of the period's days and the period's
     rows still in Layer 2;
  5. totals and an integrity statement: whether every count adds up.

Raw records and objects are selected by ingestion time, batches by the time
they were recorded. --verify also reads every listed object back from the
storage and checks its size and SHA-256 against the catalog.

--format json prints the same as one JSON object for tools (field names are
stable; see docs/LINEAGE.md).

Exit status: 0 when the chain is whole, 3 when a problem was found (a count
that does not add up, or with --verify an object missing or damaged), 2 for
bad input, 1 when the database or the storage fails.`,
		Example: `  strata lineage --dataset scor_metrics --from 2024-11-01 --to 2024-11-08
  strata lineage -d orders --from 2024-11-01T00:00:00Z --to 2024-11-01T23:59:59Z --format json --verify`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runLineage(c.Context(), env, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.dataset, "dataset", "d", "", "dataset name (required)")
	fl.StringVar(&f.from, "from", "", "start of the period, inclusive (required)")
	fl.StringVar(&f.to, "to", "", "end of the period, inclusive; a date means that whole UTC day (required)")
	fl.StringVarP(&f.format, "format", "f", "text", "output format: text or json")
	fl.BoolVar(&f.verify, "verify", false, "read every listed object back and check its SHA-256")
	return cmd
}

func runLineage(ctx context.Context, env Env, g *globalFlags, f lineageFlags) error {
	if f.dataset == "" {
		return usageErr("--dataset is required")
	}
	if f.format != "text" && f.format != "json" {
		return usageErr("--format %q: use text or json", f.format)
	}
	from, to, err := parseRange(f.from, f.to)
	if err != nil {
		return err
	}
	a, err := openApp(ctx, env, g)
	if err != nil {
		return err
	}
	defer a.close()
	rep, err := a.svc.Lineage(ctx, strata.LineageRequest{Dataset: f.dataset, From: from, To: to, Verify: f.verify})
	if err != nil {
		if errors.Is(err, strata.ErrInvalid) || errors.Is(err, strata.ErrNotFound) {
			return &ExitError{Code: ExitUsage, Err: err}
		}
		return err
	}
	if f.format == "json" {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printLineage(env.Stdout, rep, a.cfg.Lineage.OpenLineageURL != "" || a.cfg.Lineage.OpenLineageFile != "")
	}
	if !rep.Integrity.OK {
		return &ExitError{Code: ExitFound}
	}
	return nil
}

// printLineage writes the report for a reader who is not an engineer:
// plain sentences first, tables after.
func printLineage(w io.Writer, r *strata.LineageReport, openLineage bool) {
	fmt.Fprintf(w, "Lineage of dataset %s\n", r.Dataset)
	fmt.Fprintf(w, "Period:    %s to %s (raw records by the time they were received)\n", lineageTime(r.From), lineageTime(r.To))
	fmt.Fprintf(w, "Generated: %s from the Strata catalog (schema strata)\n", lineageTime(r.GeneratedAt))
	lineageHeading(w, "Summary")
	fmt.Fprintf(w, "%s\n", lineageWrap(r.Integrity.Statement, "  "))
	printLineageSource(w, r)
	printLineageBatches(w, r, openLineage)
	printLineageTransforms(w, r)
	printLineageAnalytics(w, r)
	printLineageIntegrity(w, r)
}

func lineageHeading(w io.Writer, title string) {
	fmt.Fprintf(w, "\n%s\n%s\n", strings.ToUpper(title), strings.Repeat("=", len(title)))
}

func printLineageSource(w io.Writer, r *strata.LineageReport) {
	lineageHeading(w, "1. Raw records received")
	if l := r.Source.Live; l != nil {
		fmt.Fprintf(w, "  Layer 3 table %s still holds %d of the period's records", r.Source.Table, l.Rows)
		if l.Archived != nil {
			fmt.Fprintf(w, " (%d of them archived", *l.Archived)
			if l.Processed != nil {
				fmt.Fprintf(w, ", %d transformed", *l.Processed)
			}
			fmt.Fprint(w, ")")
		}
		fmt.Fprintln(w, ".")
	}
	printLineageQuarantine(w, r.Source.Quarantine)
	t := r.Totals
	fmt.Fprintf(w, "  Source archive: %d object(s), %d records, %s. Objects are never changed; each one's\n"+
		"  SHA-256 was recorded when it was written.\n\n", t.SourceObjects, t.SourceRows, units.Bytes(t.SourceBytes))
	printLineageObjects(w, r.Source.Objects)
}

func printLineageObjects(w io.Writer, objs []strata.LineageObject) {
	if len(objs) == 0 {
		fmt.Fprintln(w, "  (none)")
		return
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  DAY\tROWS\tSIZE\tCOMMITTED\tSTATE\tSHA-256\tOBJECT")
	for _, o := range objs {
		state := o.State
		if o.SupersededBy != "" {
			state += ", superseded by " + o.SupersededBy
		}
		if o.Verified != "" {
			state += ", read back: " + o.Verified
		}
		committed := ""
		if o.CommittedAt != nil {
			committed = lineageTime(*o.CommittedAt)
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\t%s\n", o.Day, o.Rows, units.Bytes(o.Bytes), committed, state, o.SHA256, o.Key)
	}
	tw.Flush()
}

func printLineageBatches(w io.Writer, r *strata.LineageReport, openLineage bool) {
	lineageHeading(w, "2. Processing steps (batches and runs)")
	if len(r.Batches) == 0 {
		fmt.Fprintln(w, "  No batch or run was recorded in the period.")
		return
	}
	later := false
	for _, b := range r.Batches {
		if !b.InPeriod && !later {
			later = true
			fmt.Fprintln(w, "\n  Later steps that acted on this period's objects:")
		}
		fmt.Fprintf(w, "\n  %s  %s", lineageTime(b.At), lineageKind(b.Kind))
		if b.RunID != nil {
			fmt.Fprintf(w, ", run %d", *b.RunID)
			if b.Run != nil {
				fmt.Fprintf(w, " (%s on %s, %s)", b.Run.Command, b.Run.Host, b.Run.Status)
			}
		}
		fmt.Fprintf(w, ", lineage record %d\n", b.ID)
		for _, line := range lineageBatchLines(b) {
			fmt.Fprintf(w, "      %s\n", line)
		}
		if b.Run != nil && b.Run.Error != "" {
			fmt.Fprintf(w, "      the run failed later: %s\n", b.Run.Error)
		}
		if openLineage && b.OpenLineageRunID != "" {
			fmt.Fprintf(w, "      OpenLineage run id %s\n", b.OpenLineageRunID)
		}
	}
}

func lineageKind(kind string) string {
	switch kind {
	case catalog.LineageIngest:
		return "ingest"
	case catalog.LineageSourceArchive:
		return "source archive"
	case catalog.LineageAnalyticsArchive:
		return "analytics archive"
	}
	return kind
}

// lineageBatchLines says in words what one batch did.
func lineageBatchLines(b strata.LineageBatch) []string {
	var out []string
	list := func(keys []string) {
		for _, k := range keys {
			out = append(out, "  "+k)
		}
	}
	ids := ""
	if b.Layer3FirstID != nil && b.Layer3LastID != nil {
		ids = fmt.Sprintf(" (Layer 3 ids %d to %d)", *b.Layer3FirstID, *b.Layer3LastID)
	}
	if b.PeriodFrom != nil && b.PeriodTo != nil {
		out = append(out, fmt.Sprintf("covered %s to %s", lineageTime(*b.PeriodFrom), lineageTime(*b.PeriodTo)))
	}
	switch b.Kind {
	case catalog.LineageIngest, catalog.LineageSourceArchive:
		what := "received %d raw records%s and archived them in:"
		if b.Kind == catalog.LineageSourceArchive {
			what = "archived %d raw records already in Layer 3%s in:"
		}
		out = append(out, fmt.Sprintf(what, b.Layer3Rows, ids))
		list(b.SourceObjects)
	case catalog.LineageAnalyticsArchive:
		out = append(out, fmt.Sprintf("moved %d Layer 2 row(s) out of the database into:", b.RowsArchived))
		list(b.AnalyticsObjects)
		return out
	case catalog.LineageReplay:
		out = append(out, fmt.Sprintf("re-ran %s over the period's raw records (%d of them read from Layer 3) and these source objects:", replayedTransform(b), b.Layer3Rows))
		list(b.SourceObjects)
	case catalog.LineageRestore:
		into, _ := b.Detail["into"].(string)
		if into == "" {
			into = "Layer 2"
		}
		out = append(out, fmt.Sprintf("copied %d archived row(s) back into %s from:", b.Layer2RowsWritten, into))
		list(b.AnalyticsObjects)
		return out
	}
	if b.TransformVersion != "" || b.Layer2RowsWritten > 0 {
		out = append(out, fmt.Sprintf("transform version %s wrote %d Layer 2 row(s)", lineageVersion(b.TransformVersion), b.Layer2RowsWritten))
	}
	out = append(out, lineageQuarantineLines(b.Detail)...)
	if len(b.AnalyticsObjects) > 0 {
		out = append(out, "wrote analytics object(s):")
		list(b.AnalyticsObjects)
	}
	if len(b.Superseded) > 0 {
		out = append(out, "superseded (kept, no longer read):")
		list(b.Superseded)
	}
	return append(out, lineageMovedLines(b.Moved)...)
}

// lineageMovedLines says what a replay did with rows found on another day
// than their records give them.
func lineageMovedLines(m *strata.LineageMoved) []string {
	if m == nil || m.Rows == 0 {
		return nil
	}
	out := []string{fmt.Sprintf("%d row(s) had moved to another day (their time column differed from what their records give): "+
		"their stale archived copies left the superseded objects; %d went to Layer 2, %d to an object of their own day; for example:",
		m.Rows, m.ToLayer2, m.InArchive)}
	for _, s := range m.Samples {
		keys := make([]string, 0, len(s.Key))
		for k, v := range s.Key {
			keys = append(keys, k+"="+v)
		}
		slices.Sort(keys)
		to := "an object of " + s.To
		if s.Layer2 {
			to = "Layer 2 (day " + s.To + ")"
		}
		out = append(out, fmt.Sprintf("  %s: was archived on %s, now in %s", strings.Join(keys, ", "), s.From, to))
	}
	return out
}

func printLineageTransforms(w io.Writer, r *strata.LineageReport) {
	lineageHeading(w, "3. Transformation logic")
	if c := r.CurrentTransform; c != nil && c.Error != "" {
		fmt.Fprintf(w, "  The current transform file %s could not be read: %s\n", c.Path, c.Error)
	}
	if len(r.Transforms) == 0 {
		fmt.Fprintln(w, "  The dataset has no transform.")
		return
	}
	for _, t := range r.Transforms {
		fmt.Fprintf(w, "\n  Version %s", t.Version)
		switch {
		case t.Candidate && t.Current:
			fmt.Fprint(w, " (current; adopted as a candidate by a replay first)")
		case t.Candidate:
			fmt.Fprint(w, " (a candidate adopted by a replay; not the configured transform)")
		case t.Current && t.Used:
			fmt.Fprint(w, " (current)")
		case t.Current:
			fmt.Fprint(w, " (current; not used in this period)")
		default:
			fmt.Fprint(w, " (no longer current)")
		}
		fmt.Fprintln(w)
		if t.FirstUsed != nil {
			fmt.Fprintf(w, "  First used %s. ", lineageTime(*t.FirstUsed))
		} else {
			fmt.Fprint(w, "  ")
		}
		fmt.Fprintf(w, "In this period: %d batch(es), %d raw records, %d Layer 2 row(s) written.\n", t.Batches, t.Records, t.Layer2RowsWritten)
		if !t.Recorded && t.Text == "" {
			fmt.Fprintln(w, "  Its text was not recorded (rows written before lineage records were kept).")
			continue
		}
		if !t.Recorded {
			fmt.Fprintln(w, "  Text from the current transform file (not yet recorded in the catalog):")
		}
		rule := "  " + strings.Repeat("-", 72)
		fmt.Fprintln(w, rule)
		for _, line := range strings.Split(strings.TrimRight(t.Text, "\n"), "\n") {
			fmt.Fprintf(w, "  | %s\n", line)
		}
		fmt.Fprintln(w, rule)
	}
	printLineageCandidates(w, r)
}

func printLineageAnalytics(w io.Writer, r *strata.LineageReport) {
	lineageHeading(w, "4. Analytics output")
	if l := r.Analytics.Live; l != nil {
		fmt.Fprintf(w, "  Layer 2 table %s still holds %d row(s) of the period.\n", r.Analytics.Table, l.Rows)
	}
	t := r.Totals
	fmt.Fprintf(w, "  Analytics archive, the period's days: %d object(s), %d current row(s), %s.\n",
		t.AnalyticsObjects, t.AnalyticsRows, units.Bytes(t.AnalyticsBytes))
	fmt.Fprintf(w, "  (Layer 2 rows written, %d in all, count every insert and update: a key received\n"+
		"  again counts again. Current rows count each key once.)\n\n", t.Layer2RowsWritten)
	printLineageObjects(w, r.Analytics.Objects)
}

func printLineageIntegrity(w io.Writer, r *strata.LineageReport) {
	lineageHeading(w, "5. Integrity")
	in := r.Integrity
	switch {
	case in.OK && in.Verified:
		fmt.Fprintf(w, "  OK: every count adds up, and all %d object(s) read back match their SHA-256.\n", in.ObjectsOK)
	case in.OK:
		fmt.Fprintln(w, "  OK: every count adds up (run with --verify to read every object back and check its SHA-256).")
	default:
		fmt.Fprintf(w, "  PROBLEMS FOUND (%d):\n", len(in.Problems))
		for _, p := range in.Problems {
			fmt.Fprintf(w, "%s\n", lineageWrap("- "+p, "  "))
		}
	}
	if len(in.Notes) > 0 {
		fmt.Fprintln(w, "  Notes:")
		for _, n := range in.Notes {
			fmt.Fprintf(w, "%s\n", lineageWrap("- "+n, "  "))
		}
	}
}

// lineageTime formats a time for people: UTC to the second.
func lineageTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05Z") }

func lineageVersion(v string) string {
	if len(v) > 12 {
		return v[:12]
	}
	return v
}

// lineageWrap breaks text into lines of about 78 columns: the first starts with
// indent, the others with two more spaces.
func lineageWrap(text, indent string) string {
	var b strings.Builder
	line, empty := indent, true
	for _, word := range strings.Fields(text) {
		if !empty && len(line)+1+len(word) > 78 {
			b.WriteString(line + "\n")
			line, empty = indent+"  ", true
		}
		if !empty {
			line += " "
		}
		line, empty = line+word, false
	}
	b.WriteString(line)
	return b.String()
}
