package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/storage/local"
)

// The retrieval benchmark's analytics table: -retr-days UTC days of
// -retr-day-rows sensor readings each, archived by `strata archive` into a
// file:// archive (one object per day); and a live table holding the same
// rows for the 7 days of query (a), for query (c).
const (
	rTable     = "readings"          // archived (emptied by strata archive)
	rLive      = "readings_live"     // the 7 days of query (a), never archived
	rTemplate  = "readings_template" // the generated rows
	rTimeCol   = "ts"
	rGenVer    = "strata-bench-readings-v1"
	rAgeDays   = 100 // the newest generated day is this many days old (retention 90d)
	rLiveFirst = 10  // query (a) covers days rLiveFirst .. rLiveFirst+6 of the span
)

// readingsDDL is a sensor reading: about 110 bytes on the heap.
const readingsDDL = `(
	id          bigint NOT NULL,
	ts          timestamptz NOT NULL,
	device_id   integer NOT NULL,
	site        text NOT NULL,
	status      text NOT NULL,
	temperature double precision,
	value       double precision NOT NULL,
	quantity    integer,
	amount      numeric(12,2),
	note        text)`

// readingsFill inserts rows $1..$2 of $3 per day from day $4 on: row g is
// reading i = (g-1) % $3 of day (g-1) / $3, at i/$3 of the day plus up to a
// second of jitter. value is uniform in [0, 1000) (value >= 970 keeps 3%),
// status and site skewed, note a short remark, amount a price.
const readingsFill = `INSERT INTO ` + rTemplate + `
SELECT g, t, 1 + floor(random() ^ 2 * 5000)::int,
       'site-' || lpad((1 + floor(random() ^ 2 * 40)::int)::text, 2, '0'),
       (ARRAY['ok','ok','ok','ok','ok','ok','warn','warn','error','offline'])[1 + floor(random() * 10)::int],
       round((15 + random() * 20)::numeric, 2)::float8,
       floor(random() * 1000000)::float8 / 1000,
       1 + floor(random() ^ 3 * 20)::int,
       round((random() * 500)::numeric, 2),
       (ARRAY['calibrated','battery low','firmware 2.4.1','door open','maintenance due in 3 days',
              'signal weak, retrying','manual reading','', 'replaced sensor head', 'ok'])[1 + floor(random() * 10)::int]
FROM generate_series($1::bigint, $2::bigint) g,
     LATERAL (SELECT $4::timestamptz + ((g - 1) / $3) * interval '1 day'
                     + (((g - 1) % $3) * 86399.0 / $3 + random()) * interval '1 second' AS t) x`

// retrData is the generated archive: its first day, its config and folder.
type retrData struct {
	day0     time.Time // the first UTC day
	days     int
	perDay   int64
	dir      string // the file:// archive
	cfg      string // strata.yaml for the readings datasets
	archived sample // the strata archive run that wrote the archive
}

// span returns the first instant of day i and the last microsecond of day j.
func (d *retrData) span(i, j int) (time.Time, time.Time) {
	return d.day0.AddDate(0, 0, i), d.day0.AddDate(0, 0, j+1).Add(-time.Microsecond)
}

// prepareRetrieval generates the readings (once; the template is kept),
// builds the archived and the live table, starts from an empty catalog and
// archive, and archives the readings with the strata binary.
func (b *bench) prepareRetrieval(ctx context.Context) (*retrData, error) {
	d := &retrData{days: b.retrDays, perDay: b.retrDayRows, dir: filepath.Join(b.state, "archive", "readings")}
	want := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -rAgeDays-d.days+1)
	var generated bool
	err := b.timed(fmt.Sprintf("template %s of %d days x %d rows (generated once, not measured)", rTemplate, d.days, d.perDay), func() error {
		var err error
		d.day0, generated, err = b.ensureReadings(ctx, d, want)
		return err
	})
	if err != nil {
		return nil, err
	}
	if !generated {
		b.step("(reused the template from an earlier run: days from %s)", d.day0.Format(time.DateOnly))
	}
	liveFrom, liveTo := d.span(rLiveFirst, rLiveFirst+6)
	if err := b.timed("building "+rTable+" and "+rLive+" from the template (not measured)", func() error {
		return b.buildReadings(ctx, liveFrom, liveTo)
	}); err != nil {
		return nil, err
	}
	if err := local.RemoveArchive(d.dir); err != nil {
		return nil, err
	}
	if d.cfg, err = b.writeReadingsConfig("strata-readings.yaml", d.dir, ""); err != nil {
		return nil, err
	}
	err = b.timed(fmt.Sprintf("strata archive of the %d days into %s (not part of the comparison)", d.days, d.dir), func() error {
		d.archived, err = b.archiveReadings(ctx, d)
		return err
	})
	if err != nil {
		return nil, err
	}
	// The archive deleted every row of readings: vacuum now, or autovacuum
	// would do it during the measurements.
	err = b.timed("VACUUM "+rTable+" and CHECKPOINT (not measured)", func() error {
		for _, q := range []string{`VACUUM ANALYZE ` + rTable, `CHECKPOINT`} {
			if _, err := b.pg.pool.Exec(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	})
	return d, err
}

// ensureReadings generates the template unless one of the same generator
// version and size exists, and returns its first day.
func (b *bench) ensureReadings(ctx context.Context, d *retrData, day0 time.Time) (time.Time, bool, error) {
	pool := b.pg.pool
	var comment *string
	if err := pool.QueryRow(ctx, `SELECT obj_description(to_regclass($1), 'pg_class')`, rTemplate).Scan(&comment); err != nil {
		return day0, false, err
	}
	if comment != nil {
		f := strings.Fields(*comment)
		if len(f) == 4 && f[0] == rGenVer && f[1] == strconv.Itoa(d.days) && f[2] == strconv.FormatInt(d.perDay, 10) {
			if t, err := time.Parse(time.DateOnly, f[3]); err == nil {
				return t, false, nil
			}
		}
	}
	for _, q := range []string{`DROP TABLE IF EXISTS ` + rTemplate, `CREATE TABLE ` + rTemplate + ` ` + readingsDDL} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return day0, false, fmt.Errorf("%s: %w", q, err)
		}
	}
	total := int64(d.days) * d.perDay
	errs := make(chan error, 2)
	for p := range int64(2) { // two connections, one per core
		lo, hi := 1+p*total/2, (p+1)*total/2
		go func() {
			_, err := pool.Exec(ctx, readingsFill, lo, hi, d.perDay, day0)
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			return day0, false, fmt.Errorf("generate readings: %w", err)
		}
	}
	comment2 := fmt.Sprintf("%s %d %d %s", rGenVer, d.days, d.perDay, day0.Format(time.DateOnly))
	for _, q := range []string{`COMMENT ON TABLE ` + rTemplate + ` IS '` + comment2 + `'`, `VACUUM ANALYZE ` + rTemplate} {
		if _, err := pool.Exec(ctx, q); err != nil {
			return day0, false, fmt.Errorf("%s: %w", q, err)
		}
	}
	return day0, true, nil
}

