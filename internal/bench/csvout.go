package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	strata "github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/storage/local"
)

// The csv section (issue 15, point 5): layout (b), readings whose days are
// interleaved in the heap (row i on day i mod csvDays), the oldest
// csvArchived days archived by `strata archive`; then every archived row, 3
// columns, written as CSV by `strata retrieve --format csv` and by DuckDB
// (COPY (SELECT ...) TO 'file' (FORMAT csv, HEADER)) from the same files,
// runs alternated.
const (
	csvDB       = "strata_bench_csv"
	csvTable    = "readings_b"
	csvDays     = 120
	csvArchived = 30
)

// csvColumns are the columns retrieved: a time, an integer and a double.
var csvColumns = []string{"ts", "device_id", "value"}

// csvResults are the section's data and runs.
type csvResults struct {
	rows, perDay int64 // archived rows; rows per day
	objects      int
	bytes        int64 // the archived objects
	archived     sample
	strata, api  []sample
	duck         []sample
	duckVersion  string
	duckMissing  string
	outBytes     int64 // of strata's CSV
	duckOutBytes int64
	colBytes     string // bytes per row of each column, from the footers
}

// csvRuns builds layout (b), archives it and measures the CSV retrievals.
func (b *bench) csvRuns(ctx context.Context) (*csvResults, error) {
	r := &csvResults{perDay: (b.csvRows + csvDays - 1) / csvDays}
	if err := b.freshDB(ctx, csvDB); err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, b.pg.cl.URL(csvDB))
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	// strata's cutoff is the start of the UTC day retention (90d) ago: the
	// first csvArchived days lie before it.
	cutoff := time.Now().UTC().AddDate(0, 0, -90).Truncate(24 * time.Hour)
	day0 := cutoff.AddDate(0, 0, -csvArchived)
	err = b.timed(fmt.Sprintf("layout (b): %s rows over %d days, row i on day i mod %d, in %s (not measured)",
		thousands(float64(b.csvRows)), csvDays, csvDays, csvTable), func() error { return buildLayoutB(ctx, pool, b.csvRows, r.perDay, day0) })
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(b.state, "archive", "csv")
	if err := local.RemoveArchive(dir); err != nil {
		return nil, err
	}
	cfg, err := b.writeConfigFile("strata-csv.yaml", configHeader(b.pg.cl.URL(csvDB), dir)+fmt.Sprintf(`  - name: %s
    analytics:
      table: %s
      key: [id]
      time_column: ts
      retention: 90d
    archive:
      compression: snappy
      retention: 7y
`, csvTable, csvTable))
	if err != nil {
		return nil, err
	}
	if err := b.timed("strata archive of layout (b)'s oldest 30 days (not measured here)", func() error {
		r.archived, err = b.archiveCSV(ctx, cfg)
		return err
	}); err != nil {
		return nil, err
	}
	if err := pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(rows), 0), coalesce(sum(bytes), 0) FROM strata.objects WHERE dataset = $1`, csvTable).Scan(&r.objects, &r.rows, &r.bytes); err != nil {
		return nil, err
	}
	if r.objects != csvArchived {
		return nil, fmt.Errorf("strata archive of %s committed %d objects, want %d (one per archived day)", csvTable, r.objects, csvArchived)
	}
	r.colBytes = columnBytesAll(dir)
	return r, b.measureCSV(ctx, r, cfg, dir, day0, cutoff.Add(-time.Microsecond))
}

// buildLayoutB creates csvTable with perDay rows on each of csvDays days
// from day0, row g on day (g-1) % csvDays (in heap order), with a primary
// key and an index on ts.
func buildLayoutB(ctx context.Context, pool *pgxpool.Pool, rows, perDay int64, day0 time.Time) error {
	fill := strings.Replace(strings.Replace(readingsFill, `INSERT INTO `+rTemplate, `INSERT INTO `+csvTable, 1),
		`$4::timestamptz + ((g - 1) / $3) * interval '1 day'
                     + (((g - 1) % $3) * 86399.0 / $3 + random()) * interval '1 second'`,
		`$4::timestamptz + ((g - 1) % `+fmt.Sprint(csvDays)+`) * interval '1 day'
                     + (((g - 1) / `+fmt.Sprint(csvDays)+`) * 86399.0 / $3 + random()) * interval '1 second'`, 1)
	if !strings.Contains(fill, "% "+fmt.Sprint(csvDays)) {
		return fmt.Errorf("layout (b): the readings generator changed; update buildLayoutB")
	}
	for _, q := range []string{`CREATE TABLE ` + csvTable + ` ` + readingsDDL} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	if _, err := pool.Exec(ctx, fill, int64(1), rows, perDay, day0); err != nil {
		return fmt.Errorf("generate layout (b): %w", err)
	}
	for _, q := range []string{`ALTER TABLE ` + csvTable + ` ADD PRIMARY KEY (id)`, `CREATE INDEX ON ` + csvTable + ` (ts)`,
		`VACUUM ANALYZE ` + csvTable, `CHECKPOINT`} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// archiveCSV runs `strata archive` on the section's config.
func (b *bench) archiveCSV(ctx context.Context, cfg string) (sample, error) {
	logf, err := os.Create(filepath.Join(b.state, "archive-csv.log"))
	if err != nil {
		return sample{}, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, b.strata, "archive", "--config", cfg, "--dataset", csvTable)
	cmd.Stdout, cmd.Stderr = logf, logf
	quiesce()
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("%s archive (output in %s): %w", b.strata, logf.Name(), err)
	}
	s := sample{Wall: time.Since(t0)}
	_, s.MaxRSS = rusage(cmd.ProcessState)
	return s, nil
}

// measureCSV alternates strata retrieve --format csv (the CLI, to a file),
// the Go API (Rows.Write "csv" to a file) and DuckDB, -reps times.
func (b *bench) measureCSV(ctx context.Context, r *csvResults, cfg, dir string, from, to time.Time) error {
	svc, err := strata.Open(ctx, strata.Options{ConfigFile: cfg})
	if err != nil {
		return err
	}
	defer svc.Close()
	objs, err := svc.ListCatalog(ctx, strata.CatalogFilter{Dataset: csvTable, Type: "analytics", From: from, To: to})
	if err != nil {
		return err
	}
	files := make([]string, len(objs))
	for i, o := range objs {
		files[i] = filepath.Join(dir, filepath.FromSlash(o.Key))
	}
	lit := func(t time.Time) string {
		return "TIMESTAMPTZ '" + t.UTC().Format("2006-01-02 15:04:05.999999") + "+00'"
	}
	sql := fmt.Sprintf("SELECT %s FROM read_parquet([%s]) WHERE ts BETWEEN %s AND %s", strings.Join(csvColumns, ", "),
		strings.Join(quoted(files), ", "), lit(from), lit(to))
	out, duckOut := filepath.Join(b.state, "retrieve-b.csv"), filepath.Join(b.state, "retrieve-b-duckdb.csv")
	defer os.Remove(out)
	defer os.Remove(duckOut)
	for rep := 1; rep <= b.reps; rep++ {
		s, err := b.csvCLIOnce(ctx, cfg, out, from, to)
		if err != nil {
			return err
		}
		r.strata = append(r.strata, s)
		b.step("(b) csv, strata retrieve, run %d/%d: %s, %s rows", rep, b.reps, s.Wall.Round(time.Millisecond), thousands(float64(s.Rows)))
		if s, err = csvAPIOnce(ctx, svc, out, from, to); err != nil {
			return err
		}
		r.api = append(r.api, s)
		b.step("(b) csv, Go API Rows.Write, run %d/%d: %s, %s rows", rep, b.reps, s.Wall.Round(time.Millisecond), thousands(float64(s.Rows)))
		if s.Rows != r.rows {
			return fmt.Errorf("strata's CSV holds %d rows, the catalog %d", s.Rows, r.rows)
		}
		r.outBytes = fileSize(out)
		if r.duckMissing == "" {
			ds, version, err := b.duckCSVOnce(ctx, sql, duckOut)
			if err != nil {
				r.duckMissing = "not measured: " + err.Error()
				b.step("DuckDB %s", r.duckMissing)
				continue
			}
			r.duck, r.duckVersion = append(r.duck, ds), version
			b.step("(b) csv, DuckDB COPY, run %d/%d: %s, %s rows", rep, b.reps, ds.Wall.Round(time.Millisecond), thousands(float64(ds.Rows)))
			r.duckOutBytes = fileSize(duckOut)
		}
	}
	return nil
}

// csvCLIOnce runs strata retrieve --format csv into out and counts its
// rows.
func (b *bench) csvCLIOnce(ctx context.Context, cfg, out string, from, to time.Time) (sample, error) {
	f, err := os.Create(out)
	if err != nil {
		return sample{}, err
	}
	defer f.Close()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, b.strata, "retrieve", "--config", cfg, "--dataset", csvTable, "--type", "analytics",
		"--from", from.Format(time.RFC3339Nano), "--to", to.Format(time.RFC3339Nano), "--columns", strings.Join(csvColumns, ","), "--format", "csv")
	cmd.Stdout, cmd.Stderr = f, &stderr
	quiesce()
	t0 := time.Now()
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("strata retrieve --format csv: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	s := sample{Wall: time.Since(t0)}
	s.ClientCPU, s.MaxRSS = rusage(cmd.ProcessState)
	lines, err := countLines(out)
	s.Rows = lines - 1 // the header
	return s, err
}

// csvAPIOnce writes the same rows as CSV through the Go API.
func csvAPIOnce(ctx context.Context, svc *strata.Service, out string, from, to time.Time) (sample, error) {
	f, err := os.Create(out)
	if err != nil {
		return sample{}, err
	}
	defer f.Close()
	t0 := time.Now()
	rows, err := svc.RetrieveArchivedData(ctx, strata.RetrieveRequest{Table: csvTable, DataType: "analytics", Start: from, End: to, Columns: csvColumns})
	if err != nil {
		return sample{}, err
	}
	n, err := rows.Write(f, "csv")
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return sample{Wall: time.Since(t0), Rows: n}, err
}

// duckCSVOnce runs COPY (sql) TO out (FORMAT csv, HEADER) in a new DuckDB
// instance (scripts/duckdb/bench.mjs, mode csv).
func (b *bench) duckCSVOnce(ctx context.Context, sql, out string) (sample, string, error) {
	res, err := b.runDuckJob(ctx, duckJob{Threads: 2, Reps: 1, Queries: []duckQuery{{Name: "csv", SQL: sql, Modes: []string{"csv"}, Out: out}}})
	if err != nil {
		return sample{}, "", err
	}
	if len(res.Runs) != 1 {
		return sample{}, "", fmt.Errorf("node %s reported %d runs, want 1", b.duckdbScript, len(res.Runs))
	}
	return sample{Wall: ms(res.Runs[0].MS), Rows: res.Runs[0].Rows}, res.Version, nil
}

func countLines(path string) (int64, error) {
	b, err := os.ReadFile(path)
	return int64(bytes.Count(b, []byte{'\n'})), err
}

// reportCSV prints the section's figures.
func (b *bench) reportCSV(r *csvResults) {
	w := b.out
	fmt.Fprintf(w, "\nretrieval as CSV (issue 15, point 5): layout (b), %s rows of %s over %d days, row i on day i mod %d (days interleaved in the heap);\n",
		thousands(float64(b.csvRows)), csvTable, csvDays, csvDays)
	fmt.Fprintf(w, "  strata archive moved the oldest %d days: %s rows, %d objects, %s (%.1f B/row) in %.2fs, peak RSS %.1f MiB\n",
		csvArchived, thousands(float64(r.rows)), r.objects, mb(r.bytes), float64(r.bytes)/float64(max(r.rows, 1)), r.archived.Wall.Seconds(), float64(r.archived.MaxRSS)/(1<<20))
	if r.colBytes != "" {
		fmt.Fprintf(w, "  bytes per row by column: %s\n", r.colBytes)
	}
	fmt.Fprintf(w, "  every archived row, columns %s, as CSV with a header to a file; fastest of %d, runs alternated [fastest-slowest]:\n", strings.Join(csvColumns, ","), b.reps)
	line := func(name string, ss []sample, extra string) time.Duration {
		if len(ss) == 0 {
			return 0
		}
		walls := make([]time.Duration, len(ss))
		for i, s := range ss {
			walls[i] = s.Wall
		}
		lo, hi := slices.Min(walls), slices.Max(walls)
		fmt.Fprintf(w, "    %-58s %7.3fs [%.3f-%.3f]  %s rows/s%s\n", name, lo.Seconds(), lo.Seconds(), hi.Seconds(), thousands(rate(ss[0].Rows, lo)), extra)
		return lo
	}
	cli := line("strata retrieve --format csv > file (process start included)", r.strata, fmt.Sprintf(", %s, peak RSS %.1f MiB", mb(r.outBytes), float64(slices.MaxFunc(r.strata, func(a, b sample) int { return int(a.MaxRSS - b.MaxRSS) }).MaxRSS)/(1<<20)))
	api := line("Go API: RetrieveArchivedData + Rows.Write(file, \"csv\")", r.api, "")
	if r.duckMissing != "" || len(r.duck) == 0 {
		fmt.Fprintf(w, "    DuckDB: %s\n", r.duckMissing)
		return
	}
	duck := line("DuckDB "+r.duckVersion+" COPY (SELECT ...) TO file (FORMAT csv, HEADER)", r.duck, ", "+mb(r.duckOutBytes)+", 2 threads, instance created before the clock starts")
	verdict := "PASS"
	if cli > duck {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "  target: strata retrieve --format csv within 1.0x of DuckDB: %.2fx (Go API %.2fx)  %s\n", cli.Seconds()/duck.Seconds(), api.Seconds()/duck.Seconds(), verdict)
}
