// Command bench measures `strata archive` against PostgreSQL's own binary
// COPY of the same rows, on a throwaway local PostgreSQL it starts in
// .state/bench and stops at the end. `make bench` runs it through
// scripts/bench.sh:
//
//	go run ./internal/bench [-rows 5000000] [-reps 3] [-zstd] [-profile cpu.pprof]
//
// It generates a table of -rows rows in one UTC day 200 days old (once; the
// generated template is kept in .state/bench between runs), then measures,
// each -reps times with the fastest run reported (other work on a shared
// machine only slows runs down; the spread and the CPU time of other
// processes are printed too):
//
//   - the extraction ceiling: psql -c "COPY (SELECT ...) TO STDOUT (FORMAT
//     binary)" > /dev/null, after one untimed run that warms the cache;
//   - the archiver's read path alone in this process: pgx with binary raw
//     values, values discarded; then the same feeding parquetio.Writer;
//   - `strata archive` end to end (the real binary, file:// archive),
//     rebuilding the table from the template before each run (not timed),
//     with its peak RSS (wait4 rusage) and, from PostgreSQL's statement log,
//     how long its SELECT and DELETE took;
//   - the interleaved section (issue 15): -il-rows rows over 120 days, row
//     i on day i mod 120, the oldest 30 days archived by `strata archive`
//     once per -il-parallelism value, alternating with psql COPY (FORMAT
//     binary) of the same rows (interleaved.go);
//   - `strata ingest` of -ingest-records 1 KB raw JSON records of the orders
//     example (Layer 3 + source archive + transform + Layer 2), end to end;
//   - retrieval (issue 4): -retr-days days of -retr-day-rows sensor readings
//     archived by `strata archive`, read back through the Go API, the CLI
//     and, over the same Parquet files, DuckDB (scripts/duckdb/bench.mjs,
//     with @duckdb/node-api installed in -duckdb); and from a live table;
//   - the HTTP API under load: `strata serve` on loopback, -http-clients
//     concurrent clients in this process retrieving, then ingesting, then
//     both at once, for -http-duration each;
//   - lineage (issue 5): compare and replay --apply of a period of
//     -lineage-records 1 KB orders records ingested by `strata ingest`,
//     through the Go API in this process (svc.Compare, svc.Replay): when
//     everything agrees, with Layer 3 emptied, after a transform change
//     that alters every row, again with nothing to do, and rebuilding an
//     emptied Layer 2 (see lineage.go);
//   - csv (issue 15): layout (b), -csv-rows readings over 120 days with row
//     i on day i mod 120, the oldest 30 days archived by `strata archive`,
//     then every archived row, 3 columns, as CSV by `strata retrieve
//     --format csv` and by DuckDB's COPY ... (FORMAT csv) from the same
//     files, runs alternated (see csvout.go).
//
// It prints the figures and PASS/FAIL against the targets of issues 2, 3
// and 4 (issue 5 sets no target). -only runs some sections. With -profile
// it also runs archive.Archiver in this process under the CPU profiler (go
// tool pprof FILE).
package main

import (
	"github.com/stratahq/strata/internal/storage/local"

	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/stratahq/strata/internal/parquetio"
)

type options struct {
	rows    int64
	reps    int
	state   string
	strata  string
	zstd    bool
	profile string
	// ingestRecords is how many 1 KB records strata ingest takes (0: skip).
	ingestRecords int
	// only lists the sections to run (archive, ingest, retrieve, http,
	// lineage).
	only string
	// The retrieval benchmark's archive: days of dayRows readings.
	retrDays    int
	retrDayRows int64
	// duckdb is the folder @duckdb/node-api is installed in ("": not
	// measured, because of duckdbMissing); duckdbScript the runner.
	duckdb, duckdbMissing, duckdbScript string
	// keep leaves the tables and archives of the run in place.
	keep bool
	// retrProfile, when set, receives a CPU profile of query (b) through
	// the Go API, run once more after the measured runs.
	retrProfile string
	// HTTP load: concurrent clients and how long each load runs.
	httpClients  int
	httpDuration time.Duration
	// HTTP ingest loads (issue 10): clients and how long each load runs.
	ingestClients  int
	ingestDuration time.Duration
	// lineageRecords is how many 1 KB records the lineage section compares
	// and replays (0: skip).
	lineageRecords int
	// The lineage section's moved-keys cases (issue 9): records ingested,
	// days of history archived, rows per day (movedDays 0: skip).
	movedRecords, movedDays int
	movedDayRows            int64
	// The audit section (issue 14): a strata built with -tags
	// strata_noaudit, and how long each of its HTTP loads runs.
	strataNoAudit string
	auditDuration time.Duration
	// The interleaved section (issue 15): rows of the table, the
	// archive.parallelism values run side by side, an optional CPU profile.
	ilRows     int64
	ilParallel []int
	ilProfile  string
	// csvRows is the size of the csv section's layout (b) table (0: skip).
	csvRows int64
}

