package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	strata "github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/demo"
	"github.com/stratahq/strata/internal/storage/local"
)

// The lineage section (issue 5): strata compare and replay of a period of
// -lineage-records 1 KB orders records (the ingest section's generator),
// ingested by `strata ingest` into a database of their own, through the Go
// API in this process (svc.Compare, svc.Replay), each case -reps times:
//
//	(1) compare, everything agrees;
//	(2) compare with Layer 3 emptied (the records from the source archive);
//	(3) replay --apply after a transform change that alters every row
//	    (upper(status) instead of lower), Layer 2 reset before each run;
//	(4) replay --apply again: nothing to do;
//	(5) replay --apply into an emptied Layer 2 (disaster recovery).
//
// The records are ingested just before, so the period lies within the hour
// before each run: a replay that finds differences reads the period's
// records a second time, looking for keys with a later record (lineage's
// laterMargin); for an older period it reads the records ingested after
// it instead. The steps the lineage package logs are reported with their
// times, so that part can be told apart.
const (
	lineageDB    = "strata_bench_lineage"
	lineageSaved = "lineage_orders_saved" // Layer 2 as ingest left it, for resetting before (3)
)

// lineageResults are the section's data and runs.
type lineageResults struct {
	records, keys int64
	input         int64 // bytes of the JSON-lines file ingested
	ingestWall    time.Duration
	objects       int64 // source archive objects, and their bytes
	objectBytes   int64
	from, to      time.Time
	cases         []*lcase
	// The moved-keys cases' period, archive objects and keys moved.
	movedFrom, movedTo      time.Time
	movedObjects, movedKeys int64
}

// lcase is one measured case and its runs.
type lcase struct {
	id, name string
	written  bool // the rate of interest is Layer 2 rows written per second
	runs     []lrun
}

// lrun is one run of a case through the Go API.
type lrun struct {
	sample        // Rows = the period's records; MaxRSS = this process's peak RSS during the run
	Heap    int64 // peak Go heap (live and not yet collected objects), sampled
	RSS0    int64 // this process's RSS when the run started
	Written int64 // Layer 2 rows inserted + updated
	Marks   []lmark
	Rep     *strata.CompareReport
}

// lmark is a step the lineage package logged, and when (since the call).
type lmark struct {
	msg string
	at  time.Duration
}

// markLog is a slog.Handler that notes when each Info message of a run
// was logged (the lineage package logs its steps at Info) and prints
// warnings.
type markLog struct {
	mu    sync.Mutex
	t0    time.Time
	marks []lmark
	warn  func(string)
}

func (h *markLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *markLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Level >= slog.LevelWarn {
		var attrs []string
		r.Attrs(func(a slog.Attr) bool { attrs = append(attrs, a.String()); return true })
		h.warn(r.Message + " " + strings.Join(attrs, " "))
	}
	h.marks = append(h.marks, lmark{msg: r.Message, at: time.Since(h.t0)})
	return nil
}

func (h *markLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *markLog) WithGroup(string) slog.Handler      { return h }

func (h *markLog) start() {
	h.mu.Lock()
	h.t0, h.marks = time.Now(), nil
	h.mu.Unlock()
}

func (h *markLog) take() []lmark {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.marks
}

// lineageEnv is the section's database, files and services.
type lineageEnv struct {
	pool       *pgxpool.Pool
	dir        string // the file:// archive
	cfg, cfgUp string // configurations with transforms/orders.sql and with its upper(status) copy
	svc, svcUp *strata.Service
	log        *markLog
}

func (e *lineageEnv) close() {
	if e.svc != nil {
		e.svc.Close()
	}
	if e.svcUp != nil {
		e.svcUp.Close()
	}
	if e.pool != nil {
		e.pool.Close()
	}
}

