package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage/local"
)

// The interleaved section (issue 15): a table whose days are interleaved in
// the heap, as a table that takes upserts becomes. Row i lies on day
// i mod ilDays of ilDays days starting ilOldest days ago, in id order
// within each day; a retention of ilRetention archives the oldest
// ilArchived days. Each rep runs COPY of the same rows, then `strata
// archive` once per -il-parallelism value, the table rebuilt before each
// archive run (not timed), so the runs alternate on the same machine load.
const (
	ilTable     = "events_il"
	ilTemplate  = "bench_il_template"
	ilDays      = 120
	ilOldest    = 180
	ilArchived  = 30
	ilRetention = (ilOldest - ilArchived) * 24 * time.Hour
)

// ilFillSQL is fillSQL with the interleaved days.
var ilFillSQL = strings.NewReplacer(
	"INSERT INTO "+template, "INSERT INTO "+ilTemplate,
	"$4::timestamptz + ((g - 1)", "$4::timestamptz + (g % "+strconv.Itoa(ilDays)+") * interval '1 day' + ((g - 1)",
).Replace(fillSQL)

// ilResults are the samples of the interleaved section.
type ilResults struct {
	rows, tableRows int64
	total, heap     int64 // pg_total_relation_size and pg_relation_size of the table
	cutoff          time.Time
	copy            []sample
	encode          []sample         // pgx SELECT -> a writer per day, all open (ilEncodeOnce)
	archive         map[int][]sample // by archive.parallelism
	profile         *sample
}

// interleaved runs the section.
func (b *bench) interleaved(ctx context.Context) (*ilResults, error) {
	first := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -ilOldest)
	r := &ilResults{cutoff: first.AddDate(0, 0, ilArchived), archive: map[int][]sample{}}
	if err := b.timed(fmt.Sprintf("interleaved template %s: %d rows over %d days (generated once, not measured)", ilTemplate, b.ilRows, ilDays),
		func() error { return b.ensureILTemplate(ctx, first) }); err != nil {
		return nil, err
	}
	if err := b.restoreIL(ctx); err != nil {
		return nil, err
	}
	cols, err := parquetio.LoadColumns(ctx, b.pg.pool, ilTable)
	if err != nil {
		return nil, err
	}
	if b.schema, err = parquetio.NewSchema(cols); err != nil {
		return nil, err
	}
	if err := b.pg.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE `+timeCol+` < $1),
		pg_total_relation_size('`+ilTable+`'), pg_relation_size('`+ilTable+`') FROM `+ilTable, r.cutoff).
		Scan(&r.tableRows, &r.rows, &r.total, &r.heap); err != nil {
		return nil, err
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	copySQL := `COPY (SELECT ` + b.schema.SelectList() + ` FROM ` + ilTable + ` WHERE ` + timeCol + ` < '` +
		r.cutoff.Format(time.RFC3339) + `') TO STDOUT (FORMAT binary)`
	if _, err := b.psqlCopy(ctx, copySQL, devnull, r.rows); err != nil { // warms the cache
		return nil, err
	}
	for i := range b.reps {
		if i > 0 { // the last archive run emptied the days
			if err := b.restoreIL(ctx); err != nil {
				return nil, err
			}
		}
		s, err := b.psqlCopy(ctx, copySQL, devnull, r.rows)
		if err != nil {
			return nil, err
		}
		b.step("interleaved: psql COPY binary, run %d/%d: %s", i+1, b.reps, s.Wall.Round(time.Millisecond))
		r.copy = append(r.copy, s)
		if s, err = b.ilEncodeOnce(ctx, r); err != nil {
			return nil, err
		}
		b.step("interleaved: pgx SELECT -> a parquetio writer per day, run %d/%d: %s", i+1, b.reps, s.Wall.Round(time.Millisecond))
		r.encode = append(r.encode, s)
		for _, p := range b.ilParallel {
			if err := b.restoreIL(ctx); err != nil {
				return nil, err
			}
			s, err := b.ilArchiveOnce(ctx, r, p)
			if err != nil {
				return nil, err
			}
			b.step("interleaved: strata archive, parallelism %d, run %d/%d: %s, peak RSS %s", p, i+1, b.reps,
				s.Wall.Round(time.Millisecond), mib(s.MaxRSS))
			r.archive[p] = append(r.archive[p], s)
		}
	}
	if b.ilProfile != "" {
		if err := b.restoreIL(ctx); err != nil {
			return nil, err
		}
		s, err := b.ilProfileOnce(ctx, r)
		if err != nil {
			return nil, err
		}
		r.profile = &s
		b.step("interleaved: in-process archive under the CPU profiler: %s (go tool pprof %s)", s.Wall.Round(time.Millisecond), b.ilProfile)
	}
	return r, nil
}