// sections are the parts of the benchmark, in the order they run.
var sections = []string{"archive", "interleaved", "ingest", "retrieve", "http", "lineage", "audit", "csv"}

// has reports whether section runs.
func (o options) has(section string) bool {
	return slices.Contains(strings.Split(o.only, ","), section)
}

func main() {
	var o options
	flag.Int64Var(&o.rows, "rows", 5_000_000, "rows in the archived day")
	flag.IntVar(&o.reps, "reps", 3, "runs of each measurement (the fastest is reported)")
	flag.StringVar(&o.state, "state", ".state/bench", "folder for the database, archives and logs")
	flag.StringVar(&o.strata, "strata", "bin/strata", "the strata binary to run")
	flag.BoolVar(&o.zstd, "zstd", true, "also run strata archive with zstd")
	flag.StringVar(&o.profile, "profile", "", "also archive in-process under the CPU profiler, writing the profile here")
	flag.IntVar(&o.ingestRecords, "ingest-records", 200_000, "1 KB records for the strata ingest measurement (0 skips it)")
	flag.StringVar(&o.only, "only", strings.Join(sections, ","), "sections to run, comma-separated")
	flag.IntVar(&o.retrDays, "retr-days", 30, "UTC days of readings in the retrieval benchmark's archive (at least 17)")
	flag.Int64Var(&o.retrDayRows, "retr-day-rows", 200_000, "readings per day in the retrieval benchmark's archive (0 skips retrieval and HTTP)")
	flag.StringVar(&o.duckdb, "duckdb", "", "folder with @duckdb/node-api installed (scripts/duckdb/install.sh); empty: DuckDB not measured")
	flag.StringVar(&o.duckdbMissing, "duckdb-missing", "no -duckdb folder given", "why DuckDB is not measured, when -duckdb is empty")
	flag.StringVar(&o.duckdbScript, "duckdb-script", "scripts/duckdb/bench.mjs", "the DuckDB runner")
	flag.BoolVar(&o.keep, "keep", false, "keep the tables and archives of the run (for inspection) instead of dropping them")
	flag.StringVar(&o.retrProfile, "retr-profile", "", "also retrieve query (b) in-process under the CPU profiler, writing the profile here")
	flag.IntVar(&o.httpClients, "http-clients", 4, "concurrent HTTP clients of the load test (0 skips it)")
	flag.DurationVar(&o.httpDuration, "http-duration", 15*time.Second, "how long each HTTP load runs")
	flag.IntVar(&o.ingestClients, "ingest-clients", 16, "concurrent clients of the HTTP ingest loads in the ingest section (0 skips them)")
	flag.DurationVar(&o.ingestDuration, "ingest-duration", 20*time.Second, "how long each HTTP ingest load runs")
	flag.IntVar(&o.lineageRecords, "lineage-records", 150_000, "1 KB records of the period strata compare and replay run over (0 skips the lineage section)")
	flag.IntVar(&o.movedRecords, "moved-records", 10_000, "lineage: 1 KB records of the period whose rows' time moves (issue 9)")
	flag.IntVar(&o.movedDays, "moved-days", 1000, "lineage: archived days of history the moved rows hide among (0 skips the issue 9 cases)")
	flag.Int64Var(&o.movedDayRows, "moved-day-rows", 200, "lineage: rows per history day")
	flag.StringVar(&o.strataNoAudit, "strata-noaudit", "", "audit: a strata binary built with -tags strata_noaudit (records nothing), to measure what the audit trail costs")
	flag.Int64Var(&o.csvRows, "csv-rows", 2_000_000, "csv: rows of layout (b), over 120 days with the oldest 30 archived, retrieved as CSV next to DuckDB (0 skips it)")
	flag.DurationVar(&o.auditDuration, "audit-duration", 10*time.Second, "audit: how long each HTTP load of each round runs")
	flag.Int64Var(&o.ilRows, "il-rows", 2_000_000, "interleaved: rows over 120 days, row i on day i mod 120 (the oldest 30 days archived)")
	ilParallel := flag.String("il-parallelism", "1,2", "interleaved: archive.parallelism values to run side by side, comma-separated")
	flag.StringVar(&o.ilProfile, "il-profile", "", "interleaved: also archive in-process under the CPU profiler, writing the profile here")
	flag.Parse()
	var err error
	if o.ilParallel, err = parseParallel(*ilParallel); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// bench is one benchmark run's state.
type bench struct {
	options
	out    io.Writer
	pg     *pgEnv
	day    time.Time
	schema *parquetio.Schema
	size   tableSize
	load0  string // load average when the benchmark started
	// audit is set while the audit section runs.
	audit *auditEnv
}

func run(ctx context.Context, o options, out io.Writer) (err error) {
	var abs error
	if o.state, abs = filepath.Abs(o.state); abs != nil {
		return abs
	}
	if o.strata, abs = filepath.Abs(o.strata); abs != nil {
		return abs
	}
	if o.strataNoAudit != "" {
		if o.strataNoAudit, abs = filepath.Abs(o.strataNoAudit); abs != nil {
			return abs
		}
	}
	if o.reps < 1 {
		return fmt.Errorf("-reps %d: run each measurement at least once", o.reps)
	}
	for _, s := range strings.Split(o.only, ",") {
		if !slices.Contains(sections, s) {
			return fmt.Errorf("-only %q: unknown section %q (use %s)", o.only, s, strings.Join(sections, ","))
		}
	}
	if o.retrDays < rLiveFirst+7 {
		return fmt.Errorf("-retr-days %d: query (a) reads days %d to %d, so at least %d days", o.retrDays, rLiveFirst, rLiveFirst+6, rLiveFirst+7)
	}
	b := &bench{options: o, out: out, load0: loadAvg()}
	b.step("starting a throwaway PostgreSQL in %s (fsync, synchronous_commit and full_page_writes off)",
		filepath.Join(o.state, "pgdata"))
	if b.pg, err = startPG(ctx, filepath.Join(o.state, "pgdata")); err != nil {
		return err
	}
	defer func() {
		b.step("stopping PostgreSQL")
		if serr := b.pg.close(ctx); serr != nil && err == nil {
			err = serr
		}
	}()
	return b.runSections(ctx)
}

// runSections runs the sections -only names, reports, and cleans up.
func (b *bench) runSections(ctx context.Context) (err error) {
	o := b.options
	res := &results{}
	if o.has("archive") {
		if err := b.prepare(ctx); err != nil {
			return err
		}
		if res, err = b.measure(ctx); err != nil {
			return err
		}
	}
	var il *ilResults
	if o.has("interleaved") && o.ilRows > 0 {
		if il, err = b.interleaved(ctx); err != nil {
			return err
		}
	}
	if o.has("ingest") && o.ingestRecords > 0 {
		if res.ingest, err = b.ingestRuns(ctx); err != nil {
			return err
		}
	}
	var loads []ingestLoad
	if o.has("ingest") && o.ingestClients > 0 {
		if loads, err = b.ingestLoads(ctx); err != nil {
			return err
		}
	}
	var retr *retrData
	var rres []*rresult
	var duck *duckRun
	var load *httpResults
	if (o.has("retrieve") || o.has("http") || o.has("audit")) && o.retrDayRows > 0 {
		if retr, err = b.prepareRetrieval(ctx); err != nil {
			return err
		}
	}
	if o.has("retrieve") && retr != nil {
		if rres, duck, err = b.measureRetrieval(ctx, retr); err != nil {
			return err
		}
	}
	if o.has("http") && o.httpClients > 0 && retr != nil {
		if load, err = b.httpLoad(ctx, retr); err != nil {
			return err
		}
	}
	if o.has("lineage") && o.lineageRecords > 0 {
		if res.lineage, err = b.lineageRuns(ctx); err != nil {
			return err
		}
	}
	var aud *auditResults
	if o.has("audit") && retr != nil && o.httpClients > 0 {
		if aud, err = b.auditAB(ctx, retr); err != nil {
			return err
		}
	}
	var csv *csvResults
	if o.has("csv") && o.csvRows > 0 {
		if csv, err = b.csvRuns(ctx); err != nil {
			return err
		}
	}
	duck2 := b.duckReadAll(ctx)
	b.reportHeader(ctx)
	if len(res.copy) > 0 {
		b.report(res)
	}
	if il != nil {
		b.reportInterleaved(il)
	}
	b.reportIngest(res)
	b.reportIngestLoads(loads)
	if rres != nil {
		b.reportRetrieval(retr, rres, duck)
	}
	if load != nil {
		b.reportHTTP(load)
	}
	if res.lineage != nil {
		b.reportLineage(res.lineage)
	}
	if aud != nil {
		b.reportAudit(aud)
	}
	if csv != nil {
		b.reportCSV(csv)
	}
	b.reportDuckCheck(duck2)
	return b.cleanup(ctx)
}

// cleanup drops what the next run rebuilds anyway (the archived table and
// the archives, a few GB at the default size), keeping the template and the
// logs.
func (b *bench) cleanup(ctx context.Context) error {
	if b.keep {
		return nil
	}
	if _, err := b.pg.pool.Exec(ctx, `DROP TABLE IF EXISTS `+table+`, `+ilTable+`, `+rTable+`, `+rLive); err != nil {
		return err
	}
	if err := b.dropDB(ctx, lineageDB); err != nil {
		return err
	}
	if err := b.dropDB(ctx, csvDB); err != nil {
		return err
	}
	return local.RemoveArchive(filepath.Join(b.state, "archive"))
}

func (b *bench) step(format string, args ...any) {
	fmt.Fprintf(b.out, "==> "+format+"\n", args...)
}

// timed runs f and prints how long it took after the step's message.
func (b *bench) timed(msg string, f func() error) error {
	t0 := time.Now()
	err := f()
	b.step("%s: %s", msg, time.Since(t0).Round(100*time.Millisecond))
	return err
}

// prepare generates the template (when needed), builds the table and loads
// its schema and size.
func (b *bench) prepare(ctx context.Context) error {
	want := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -200)
	var generated bool
	err := b.timed(fmt.Sprintf("template %s of %d rows in one UTC day (generated once, not measured)", template, b.rows), func() error {
		var err error
		b.day, generated, err = b.pg.ensureTemplate(ctx, b.rows, want)
		return err
	})
	if err != nil {
		return err
	}
	if !generated {
		b.step("(reused the template from an earlier run: day %s)", b.day.Format(time.DateOnly))
	}
	if err := b.timed("building table "+table+" from the template (not measured)", func() error { return b.pg.restore(ctx) }); err != nil {
		return err
	}
	cols, err := parquetio.LoadColumns(ctx, b.pg.pool, table)
	if err != nil {
		return err
	}
	if b.schema, err = parquetio.NewSchema(cols); err != nil {
		return err
	}
	b.size, err = b.pg.size(ctx, b.day)
	return err
}

