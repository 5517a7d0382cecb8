package main

import (
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// targetVsDuckDB is issue 4's target: strata's retrieval takes at most this
// many times DuckDB's time on queries (a) and (b).
const targetVsDuckDB = 2.0

// The variants the target compares, like for like: strata's jsonl through
// the Go API with DuckDB writing the same rows as JSON lines; strata's rows
// as Go values with DuckDB's chunks of rows handed to node.
const (
	strataJSONL  = "strata Go API -> jsonl"
	strataValues = "strata Go API, Rows.Values"
	duckJSON     = "DuckDB COPY -> /dev/null (FORMAT json)"
	duckChunks   = "DuckDB stream, chunks counted"
)

// pairs are the comparisons the target is checked on.
var pairs = []struct{ strata, duck, label string }{
	{strataJSONL, duckJSON, "JSON lines"},
	{strataValues, duckChunks, "rows in memory"},
}

func (r *rresult) variant(name string) *rvariant {
	for _, v := range r.variants {
		if v.name == name {
			return v
		}
	}
	return nil
}

func bestRun(runs []rrun) (fastest rrun, lo, hi time.Duration) {
	c := slices.Clone(runs)
	slices.SortFunc(c, func(a, b rrun) int { return int(a.Wall - b.Wall) })
	return c[0], c[0].Wall, c[len(c)-1].Wall
}

// reportRetrieval prints the retrieval figures and the targets of issue 4.
func (b *bench) reportRetrieval(d *retrData, res []*rresult, dr *duckRun) {
	out := b.out
	a := d.archived
	fmt.Fprintf(out, "\nretrieval (issue 4): table %s, %d UTC days from %s x %s rows = %s rows, archived by strata archive (snappy) into %d objects, %s (%.1f B/row) in %.2fs\n",
		rTable, d.days, d.day0.Format(time.DateOnly), thousands(float64(d.perDay)), thousands(float64(a.Rows)), d.days, mb(a.Bytes),
		float64(a.Bytes)/float64(max(a.Rows, 1)), a.Wall.Seconds())
	duck := "DuckDB " + dr.version
	if dr.missing != "" {
		duck = "DuckDB " + dr.missing
	}
	fmt.Fprintf(out, "method:   fastest of %d runs each, in one process per side on the same 2 CPUs, OS page cache warm for both; %s (@duckdb/node-api, %d threads)\n", b.reps, duck, dr.threads)
	fmt.Fprintf(out, "          strata copies each object to a spool file and checks its size and SHA-256 against the catalog before reading it (jsonl and\n")
	fmt.Fprintf(out, "          Go values: up to min(cores, 4) objects at once, output in order; pages decoded ahead on goroutines per column); DuckDB reads the same Parquet files\n")
	fmt.Fprintf(out, "          in place, unverified, on its thread pool. first = time to the first row (see each variant's notes)\n")
	for _, r := range res {
		fmt.Fprintf(out, "\n%s: %d objects\n", r.q.title, r.objects)
		refJSON, refChunks := r.variant(duckJSON), r.variant(duckChunks)
		var notes []string
		tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "variant\trows\trows/s\twall s\t[range]\tfirst row ms\tvs DuckDB json\tvs DuckDB chunks\tclient CPU s\tPG CPU s\tother CPU s\tpeak RSS\t")
		for _, v := range r.variants {
			if len(v.runs) == 0 {
				fmt.Fprintf(tw, "%s\tnot measured\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t\n", v.name)
				notes = append(notes, v.name+": "+v.note)
				continue
			}
			m, lo, hi := bestRun(v.runs)
			first, cpu, pg, other, rss := "-", "-", "-", "-", "-"
			if m.First > 0 {
				first = fmt.Sprintf("%.1f", float64(m.First)/float64(time.Millisecond))
			}
			vs := func(ref *rvariant) string {
				if ref == nil || len(ref.runs) == 0 {
					return "-"
				}
				rm, _, _ := bestRun(ref.runs)
				return fmt.Sprintf("%.2fx", m.Wall.Seconds()/rm.Wall.Seconds())
			}
			if m.ClientCPU > 0 || m.PGCPU > 0 {
				cpu, pg, other = fmt.Sprintf("%.2f", m.ClientCPU.Seconds()), fmt.Sprintf("%.2f", m.PGCPU.Seconds()), fmt.Sprintf("%.2f", m.OtherCPU.Seconds())
			}
			if m.MaxRSS > 0 {
				rss = mib(m.MaxRSS)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t[%.3f-%.3f]\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", v.name, thousands(float64(m.Rows)),
				thousands(rate(m.Rows, m.Wall)), m.Wall.Seconds(), lo.Seconds(), hi.Seconds(), first, vs(refJSON), vs(refChunks), cpu, pg, other, rss)
		}
		tw.Flush()
		for _, n := range notes {
			fmt.Fprintf(out, "  %s\n", n)
		}
		if bad := rowMismatch(r); bad != "" {
			fmt.Fprintf(out, "  ROW COUNTS DIFFER: %s\n", bad)
		}
	}
	fmt.Fprintf(out, "\nvariants:\n")
	seen := map[string]bool{}
	for _, r := range res {
		for _, v := range r.variants {
			if !seen[v.name] {
				seen[v.name] = true
				fmt.Fprintf(out, "  %-40s %s\n", v.name, v.does)
			}
		}
	}
	b.reportRetrievalTargets(res, dr)
}

// rowMismatch describes variants whose runs returned different row counts.
func rowMismatch(r *rresult) string {
	var want int64 = -1
	var diffs []string
	for _, v := range r.variants {
		for _, s := range v.runs {
			if want < 0 {
				want = s.Rows
			}
			if s.Rows != want {
				diffs = append(diffs, fmt.Sprintf("%s %d (first variant %d)", v.name, s.Rows, want))
				break
			}
		}
	}
	return strings.Join(diffs, "; ")
}

func (b *bench) reportRetrievalTargets(res []*rresult, dr *duckRun) {
	fmt.Fprintf(b.out, "\ntargets (issue 4): strata within %.0fx of DuckDB's time for the same rows, like for like (fastest runs):\n", targetVsDuckDB)
	fmt.Fprintf(b.out, "  JSON lines:     %s  vs  %s\n  rows in memory: %s  vs  %s\n", strataJSONL, duckJSON, strataValues, duckChunks)
	tw := tabwriter.NewWriter(b.out, 2, 4, 2, ' ', 0)
	for _, r := range res {
		if r.q.live {
			continue
		}
		for _, p := range pairs {
			s, d := r.variant(p.strata), r.variant(p.duck)
			if s == nil || len(s.runs) == 0 || d == nil || len(d.runs) == 0 {
				fmt.Fprintf(tw, "  (%s)\t%s\tDuckDB %s\t\tNOT MEASURED\n", r.q.id, p.label, dr.missing)
				continue
			}
			sm, _, _ := bestRun(s.runs)
			dm, _, _ := bestRun(d.runs)
			ratio := sm.Wall.Seconds() / dm.Wall.Seconds()
			fmt.Fprintf(tw, "  (%s)\t%s\tstrata %.3fs, DuckDB %.3fs\t%.2fx\t%s\n", r.q.id, p.label, sm.Wall.Seconds(), dm.Wall.Seconds(),
				ratio, pass(ratio <= targetVsDuckDB && rowMismatch(r) == ""))
		}
	}
	tw.Flush()
}
