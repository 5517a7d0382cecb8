package main

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/local"
)

// sample is one timed run.
type sample struct {
	Wall      time.Duration
	ClientCPU time.Duration // user+system of psql, this process or strata
	PGCPU     time.Duration // user+system of the whole PostgreSQL cluster
	OtherCPU  time.Duration // CPU time of every other process on the machine
	Rows      int64
	Bytes     int64 // bytes produced: the COPY stream, or Parquet
	MaxRSS    int64 // peak resident set of the strata process, bytes
	Phases    phases
	Upload    time.Duration // Store.Put, in-process runs only
}

// timedStore measures the time spent in Put.
type timedStore struct {
	storage.Backend
	put time.Duration
}

func (t *timedStore) Put(ctx context.Context, key storage.Key, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	t0 := time.Now()
	info, err := t.Backend.Put(ctx, key, r, opts)
	t.put += time.Since(t0)
	return info, err
}

// dayQuery is the archiver's own SELECT of the day (the select list of
// parquetio.Schema, every column in binary format), with the bounds inlined
// for psql.
func (b *bench) dayQuery() string {
	lit := func(t time.Time) string { return "'" + t.Format(time.RFC3339) + "'" }
	return `SELECT ` + b.schema.SelectList() + ` FROM ` + table + ` WHERE ` + timeCol + ` >= ` + lit(b.day) +
		` AND ` + timeCol + ` < ` + lit(b.day.AddDate(0, 0, 1))
}

// copyOnce runs psql -c "COPY (day query) TO STDOUT (FORMAT binary)" over
// TCP, as strata connects, with its output going to w (/dev/null when
// timed).
func (b *bench) copyOnce(ctx context.Context, w io.Writer) (sample, error) {
	return b.psqlCopy(ctx, `COPY (`+b.dayQuery()+`) TO STDOUT (FORMAT binary)`, w, b.size.DayRows)
}

// psqlCopy runs psql -c sql (a COPY ... TO STDOUT) over TCP, its output
// going to w, and measures it; the sample counts rows.
func (b *bench) psqlCopy(ctx context.Context, sql string, w io.Writer, rows int64) (sample, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(b.pg.cl.BinDir, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(b.pg.cl.Port), "-U", "postgres", "-d", dbName, "-c", sql)
	cmd.Stdout = w
	var stderr strings.Builder
	cmd.Stderr = &stderr
	m := startMeter(b.pg.cl.Dir)
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("psql COPY: %w: %s", err, stderr.String())
	}
	s := sample{Rows: rows}
	cpu, rss := rusage(cmd.ProcessState)
	m.stop(&s, cpu)
	s.MaxRSS = rss
	return s, nil
}

func rusage(ps *os.ProcessState) (cpu time.Duration, maxRSS int64) {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Maxrss * 1024 // Linux: KiB
}

// pgxOnce reads the day as the archiver does (one REPEATABLE READ
// transaction, pgx, binary raw values) and, when codec is not empty, writes
// Parquet with parquetio into a byte counter; then rolls back.
func (b *bench) pgxOnce(ctx context.Context, codec string) (sample, error) {
	tx, err := b.scanTx(ctx)
	if err != nil {
		return sample{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var out counter
	var w *parquetio.Writer
	if codec != "" {
		if w, err = parquetio.NewWriter(&out, b.schema, parquetio.WriterOptions{Compression: codec, TimeColumn: timeCol}); err != nil {
			return sample{}, err
		}
	}
	m := startMeter(b.pg.cl.Dir)
	n, err := eachRaw(ctx, tx, `SELECT `+b.schema.SelectList()+` FROM `+table+` WHERE `+timeCol+` >= $1 AND `+timeCol+` < $2`,
		[]any{pgx.QueryResultFormats(b.schema.ResultFormats()), b.day, b.day.AddDate(0, 0, 1)}, func(raw [][]byte) error {
			if w == nil {
				out.n += int64(len(raw[0]))
				return nil
			}
			return w.WriteRaw(raw)
		})
	if err != nil {
		return sample{}, err
	}
	if w != nil {
		if _, err := w.Close(); err != nil {
			return sample{}, err
		}
	}
	s := sample{Rows: n}
	m.stop(&s, -1)
	if w != nil {
		s.Bytes = out.n
	}
	return s, nil
}

// scanTx begins a REPEATABLE READ transaction that reads a table from its
// first block, as the archiver's scan does; the caller rolls it back.
func (b *bench) scanTx(ctx context.Context) (pgx.Tx, error) {
	tx, err := b.pg.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `SET LOCAL synchronize_seqscans = off`); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, err
	}
	return tx, nil
}