// results are the samples of every measurement.
type results struct {
	copyStream            int64 // bytes of the binary COPY stream
	copy, read, encode    []sample
	snappy, zstd, profile []sample
	ingest                []sample
	lineage               *lineageResults
}

func (b *bench) measure(ctx context.Context) (*results, error) {
	r := &results{}
	var cw counter
	if err := b.timed("warming the cache: one untimed COPY", func() error {
		_, err := b.copyOnce(ctx, &cw)
		return err
	}); err != nil {
		return nil, err
	}
	r.copyStream = cw.n
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	if r.copy, err = b.repeat("psql COPY (FORMAT binary) > /dev/null", func() (sample, error) { return b.copyOnce(ctx, devnull) }); err != nil {
		return nil, err
	}
	if r.read, err = b.repeat("pgx SELECT, values discarded", func() (sample, error) { return b.pgxOnce(ctx, "") }); err != nil {
		return nil, err
	}
	if r.encode, err = b.repeat("pgx SELECT -> parquetio.Writer (snappy)", func() (sample, error) { return b.pgxOnce(ctx, "snappy") }); err != nil {
		return nil, err
	}
	if r.snappy, err = b.archiveRuns(ctx, "snappy"); err != nil {
		return nil, err
	}
	if b.zstd {
		if r.zstd, err = b.archiveRuns(ctx, "zstd"); err != nil {
			return nil, err
		}
	}
	if b.profile != "" {
		if err := b.rebuild(ctx); err != nil {
			return nil, err
		}
		s, err := b.profileArchive(ctx, "snappy", b.profile)
		if err != nil {
			return nil, err
		}
		b.step("in-process archive under the CPU profiler: %s (go tool pprof %s)", s.Wall.Round(time.Millisecond), b.profile)
		r.profile = []sample{s}
	}
	return r, nil
}

