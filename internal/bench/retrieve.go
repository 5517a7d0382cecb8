package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	strata "github.com/stratahq/strata"
)

// rquery is one retrieval of the comparison.
type rquery struct {
	id, title string
	dataset   string // readings (archived) or readings_live (live rows only)
	from, to  time.Time
	columns   []string // nil: all
	where     string
	live      bool
}

func (q rquery) request() strata.RetrieveRequest {
	return strata.RetrieveRequest{Table: q.dataset, DataType: "analytics", Start: q.from, End: q.to,
		Columns: q.columns, Where: q.where, IncludeLive: q.live}
}

// queries are the three retrievals over the generated archive.
func (d *retrData) queries() []rquery {
	aFrom, aTo := d.span(rLiveFirst, rLiveFirst+6)
	aFrom, aTo = aFrom.Add(6*time.Hour), aTo.Add(-6*time.Hour+time.Microsecond) // cut into the first and last day
	all0, all1 := d.span(0, d.days-1)
	cols := []string{"ts", "device_id", "value"}
	return []rquery{
		{id: "a", title: fmt.Sprintf("(a) 7 days, 3 columns, time range cutting into the first and last day (%s .. %s)",
			aFrom.Format(time.RFC3339), aTo.Format(time.RFC3339)), dataset: "readings", from: aFrom, to: aTo, columns: cols},
		{id: "b", title: fmt.Sprintf("(b) all %d days, all columns, where value >= 970", d.days),
			dataset: "readings", from: all0, to: all1, where: "value >= 970"},
		{id: "c", title: "(c) the range of (a) from live PostgreSQL (" + rLive + ", no archive objects in range)",
			dataset: rLive, from: aFrom, to: aTo, columns: cols, live: true},
	}
}

// rrun is one timed retrieval.
type rrun struct {
	sample
	First time.Duration // until the first row (or first byte) reached the consumer
}

// rvariant is one way of running a query, with its runs.
type rvariant struct {
	name, does string
	runs       []rrun
	note       string // "not measured: ..." when there are no runs
}

// rresult holds a query's variants, in report order.
type rresult struct {
	q        rquery
	variants []*rvariant
	objects  int
	files    []string // the Parquet files the catalog names for the range
}

// measureRetrieval runs each query -reps times through the Go API (jsonl
// to io.Discard, and Rows.Values), the CLI for (a), pgx for (c), and
// DuckDB over the same Parquet files.
func (b *bench) measureRetrieval(ctx context.Context, d *retrData) ([]*rresult, *duckRun, error) {
	svc, err := strata.Open(ctx, strata.Options{ConfigFile: d.cfg})
	if err != nil {
		return nil, nil, err
	}
	defer svc.Close()
	var out []*rresult
	for _, q := range d.queries() {
		r := &rresult{q: q}
		out = append(out, r)
		objs, err := svc.ListCatalog(ctx, strata.CatalogFilter{Dataset: q.dataset, Type: "analytics", From: q.from, To: q.to})
		if err != nil {
			return nil, nil, err
		}
		for _, o := range objs {
			r.files = append(r.files, filepath.Join(d.dir, filepath.FromSlash(o.Key)))
		}
		r.objects = len(objs)
		api := func(mode string) func() (rrun, error) {
			return func() (rrun, error) { return b.apiOnce(ctx, svc, q, mode) }
		}
		if err := b.variant(r, strataJSONL, "RetrieveArchivedData, Rows.Write(io.Discard, \"jsonl\"); first = first 64 KiB of JSON written", api("jsonl")); err != nil {
			return nil, nil, err
		}
		if err := b.variant(r, strataValues, "RetrieveArchivedData, Next + Values (Go values), discarded; first = first Next", api("values")); err != nil {
			return nil, nil, err
		}
		if q.id == "a" {
			if err := b.variant(r, "strata retrieve (CLI) -> pipe", "bin/strata retrieve --format jsonl, process start included; first = first byte on stdout", func() (rrun, error) { return b.cliOnce(ctx, d, q) }); err != nil {
				return nil, nil, err
			}
		}
		if q.live {
			if err := b.variant(r, "pgx SELECT, values discarded", "the live query alone: SELECT ts, device_id, value ... WHERE ts BETWEEN, binary; first = first row", func() (rrun, error) { return b.pgxLiveOnce(ctx, q) }); err != nil {
				return nil, nil, err
			}
		}
	}
	if b.retrProfile != "" {
		if err := b.profileRetrieval(ctx, svc, out[1].q); err != nil {
			return nil, nil, err
		}
	}
	dr := b.duckdbRuns(ctx, out)
	return out, dr, nil
}