// lineageRuns prepares the section's data and measures its cases.
func (b *bench) lineageRuns(ctx context.Context) (*lineageResults, error) {
	r := &lineageResults{records: int64(b.lineageRecords)}
	e, err := b.prepareLineage(ctx, r)
	if e != nil {
		defer e.close()
	}
	if err != nil {
		return nil, err
	}
	compare := func(svc *strata.Service) func() (*strata.CompareReport, error) {
		return func() (*strata.CompareReport, error) {
			return svc.Compare(ctx, strata.CompareRequest{Dataset: "orders", From: r.from, To: r.to})
		}
	}
	apply := func(svc *strata.Service) func() (*strata.CompareReport, error) {
		return func() (*strata.CompareReport, error) {
			return svc.Replay(ctx, strata.ReplayRequest{Dataset: "orders", From: r.from, To: r.to, Apply: true})
		}
	}
	sql := func(qs ...string) func() error {
		return func() error {
			for _, q := range qs {
				if _, err := e.pool.Exec(ctx, q); err != nil {
					return fmt.Errorf("%s: %w", q, err)
				}
			}
			return nil
		}
	}
	agree := func(rep *strata.CompareReport) error {
		if !rep.Agree || rep.Matched != r.keys {
			return fmt.Errorf("agree %t, matched %d: want every one of the %d keys matched", rep.Agree, rep.Matched, r.keys)
		}
		return nil
	}
	steps := []struct {
		c      *lcase
		before func() error // before each run, not measured
		run    func() (*strata.CompareReport, error)
		check  func(*strata.CompareReport) error
	}{
		{&lcase{id: "1", name: "compare, everything agrees"}, nil, compare(e.svc), agree},
		{&lcase{id: "2", name: "compare, Layer 3 emptied (source archive only)"}, nil, compare(e.svc), func(rep *strata.CompareReport) error {
			if rep.SourceRecords.Layer3 != 0 || rep.SourceRecords.Archive != r.records {
				return fmt.Errorf("records from Layer 3 %d, from the archive %d: want 0 and %d", rep.SourceRecords.Layer3, rep.SourceRecords.Archive, r.records)
			}
			return agree(rep)
		}},
		{&lcase{id: "3", name: "replay --apply, transform changed: every row updated", written: true},
			sql(`TRUNCATE orders`, `INSERT INTO orders SELECT * FROM `+lineageSaved, `VACUUM ANALYZE orders`, `CHECKPOINT`),
			apply(e.svcUp), func(rep *strata.CompareReport) error {
				if rep.Changed != r.keys || rep.Applied == nil || rep.Applied.Updated != r.keys || rep.Applied.Inserted != 0 {
					return fmt.Errorf("changed %d, applied %+v: want %d keys changed and updated", rep.Changed, rep.Applied, r.keys)
				}
				return nil
			}},
		{&lcase{id: "4", name: "replay --apply again: nothing to do", written: true}, nil, apply(e.svcUp), func(rep *strata.CompareReport) error {
			if rep.Applied == nil || rep.Applied.Updated+rep.Applied.Inserted != 0 {
				return fmt.Errorf("applied %+v: want nothing written", rep.Applied)
			}
			return agree(rep)
		}},
		{&lcase{id: "5", name: "replay --apply into an emptied Layer 2 (rebuild)", written: true},
			sql(`TRUNCATE orders`, `CHECKPOINT`), apply(e.svc), func(rep *strata.CompareReport) error {
				if rep.Missing != r.keys || rep.Applied == nil || rep.Applied.Inserted != r.keys || rep.Applied.Updated != 0 {
					return fmt.Errorf("missing %d, applied %+v: want %d keys missing and inserted", rep.Missing, rep.Applied, r.keys)
				}
				return nil
			}},
	}
	for _, st := range steps {
		if st.c.id == "2" {
			if err := b.timed("  (emptying Layer 3: TRUNCATE source_orders, not measured)", sql(`TRUNCATE source_orders`, `CHECKPOINT`)); err != nil {
				return nil, err
			}
		}
		if st.c.id == "3" {
			if err := b.timed("  (saving Layer 2 as ingest left it, not measured)", sql(`DROP TABLE IF EXISTS `+lineageSaved,
				`CREATE TABLE `+lineageSaved+` AS SELECT * FROM orders`)); err != nil {
				return nil, err
			}
		}
		r.cases = append(r.cases, st.c)
		for i := range b.reps {
			if st.before != nil {
				if err := st.before(); err != nil {
					return nil, err
				}
			}
			run, err := b.lineageOnce(e.log, st.run)
			if err == nil {
				err = st.check(run.Rep)
			}
			if err != nil {
				return nil, fmt.Errorf("lineage (%s) %s, run %d: %w", st.c.id, st.c.name, i+1, err)
			}
			st.c.runs = append(st.c.runs, run)
			b.step("lineage (%s) %s, run %d/%d: %s, %s records/s, %s Layer 2 rows written", st.c.id, st.c.name, i+1, b.reps,
				run.Wall.Round(time.Millisecond), thousands(rate(run.Rows, run.Wall)), thousands(float64(run.Written)))
		}
	}
	if !b.keep {
		if _, err := e.pool.Exec(ctx, `DROP TABLE `+lineageSaved); err != nil {
			return nil, err
		}
	}
	if b.movedDays > 0 {
		if err := b.movedRuns(ctx, r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

// lineageOnce runs f (a Compare or Replay) with the meters running.
func (b *bench) lineageOnce(log *markLog, f func() (*strata.CompareReport, error)) (lrun, error) {
	var r lrun
	debug.FreeOSMemory() // a GC, and the heap's free pages back to the OS: the RSS baseline is this process's live memory
	r.RSS0 = procStatus("VmRSS")
	resetPeakRSS()
	stopHeap := watchHeap()
	log.start()
	m := startMeter(b.pg.cl.Dir)
	rep, err := f()
	m.stop(&r.sample, -1)
	r.Heap = stopHeap()
	r.MaxRSS = procStatus("VmHWM")
	r.Marks, r.Rep = log.take(), rep
	if err != nil {
		return r, err
	}
	r.Rows = rep.SourceRecords.Archive + rep.SourceRecords.Layer3
	if rep.Applied != nil {
		r.Written = rep.Applied.Inserted + rep.Applied.Updated
	}
	return r, nil
}

// watchHeap samples the Go heap every 10 ms until the returned function
// is called, which returns the largest reading.
func watchHeap() (stop func() int64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() int64 { metrics.Read(s); return int64(s[0].Value.Uint64()) }
	var peak atomic.Int64
	peak.Store(read())
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				peak.Store(max(peak.Load(), read()))
			}
		}
	}()
	return func() int64 {
		close(done)
		<-finished
		return max(peak.Load(), read())
	}
}