// eachRaw runs a query in tx and hands each row's raw values to f,
// returning the number of rows.
func eachRaw(ctx context.Context, tx pgx.Tx, sql string, args []any, f func([][]byte) error) (int64, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		if err := f(rows.RawValues()); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// archiveOnce runs the real binary, `strata archive --dataset events`, into
// a fresh file:// archive and checks that it left none of the day's rows.
func (b *bench) archiveOnce(ctx context.Context, codec string, n int) (sample, error) {
	name := fmt.Sprintf("%s-%d", codec, n)
	dir := filepath.Join(b.state, "archive", name)
	if err := local.RemoveArchive(dir); err != nil {
		return sample{}, err
	}
	cfg, err := b.writeConfig(name, dir, codec)
	if err != nil {
		return sample{}, err
	}
	s, err := b.runArchive(ctx, name, cfg, "events", dir, b.size.DayRows)
	if err != nil {
		return s, err
	}
	return s, b.checkArchived()
}

// runArchive runs `strata archive --config cfg --dataset ds` (its output in
// archive-name.log), measuring it; the sample counts rows and the Parquet
// bytes under dir.
func (b *bench) runArchive(ctx context.Context, name, cfg, ds, dir string, rows int64) (sample, error) {
	logf, err := os.Create(filepath.Join(b.state, "archive-"+name+".log"))
	if err != nil {
		return sample{}, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, b.strata, "archive", "--config", cfg, "--dataset", ds)
	cmd.Stdout, cmd.Stderr = logf, logf
	off := fileSize(b.pg.serverLog())
	m := startMeter(b.pg.cl.Dir)
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("%s archive (output in %s): %w", b.strata, logf.Name(), err)
	}
	s := sample{Rows: rows}
	cpu, rss := rusage(cmd.ProcessState)
	m.stop(&s, cpu)
	s.MaxRSS = rss
	s.Phases = readPhases(b.pg.serverLog(), off)
	s.Bytes, err = parquetBytes(dir)
	return s, err
}

// checkArchived fails unless the day's rows are all gone from the table.
func (b *bench) checkArchived() error {
	var left int64
	if err := b.pg.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&left); err != nil {
		return err
	}
	if left != b.size.Rows-b.size.DayRows {
		return fmt.Errorf("after strata archive %s holds %d rows, want %d", table, left, b.size.Rows-b.size.DayRows)
	}
	return nil
}

func (b *bench) writeConfig(name, dir, codec string) (string, error) {
	yaml := configHeader(b.pg.cl.URL(dbName), dir) + fmt.Sprintf(`  - name: events
    analytics:
      table: %s
      key: [id]
      time_column: %s
      retention: 90d
    archive:
      compression: %s
      retention: 7y
`, table, timeCol, codec)
	return b.writeConfigFile("strata-"+name+".yaml", yaml)
}

// parquetBytes totals the Parquet objects under dir.
func parquetBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), "_") {
			return filepath.SkipDir // a lakehouse table's log (_delta_log), not archive objects
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") || strings.Contains(p, ".strata-") {
			return err
		}
		info, err := d.Info()
		n += info.Size()
		return err
	})
	return n, err
}

// profileArchive runs archive.Archiver in this process, as `strata archive`
// does, under the CPU profiler, writing the profile to path.
func (b *bench) profileArchive(ctx context.Context, codec, path string) (sample, error) {
	spec := archive.AnalyticsSpec{Dataset: "events", Table: table, TimeColumn: timeCol, Key: []string{"id"},
		Retention: 90 * 24 * time.Hour, ArchiveRetention: 7 * 365 * 24 * time.Hour, Compression: codec}
	s, err := b.profileRun(ctx, spec, "profile", path)
	if err != nil {
		return s, err
	}
	return s, b.checkArchived()
}

// profileRun archives spec in this process into a fresh file:// archive
// (folder name under the state's archive folder) under the CPU profiler,
// writing the profile to path.
func (b *bench) profileRun(ctx context.Context, spec archive.AnalyticsSpec, name, path string) (sample, error) {
	dir := filepath.Join(b.state, "archive", name)
	if err := local.RemoveArchive(dir); err != nil {
		return sample{}, err
	}
	cat, err := catalog.Open(ctx, b.pg.pool)
	if err != nil {
		return sample{}, err
	}
	store, err := local.Open(dir)
	if err != nil {
		return sample{}, err
	}
	defer store.Close()
	prefix, _ := storage.ParseKey("bench")
	ts := &timedStore{Backend: storage.WithRetry(store, storage.RetryPolicy{})}
	a := &archive.Archiver{Pool: b.pg.pool, Catalog: cat, Store: ts,
		Prefix: prefix, SpoolDir: filepath.Join(os.TempDir(), "strata-spool")}
	f, err := os.Create(path)
	if err != nil {
		return sample{}, err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return sample{}, err
	}
	off := fileSize(b.pg.serverLog())
	m := startMeter(b.pg.cl.Dir)
	rep, err := a.Analytics(ctx, spec, archive.Options{})
	s := sample{Rows: rep.Rows(), Bytes: rep.Bytes()}
	m.stop(&s, -1)
	pprof.StopCPUProfile()
	s.Phases, s.Upload = readPhases(b.pg.serverLog(), off), ts.put
	return s, err
}
