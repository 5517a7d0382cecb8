package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// duckRun is what the DuckDB runner reported, or why it did not run.
type duckRun struct {
	version string
	missing string // "not measured: ..." reason; empty when it ran
	threads int
}

// duckJob is the input of scripts/duckdb/bench.mjs.
type duckJob struct {
	Modules string      `json:"modules"`
	Threads int         `json:"threads"`
	Reps    int         `json:"reps"`
	Queries []duckQuery `json:"queries"`
}

type duckQuery struct {
	Name  string   `json:"name"`
	SQL   string   `json:"sql"`
	Modes []string `json:"modes"`
	Out   string   `json:"out,omitempty"` // the csv mode's file
}

type duckResult struct {
	Version string `json:"version"`
	Runs    []struct {
		Name    string   `json:"name"`
		Mode    string   `json:"mode"`
		Rows    int64    `json:"rows"`
		MS      float64  `json:"ms"`
		FirstMS *float64 `json:"first_ms"`
		Values  []string `json:"values"` // mode values: the first row, as text
		Error   string   `json:"error"`  // the query failed (mode values and csv)
	} `json:"runs"`
}

// duckModes are the runner's modes, with the variant names they report as.
var duckModes = []struct{ mode, name, does string }{
	{"json", "DuckDB COPY -> /dev/null (FORMAT json)", "COPY (query) TO '/dev/null' (FORMAT json): every row rendered as a JSON line; no first-row time"},
	{"chunks", "DuckDB stream, chunks counted", "conn.stream(query), fetchChunk until done (2048-row vectors into node, values not converted); first = first chunk"},
}

// duckdbRuns runs the archived queries in DuckDB over the files the
// catalog names for their range, adding a variant per mode to each result.
// Whatever fails, it only marks the DuckDB figures as not measured.
func (b *bench) duckdbRuns(ctx context.Context, res []*rresult) *duckRun {
	dr := &duckRun{threads: 2}
	var job duckJob
	var target []*rresult
	for _, r := range res {
		if r.q.live || len(r.files) == 0 {
			continue
		}
		job.Queries = append(job.Queries, duckQuery{Name: r.q.id, SQL: duckSQL(r), Modes: []string{"json", "chunks"}})
		target = append(target, r)
	}
	fail := func(format string, args ...any) *duckRun {
		dr.missing = "not measured: " + fmt.Sprintf(format, args...)
		b.step("DuckDB %s", dr.missing)
		for _, r := range target {
			for _, m := range duckModes {
				r.variants = append(r.variants, &rvariant{name: m.name, does: m.does, note: dr.missing})
			}
		}
		return dr
	}
	job.Threads, job.Reps = dr.threads, b.reps
	t0 := time.Now()
	out, err := b.runDuckJob(ctx, job)
	if err != nil {
		return fail("%v", err)
	}
	dr.version = out.Version
	b.step("DuckDB %s, %d threads, %d runs in %s (node start-up and instance creation included)", out.Version, dr.threads, len(out.Runs), time.Since(t0).Round(100*time.Millisecond))
	for _, r := range target {
		for _, m := range duckModes {
			v := &rvariant{name: m.name, does: m.does}
			for _, run := range out.Runs {
				if run.Name != r.q.id || run.Mode != m.mode {
					continue
				}
				s := rrun{sample: sample{Wall: ms(run.MS), Rows: run.Rows}}
				if run.FirstMS != nil {
					s.First = ms(*run.FirstMS)
				}
				first := "-"
				if run.FirstMS != nil {
					first = s.First.Round(100 * time.Microsecond).String()
				}
				b.step("(%s) %s, run %d/%d: %s, %s rows, %s rows/s, first row %s", r.q.id, m.name, len(v.runs)+1, b.reps,
					s.Wall.Round(time.Millisecond), thousands(float64(s.Rows)), thousands(rate(s.Rows, s.Wall)), first)
				v.runs = append(v.runs, s)
			}
			r.variants = append(r.variants, v)
		}
	}
	return dr
}

// runDuckJob runs scripts/duckdb/bench.mjs on job (its Modules set here)
// and returns what it reported.
func (b *bench) runDuckJob(ctx context.Context, job duckJob) (*duckResult, error) {
	if b.duckdb == "" {
		return nil, errors.New(b.duckdbMissing)
	}
	mods, err := filepath.Abs(b.duckdb)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(mods, "node_modules", "@duckdb", "node-api", "package.json")); err != nil {
		return nil, fmt.Errorf("@duckdb/node-api is not installed in %s (scripts/duckdb/install.sh)", mods)
	}
	job.Modules = mods
	in, _ := json.Marshal(job)
	cmd := exec.CommandContext(ctx, "node", b.duckdbScript)
	cmd.Stdin = bytes.NewReader(in)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("node %s: %v: %s", b.duckdbScript, err, strings.TrimSpace(stderr.String()))
	}
	var out duckResult
	if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
		return nil, fmt.Errorf("node %s printed %q: %v", b.duckdbScript, stdout.String(), err)
	}
	return &out, nil
}

func ms(f float64) time.Duration { return time.Duration(f * float64(time.Millisecond)) }

// duckSQL is r's query over the Parquet files: the same columns (all: *),
// the same inclusive time range and the same filter.
func duckSQL(r *rresult) string {
	files := make([]string, len(r.files))
	for i, f := range r.files {
		files[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
	}
	cols := "*"
	if len(r.q.columns) > 0 {
		cols = strings.Join(r.q.columns, ", ")
	}
	lit := func(t time.Time) string {
		return "TIMESTAMPTZ '" + t.UTC().Format("2006-01-02 15:04:05.999999") + "+00'"
	}
	sql := fmt.Sprintf("SELECT %s FROM read_parquet([%s]) WHERE %s BETWEEN %s AND %s", cols, strings.Join(files, ", "),
		rTimeCol, lit(r.q.from), lit(r.q.to))
	if r.q.where != "" {
		sql += " AND " + r.q.where // the benchmark's filters mean the same in DuckDB's SQL
	}
	return sql
}