// repeat runs f b.reps times, printing each run.
func (b *bench) repeat(name string, f func() (sample, error)) ([]sample, error) {
	var out []sample
	for i := range b.reps {
		s, err := f()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		b.step("%s, run %d/%d: %s, %s rows/s", name, i+1, b.reps, s.Wall.Round(time.Millisecond), thousands(rate(s.Rows, s.Wall)))
		out = append(out, s)
	}
	return out, nil
}

// archiveRuns runs strata archive b.reps times, rebuilding the table before
// each run that does not find it whole.
func (b *bench) archiveRuns(ctx context.Context, codec string) ([]sample, error) {
	i := 0
	return b.repeat("strata archive ("+codec+")", func() (sample, error) {
		i++
		if err := b.rebuild(ctx); err != nil {
			return sample{}, err
		}
		return b.archiveOnce(ctx, codec, i)
	})
}

// rebuild restores the table unless it still holds every row.
func (b *bench) rebuild(ctx context.Context) error {
	var n int64
	if err := b.pg.pool.QueryRow(ctx, `SELECT count(*) FROM `+table).Scan(&n); err != nil {
		return err
	}
	if n == b.size.Rows {
		return nil
	}
	return b.timed("  (rebuilding "+table+" from the template, not measured)", func() error { return b.pg.restore(ctx) })
}