// variant runs f -reps times as a named variant of r.
func (b *bench) variant(r *rresult, name, does string, f func() (rrun, error)) error {
	v := &rvariant{name: name, does: does}
	r.variants = append(r.variants, v)
	for i := range b.reps {
		s, err := f()
		if err != nil {
			return fmt.Errorf("retrieval (%s) %s: %w", r.q.id, name, err)
		}
		b.step("(%s) %s, run %d/%d: %s, %s rows, %s rows/s, first row %s", r.q.id, name, i+1, b.reps,
			s.Wall.Round(time.Millisecond), thousands(float64(s.Rows)), thousands(rate(s.Rows, s.Wall)), s.First.Round(100*time.Microsecond))
		v.runs = append(v.runs, s)
	}
	return nil
}

// profileRetrieval runs q (jsonl to io.Discard) under the CPU profiler.
func (b *bench) profileRetrieval(ctx context.Context, svc *strata.Service, q rquery) error {
	f, err := os.Create(b.retrProfile)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	s, err := b.apiOnce(ctx, svc, q, "jsonl")
	pprof.StopCPUProfile()
	b.step("(%s) under the CPU profiler: %s (go tool pprof %s)", q.id, s.Wall.Round(time.Millisecond), b.retrProfile)
	return err
}

// firstWriter discards what it is given and notes when the first byte came.
type firstWriter struct {
	t0    time.Time
	first time.Duration
	n     int64
}

func (w *firstWriter) Write(p []byte) (int, error) {
	if w.n == 0 && len(p) > 0 {
		w.first = time.Since(w.t0)
	}
	w.n += int64(len(p))
	return len(p), nil
}

// apiOnce retrieves q in this process: mode jsonl writes JSON lines to
// io.Discard (through firstWriter), mode values takes every row's Go values.
func (b *bench) apiOnce(ctx context.Context, svc *strata.Service, q rquery, mode string) (rrun, error) {
	m := startMeter(b.pg.cl.Dir)
	t0 := time.Now()
	rows, err := svc.RetrieveArchivedData(ctx, q.request())
	if err != nil {
		return rrun{}, err
	}
	defer rows.Close()
	var r rrun
	switch mode {
	case "jsonl":
		w := &firstWriter{t0: t0}
		r.Rows, err = rows.Write(w, "jsonl")
		r.First, r.Bytes = w.first, w.n
	default:
		for rows.Next() {
			if r.Rows == 0 {
				r.First = time.Since(t0)
			}
			_ = rows.Values()
			r.Rows++
		}
		err = rows.Err()
	}
	m.stop(&r.sample, -1)
	return r, err
}

// cliOnce runs `strata retrieve` for q with its standard output on a pipe
// that this process reads and counts.
func (b *bench) cliOnce(ctx context.Context, d *retrData, q rquery) (rrun, error) {
	args := []string{"retrieve", "--config", d.cfg, "--dataset", q.dataset, "--from", q.from.Format(time.RFC3339Nano),
		"--to", q.to.Format(time.RFC3339Nano), "--format", "jsonl"}
	if len(q.columns) > 0 {
		args = append(args, "--columns", strings.Join(q.columns, ","))
	}
	if q.where != "" {
		args = append(args, "--where", q.where)
	}
	cmd := exec.CommandContext(ctx, b.strata, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return rrun{}, err
	}
	m := startMeter(b.pg.cl.Dir)
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return rrun{}, err
	}
	var r rrun
	buf := make([]byte, 256<<10)
	for {
		n, rerr := out.Read(buf)
		if n > 0 && r.Bytes == 0 {
			r.First = time.Since(t0)
		}
		r.Bytes += int64(n)
		r.Rows += int64(bytes.Count(buf[:n], []byte{'\n'}))
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return r, rerr
		}
	}
	if err := cmd.Wait(); err != nil {
		return r, fmt.Errorf("%s: %w: %s", strings.Join(cmd.Args, " "), err, stderr.String())
	}
	cpu, rss := rusage(cmd.ProcessState)
	m.stop(&r.sample, cpu)
	r.MaxRSS = rss
	return r, nil
}

// pgxLiveOnce reads q's rows from the live table with pgx, as the live
// part of a retrieval queries them (binary values), and discards them.
func (b *bench) pgxLiveOnce(ctx context.Context, q rquery) (rrun, error) {
	sel := make([]string, len(q.columns))
	for i, c := range q.columns {
		sel[i] = pgx.Identifier{c}.Sanitize()
	}
	sql := `SELECT ` + strings.Join(sel, ", ") + ` FROM ` + rLive + ` WHERE ` + rTimeCol + ` >= $1 AND ` + rTimeCol + ` <= $2`
	m := startMeter(b.pg.cl.Dir)
	t0 := time.Now()
	rows, err := b.pg.pool.Query(ctx, sql, pgx.QueryResultFormats{pgx.BinaryFormatCode}, q.from, q.to)
	if err != nil {
		return rrun{}, err
	}
	var r rrun
	for rows.Next() {
		if r.Rows == 0 {
			r.First = time.Since(t0)
		}
		for _, v := range rows.RawValues() {
			r.Bytes += int64(len(v))
		}
		r.Rows++
	}
	rows.Close()
	m.stop(&r.sample, -1)
	return r, rows.Err()
}