// resetPeakRSS resets this process's VmHWM to its current RSS (Linux 4.0+;
// where that fails, the peak is the process's since it started).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// procStatus reads a kB field of /proc/self/status, in bytes.
func procStatus(field string) int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// prepareLineage creates the section's database, generates and ingests the
// records with `strata ingest`, and opens the services.
func (b *bench) prepareLineage(ctx context.Context, r *lineageResults) (*lineageEnv, error) {
	if err := b.freshDB(ctx, lineageDB); err != nil {
		return nil, err
	}
	e := &lineageEnv{dir: filepath.Join(b.state, "archive", "lineage"), log: &markLog{warn: func(s string) { b.step("warning: %s", s) }}}
	var err error
	if e.pool, err = pgxpool.New(ctx, b.pg.cl.URL(lineageDB)); err != nil {
		return e, err
	}
	ds := demo.Datasets[2]
	if err := demo.Create(ctx, e.pool, ds, 0); err != nil {
		return e, err
	}
	if err := demo.CreateSource(ctx, e.pool, ds); err != nil {
		return e, err
	}
	if err := local.RemoveArchive(e.dir); err != nil {
		return e, err
	}
	file := filepath.Join(b.state, "lineage-1k.jsonl")
	if r.input, err = writeRecords(file, b.lineageRecords); err != nil {
		return e, err
	}
	tr, err := filepath.Abs("transforms/orders.sql")
	if err != nil {
		return e, err
	}
	up, err := upperTransform(tr, filepath.Join(b.state, "lineage-orders-upper.sql"))
	if err != nil {
		return e, err
	}
	if e.cfg, err = b.writeOrdersConfig("strata-lineage.yaml", b.pg.cl.URL(lineageDB), e.dir, tr); err != nil {
		return e, err
	}
	if e.cfgUp, err = b.writeOrdersConfig("strata-lineage-upper.yaml", b.pg.cl.URL(lineageDB), e.dir, up); err != nil {
		return e, err
	}
	t0 := time.Now()
	err = b.timed(fmt.Sprintf("lineage data: strata ingest of %s 1 KB orders records (%s, not measured)",
		thousands(float64(b.lineageRecords)), mb(r.input)), func() error {
		logf, err := os.Create(filepath.Join(b.state, "lineage-ingest.log"))
		if err != nil {
			return err
		}
		defer logf.Close()
		cmd := exec.CommandContext(ctx, b.strata, "ingest", "--config", e.cfg, "--dataset", "orders", file)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s ingest (output in %s): %w", b.strata, logf.Name(), err)
		}
		return nil
	})
	if err != nil {
		return e, err
	}
	r.ingestWall = time.Since(t0)
	// The period: every record's ingestion time, to the second.
	err = e.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM source_orders), (SELECT count(*) FROM orders),
		date_trunc('second', min(ingested_at)), date_trunc('second', max(ingested_at)) + interval '1 second'
		FROM source_orders`).Scan(&r.records, &r.keys, &r.from, &r.to)
	if err != nil {
		return e, err
	}
	if r.records != int64(b.lineageRecords) {
		return e, fmt.Errorf("after strata ingest source_orders holds %d records, want %d", r.records, b.lineageRecords)
	}
	if err := e.pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(bytes), 0)::bigint FROM strata.objects WHERE dataset = 'orders' AND archive_type = 'source'`).Scan(&r.objects, &r.objectBytes); err != nil {
		return e, err
	}
	if err := b.timed("  (VACUUM ANALYZE and CHECKPOINT, not measured)", func() error {
		for _, q := range []string{`VACUUM ANALYZE orders`, `VACUUM ANALYZE source_orders`, `CHECKPOINT`} {
			if _, err := e.pool.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}); err != nil {
		return e, err
	}
	h := slog.New(e.log)
	if e.svc, err = strata.Open(ctx, strata.Options{ConfigFile: e.cfg, Logger: h}); err != nil {
		return e, err
	}
	e.svcUp, err = strata.Open(ctx, strata.Options{ConfigFile: e.cfgUp, Logger: h})
	return e, err
}