// buildReadings (re)creates the archived table from the whole template and
// the live table from the rows in [from, to], each with a primary key and
// an index on the time column, and drops the catalog, so that the archive
// the run writes is the only one it knows.
func (b *bench) buildReadings(ctx context.Context, from, to time.Time) error {
	lit := func(t time.Time) string { return "'" + t.Format(time.RFC3339Nano) + "'" }
	var stmts []string
	// readings is archived (and emptied) right away: ANALYZE is enough;
	// readings_live is read as a live table is, vacuumed.
	for _, t := range []struct{ name, where, vacuum string }{
		{rTable, "", `ANALYZE `},
		{rLive, ` WHERE ` + rTimeCol + ` BETWEEN ` + lit(from) + ` AND ` + lit(to) + ` ORDER BY id`, `VACUUM ANALYZE `},
	} {
		stmts = append(stmts,
			`DROP TABLE IF EXISTS `+t.name,
			`CREATE TABLE `+t.name+` `+readingsDDL,
			`INSERT INTO `+t.name+` SELECT * FROM `+rTemplate+t.where,
			`ALTER TABLE `+t.name+` ADD PRIMARY KEY (id)`,
			`CREATE INDEX ON `+t.name+` (`+rTimeCol+`)`,
			t.vacuum+t.name)
	}
	stmts = append(stmts, dropCatalog, `CHECKPOINT`)
	for _, q := range stmts {
		if _, err := b.pg.pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("build readings: %s: %w", q, err)
		}
	}
	return nil
}

// writeReadingsConfig writes the configuration of the readings datasets
// (readings: archived; readings_live: its live table, retention long
// enough that nothing is archived), plus extra YAML for more datasets.
func (b *bench) writeReadingsConfig(name, dir, extra string) (string, error) {
	yaml := configHeader(b.pg.cl.URL(dbName), dir) + fmt.Sprintf(`  - name: readings
    analytics:
      table: %s
      key: [id]
      time_column: %s
      retention: 90d
    archive:
      compression: snappy
      retention: 7y
  - name: readings_live
    analytics:
      table: %s
      key: [id]
      time_column: %s
      retention: 3650d
%s`, rTable, rTimeCol, rLive, rTimeCol, extra)
	return b.writeConfigFile(name, yaml)
}

// archiveReadings runs `strata archive --dataset readings` and checks that
// it archived every day.
func (b *bench) archiveReadings(ctx context.Context, d *retrData) (sample, error) {
	logf, err := os.Create(filepath.Join(b.state, "archive-readings.log"))
	if err != nil {
		return sample{}, err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, b.strata, "archive", "--config", d.cfg, "--dataset", "readings")
	cmd.Stdout, cmd.Stderr = logf, logf
	m := startMeter(b.pg.cl.Dir)
	if err := cmd.Run(); err != nil {
		return sample{}, fmt.Errorf("%s archive (output in %s): %w", b.strata, logf.Name(), err)
	}
	s := sample{Rows: int64(d.days) * d.perDay}
	cpu, rss := rusage(cmd.ProcessState)
	m.stop(&s, cpu)
	s.MaxRSS = rss
	if s.Bytes, err = parquetBytes(d.dir); err != nil {
		return s, err
	}
	var left, objects int64
	if err := b.pg.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+rTable+`),
		(SELECT count(*) FROM strata.objects WHERE dataset = 'readings')`).Scan(&left, &objects); err != nil {
		return s, err
	}
	if left != 0 || objects != int64(d.days) {
		return s, fmt.Errorf("after strata archive %s holds %d rows and the catalog %d objects, want 0 and %d", rTable, left, objects, d.days)
	}
	return s, nil
}