func (b *bench) ensureILTemplate(ctx context.Context, first time.Time) error {
	comment := fmt.Sprintf("%s %d %s", genVersion, b.ilRows, first.Format(time.DateOnly))
	var have *string
	if err := b.pg.pool.QueryRow(ctx, `SELECT obj_description(to_regclass($1), 'pg_class')`, ilTemplate).Scan(&have); err != nil {
		return err
	}
	if have != nil && *have == comment {
		return nil
	}
	for _, q := range []string{`DROP TABLE IF EXISTS ` + ilTemplate, `CREATE TABLE ` + ilTemplate + ` ` + columnsDDL} {
		if _, err := b.pg.pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	if _, err := b.pg.pool.Exec(ctx, ilFillSQL, 1, b.ilRows, b.ilRows, first); err != nil {
		return fmt.Errorf("generate interleaved rows: %w", err)
	}
	for _, q := range []string{`COMMENT ON TABLE ` + ilTemplate + ` IS '` + comment + `'`, `VACUUM ANALYZE ` + ilTemplate} {
		if _, err := b.pg.pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// restoreIL rebuilds the table as restore does the one-day table: the
// template's physical order (days interleaved), a primary key, an index on
// the time column, VACUUM ANALYZE, CHECKPOINT.
func (b *bench) restoreIL(ctx context.Context) error {
	if err := b.pg.freshCatalog(ctx); err != nil {
		return err
	}
	for _, q := range []string{
		`DROP TABLE IF EXISTS ` + ilTable,
		`CREATE TABLE ` + ilTable + ` ` + columnsDDL,
		`INSERT INTO ` + ilTable + ` SELECT * FROM ` + ilTemplate + ` ORDER BY id`,
		`ALTER TABLE ` + ilTable + ` ADD PRIMARY KEY (id)`,
		`CREATE INDEX ON ` + ilTable + ` (` + timeCol + `)`,
		`VACUUM ANALYZE ` + ilTable,
		`CHECKPOINT`,
	} {
		if _, err := b.pg.pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("restore %s: %s: %w", ilTable, q, err)
		}
	}
	return nil
}

// ilArchiveOnce runs `strata archive` of the interleaved table with
// archive.parallelism p and checks that exactly the rows before the cutoff
// left the table.
func (b *bench) ilArchiveOnce(ctx context.Context, r *ilResults, p int) (sample, error) {
	name := fmt.Sprintf("il-p%d", p)
	dir := filepath.Join(b.state, "archive", name)
	if err := local.RemoveArchive(dir); err != nil {
		return sample{}, err
	}
	cfg, err := b.writeConfigFile("strata-"+name+".yaml", configHeader(b.pg.cl.URL(dbName), dir)+fmt.Sprintf(`  - name: events_il
    analytics:
      table: %s
      key: [id]
      time_column: %s
      retention: %dd
    archive:
      compression: snappy
      retention: 7y
      parallelism: %d
`, ilTable, timeCol, ilOldest-ilArchived, p))
	if err != nil {
		return sample{}, err
	}
	s, err := b.runArchive(ctx, name, cfg, "events_il", dir, r.rows)
	if err != nil {
		return s, err
	}
	return s, b.checkILArchived(ctx, r)
}

func (b *bench) checkILArchived(ctx context.Context, r *ilResults) error {
	var left, old int64
	if err := b.pg.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE `+timeCol+` < $1) FROM `+ilTable, r.cutoff).
		Scan(&left, &old); err != nil {
		return err
	}
	if left != r.tableRows-r.rows || old != 0 {
		return fmt.Errorf("after strata archive %s holds %d rows (%d before the cutoff), want %d (0)", ilTable, left, old, r.tableRows-r.rows)
	}
	return nil
}

// ilEncodeOnce is the encoding's share of the archive, in this process:
// the rows the archive moves, read with pgx in one plain scan as strata
// reads them, each written to its day's parquetio.Writer (snappy, all
// the days' writers open at once, bytes counted and dropped): no spill, no
// DELETE, no catalog, no upload, and memory not bounded. It is the floor
// of what the archive can cost on this machine with this Parquet writer.
func (b *bench) ilEncodeOnce(ctx context.Context, r *ilResults) (sample, error) {
	tx, err := b.scanTx(ctx)
	if err != nil {
		return sample{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	ti := b.schema.Index(timeCol)
	var out counter
	writers := map[int64]*parquetio.Writer{}
	m := startMeter(b.pg.cl.Dir)
	n, err := eachRaw(ctx, tx, `SELECT `+b.schema.SelectList()+` FROM `+ilTable+` WHERE `+timeCol+` < $1`,
		[]any{pgx.QueryResultFormats(b.schema.ResultFormats()), r.cutoff}, func(raw [][]byte) error {
			day := int64(binary.BigEndian.Uint64(raw[ti])) / (86_400 * 1_000_000) // days since 2000-01-01, times after it
			w := writers[day]
			if w == nil {
				var err error
				if w, err = parquetio.NewWriter(&out, b.schema, parquetio.WriterOptions{Compression: "snappy", TimeColumn: timeCol, KeyColumns: []string{"id"}}); err != nil {
					return err
				}
				writers[day] = w
			}
			return w.WriteRaw(raw)
		})
	if err != nil {
		return sample{}, err
	}
	for _, w := range writers {
		if _, err := w.Close(); err != nil {
			return sample{}, err
		}
	}
	days := len(writers)
	s := sample{Rows: n}
	m.stop(&s, -1)
	s.Bytes = out.n
	clear(writers) // hundreds of MiB, given back by the next startMeter
	if days != ilArchived || n != r.rows {
		return s, fmt.Errorf("pgx SELECT of the archived days: %d rows in %d days, want %d in %d", n, days, r.rows, ilArchived)
	}
	return s, nil
}

// ilProfileOnce archives in this process under the CPU profiler, with the
// default parallelism.
func (b *bench) ilProfileOnce(ctx context.Context, r *ilResults) (sample, error) {
	spec := archive.AnalyticsSpec{Dataset: "events_il", Table: ilTable, TimeColumn: timeCol, Key: []string{"id"},
		Retention: ilRetention, ArchiveRetention: 7 * 365 * 24 * time.Hour, Compression: "snappy"}
	s, err := b.profileRun(ctx, spec, "il-profile", b.ilProfile)
	if err != nil {
		return s, err
	}
	return s, b.checkILArchived(ctx, r)
}

// reportInterleaved prints the section's figures.
func (b *bench) reportInterleaved(r *ilResults) {
	fmt.Fprintf(b.out, "\narchive of interleaved days (issue 15):\n")
	fmt.Fprintf(b.out, "table:    %s, %s rows over %d UTC days, row i on day i mod %d (each day's rows spread over the whole heap); heap %s, pg_total_relation_size %s;\n",
		ilTable, thousands(float64(r.tableRows)), ilDays, ilDays, mb(r.heap), mb(r.total))
	fmt.Fprintf(b.out, "          retention %dd archives the oldest %d days: %s rows (before %s)\n",
		ilOldest-ilArchived, ilArchived, thousands(float64(r.rows)), r.cutoff.Format(time.DateOnly))
	fmt.Fprintf(b.out, "method:   fastest of %d runs; each run COPY, the encoding alone in process, then strata archive once per parallelism, alternating; %d CPUs\n\n", b.reps, runtime.NumCPU())
	copyBest, _, _ := best(r.copy)
	ceiling := rate(copyBest.Rows, copyBest.Wall)
	tw := tabwriter.NewWriter(b.out, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measurement\trows/s\tvs COPY\twall s\t[range]\tclient CPU s\tPG CPU s\tother CPU s\tpeak RSS\tout bytes\t")
	row := func(name string, s []sample) {
		m, lo, hi := best(s)
		rs := rate(m.Rows, m.Wall)
		bytes := "-"
		if m.Bytes > 0 {
			bytes = mb(m.Bytes)
		}
		rss := "-"
		if m.MaxRSS > 0 {
			rss = mib(m.MaxRSS)
		}
		fmt.Fprintf(tw, "%s\t%s\t%.2fx\t%.2f\t[%.2f-%.2f]\t%.2f\t%.2f\t%.2f\t%s\t%s\t\n", name, thousands(rs), rs/ceiling,
			m.Wall.Seconds(), lo.Seconds(), hi.Seconds(), m.ClientCPU.Seconds(), m.PGCPU.Seconds(), m.OtherCPU.Seconds(), rss, bytes)
	}
	row("psql COPY binary > /dev/null (ceiling)", r.copy)
	row("pgx SELECT -> a writer per day (no spill, delete, catalog)", r.encode)
	for _, p := range b.ilParallel {
		row(fmt.Sprintf("strata archive, snappy, parallelism %d", p), r.archive[p])
	}
	if r.profile != nil {
		row("in-process archive under pprof", []sample{*r.profile})
	}
	tw.Flush()
	fmt.Fprintf(b.out, "\nphases (durations PostgreSQL logged for its statements):\n")
	for _, p := range b.ilParallel {
		m, _, _ := best(r.archive[p])
		ph := m.Phases
		fmt.Fprintf(b.out, "  parallelism %d: total %.2fs = find days %.2fs + SELECT while routing rows %.2fs + DELETE %.2fs + COMMIT %.2fs + other SQL %.2fs + rest %.2fs\n",
			p, m.Wall.Seconds(), ph.CountDays.Seconds(), ph.Select.Seconds(), ph.Delete.Seconds(), ph.Commit.Seconds(), ph.Other.Seconds(),
			(m.Wall - ph.CountDays - ph.Select - ph.Delete - ph.Commit - ph.Other).Seconds())
	}
	fmt.Fprintf(b.out, "\ntargets (issue 15; strata archive, snappy, best parallelism):\n")
	var bestRatio float64
	var peak int64
	for _, p := range b.ilParallel {
		m, _, _ := best(r.archive[p])
		bestRatio = max(bestRatio, rate(m.Rows, m.Wall)/ceiling)
		for _, s := range r.archive[p] {
			peak = max(peak, s.MaxRSS)
		}
	}
	tw = tabwriter.NewWriter(b.out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  throughput\tend to end >= 0.8x the COPY of the same rows\t%.2fx\t%s\n", bestRatio, pass(bestRatio >= 0.8))
	fmt.Fprintf(tw, "  memory\tpeak RSS <= 256 MiB (largest of every run)\t%s\t%s\n", mib(peak), pass(peak <= targetMaxRSS))
	tw.Flush()
}

// parseParallel reads -il-parallelism: a comma-separated list of archive.parallelism values.
func parseParallel(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 64 {
			return nil, fmt.Errorf("-il-parallelism %q: want numbers from 1 to 64, comma-separated", s)
		}
		out = append(out, n)
	}
	return out, nil
}