// freshDB drops (when it exists) and creates the database name.
func (b *bench) freshDB(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, b.pg.cl.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, q := range []string{`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`, `CREATE DATABASE ` + name} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// dropDB drops a section's database (cleanup).
func (b *bench) dropDB(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, b.pg.cl.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	return err
}

// upperTransform writes a copy of the orders transform that upper-cases
// status instead of lower-casing it, which changes every row.
func upperTransform(src, dst string) (string, error) {
	text, err := os.ReadFile(src)
	if err != nil {
		return "", err
	}
	const from, to = "lower(x.status)", "upper(x.status)"
	if n := strings.Count(string(text), from); n != 1 {
		return "", fmt.Errorf("%s: %q occurs %d times, want once (the lineage benchmark changes it to %q)", src, from, n, to)
	}
	return dst, os.WriteFile(dst, []byte(strings.Replace(string(text), from, to, 1)), 0o644)
}

// reportLineage prints the section's figures.
func (b *bench) reportLineage(r *lineageResults) {
	out := b.out
	fmt.Fprintf(out, "\nlineage (issue 5): compare and replay of the orders example through the Go API in this process (svc.Compare, svc.Replay)\n")
	fmt.Fprintf(out, "data:     %s 1 KB records (%s keys) ingested by strata ingest in %.1fs into %s source archive objects (%s);\n",
		thousands(float64(r.records)), thousands(float64(r.keys)), r.ingestWall.Seconds(), thousands(float64(r.objects)), mb(r.objectBytes))
	fmt.Fprintf(out, "          period %s to %s: every record, nothing ingested after it, all within the hour replay reads again for \"later\" keys;\n",
		r.from.UTC().Format(time.RFC3339), r.to.UTC().Format(time.RFC3339))
	fmt.Fprintf(out, "          Layer 2 rows live, nothing archived; (3) with a copy of transforms/orders.sql doing upper(status), Layer 2 reset before each run\n")
	fmt.Fprintf(out, "method:   fastest of %d runs [fastest-slowest wall s]; records/s = the period's raw records / wall s; written/s = Layer 2 rows inserted + updated / wall s;\n", b.reps)
	fmt.Fprintf(out, "          harness CPU s = this process (the Go API; one strata.Service per config, open across runs); peak Go heap sampled every 10 ms;\n")
	fmt.Fprintf(out, "          peak RSS = this process's VmHWM, reset before each run (its RSS at the start of the run in the notes below)\n\n")
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measurement\trecords/s\twritten/s\twall s\t[range]\tharness CPU s\tPG CPU s\tother CPU s\tpeak Go heap\tpeak RSS\t")
	for _, c := range r.cases {
		m, lo, hi := bestLineage(c.runs)
		written := "-"
		if c.written {
			written = thousands(rate(m.Written, m.Wall))
		}
		rss := "-"
		if m.MaxRSS > 0 {
			rss = mib(m.MaxRSS)
		}
		fmt.Fprintf(tw, "(%s) %s\t%s\t%s\t%.2f\t[%.2f-%.2f]\t%.2f\t%.2f\t%.2f\t%s\t%s\t\n", c.id, c.name,
			thousands(rate(m.Rows, m.Wall)), written, m.Wall.Seconds(), lo.Seconds(), hi.Seconds(),
			m.ClientCPU.Seconds(), m.PGCPU.Seconds(), m.OtherCPU.Seconds(), mib(m.Heap), rss)
	}
	tw.Flush()
	fmt.Fprintf(out, "\nsteps of the fastest runs (when the lineage package logged them, since the call):\n")
	for _, c := range r.cases {
		m, _, _ := bestLineage(c.runs)
		var s []string
		for _, k := range m.Marks {
			s = append(s, fmt.Sprintf("%s %.2fs", shortMark(k.msg), k.at.Seconds()))
		}
		s = append(s, fmt.Sprintf("returned %.2fs", m.Wall.Seconds()))
		fmt.Fprintf(out, "  (%s)  %s\n", c.id, strings.Join(s, ", "))
	}
	fmt.Fprintf(out, "\noutcomes of the fastest runs (checked in every run):\n")
	for _, c := range r.cases {
		m, _, _ := bestLineage(c.runs)
		p := m.Rep
		line := fmt.Sprintf("records: archive %s, Layer 3 %s; expected %s, matched %s, changed %s, missing %s, unexpected %s, later %s; RSS at start %s",
			thousands(float64(p.SourceRecords.Archive)), thousands(float64(p.SourceRecords.Layer3)), thousands(float64(p.AnalyticsRows.Expected)),
			thousands(float64(p.Matched)), thousands(float64(p.Changed)), thousands(float64(p.Missing)), thousands(float64(p.Unexpected)),
			thousands(float64(p.Later)), mib(m.RSS0))
		if a := p.Applied; a != nil {
			line += fmt.Sprintf("; applied: inserted %s, updated %s, skipped %s, lineage record %d", thousands(float64(a.Inserted)),
				thousands(float64(a.Updated)), thousands(float64(a.Skipped)), a.Lineage)
		}
		fmt.Fprintf(out, "  (%s)  %s\n", c.id, line)
	}
	b.reportMoved(r)
	fmt.Fprintf(out, "no target: issue 5 asks for these figures and sets none; issue 9: (1) within 10%% of the figure before the search existed\n")
}

// shortMark names a step the lineage package logs.
func shortMark(msg string) string {
	switch msg {
	case "loaded the period's records":
		return "records loaded"
	case "read the analytics rows of the period's keys":
		return "transformed, analytics rows read"
	case "read the records ingested after the period, for their keys":
		return "later records read"
	case "replay: nothing to apply":
		return "nothing to apply"
	case "replay applied":
		return "applied"
	}
	return msg
}

// bestLineage returns the fastest run, and the fastest and slowest wall
// times.
func bestLineage(runs []lrun) (lrun, time.Duration, time.Duration) {
	m, lo, hi := runs[0], runs[0].Wall, runs[0].Wall
	for _, r := range runs[1:] {
		if r.Wall < m.Wall {
			m = r
		}
		lo, hi = min(lo, r.Wall), max(hi, r.Wall)
	}
	return m, lo, hi
}
