package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/pglocal"
)

const (
	dbName   = "strata_bench"
	table    = "events"         // the table archived; rebuilt before each archive run
	template = "bench_template" // the generated rows, never archived
	timeCol  = "updated_at"
	// genVersion names the generator; a template made by another version
	// (or with another row count) is generated again.
	genVersion = "strata-bench-v2"
)

// pgEnv is the throwaway PostgreSQL the benchmark runs on.
type pgEnv struct {
	cl   *pglocal.Cluster
	pool *pgxpool.Pool // database dbName, session time zone UTC
}

// startPG starts (creating when needed) the cluster in dir and connects to
// the benchmark database. fsync, synchronous_commit and full_page_writes are
// off (pglocal's non-durable settings): the figures are for CPU and memory
// bandwidth, not for a disk.
func startPG(ctx context.Context, dir string) (*pgEnv, error) {
	cl, err := pglocal.Open(ctx, dir, pglocal.Options{})
	if err != nil {
		return nil, err
	}
	if err := cl.Start(ctx); err != nil {
		return nil, err
	}
	e := &pgEnv{cl: cl}
	if err := e.createDB(ctx); err != nil {
		e.close(ctx)
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(cl.URL(dbName))
	if err != nil {
		e.close(ctx)
		return nil, err
	}
	pc.ConnConfig.RuntimeParams["timezone"] = "UTC"
	pc.ConnConfig.RuntimeParams["application_name"] = "strata-bench"
	if e.pool, err = pgxpool.NewWithConfig(ctx, pc); err != nil {
		e.close(ctx)
		return nil, err
	}
	return e, nil
}

// createDB makes the benchmark database. Statements that take over 200 ms
// are logged, so the phases of a `strata archive` run can be read back from
// the server log (see phases).
func (e *pgEnv) createDB(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, e.cl.URL("postgres"))
	if err != nil {
		return fmt.Errorf("connect to the benchmark PostgreSQL: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)`, dbName).Scan(&exists); err != nil {
		return err
	}
	stmts := []string{
		`ALTER DATABASE ` + dbName + ` SET log_min_duration_statement = 200`,
		`ALTER DATABASE ` + dbName + ` SET maintenance_work_mem = '512MB'`,
	}
	if !exists {
		stmts = append([]string{`CREATE DATABASE ` + dbName}, stmts...)
	}
	for _, q := range stmts {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

func (e *pgEnv) close(ctx context.Context) error {
	if e.pool != nil {
		e.pool.Close()
	}
	return e.cl.Stop(context.WithoutCancel(ctx))
}

// columnsDDL is the benchmark row: about 200 bytes on the heap, the mix of
// a typical Layer 2 table (keys, times, measures, short and long text).
const columnsDDL = `(
	id          bigint NOT NULL,
	updated_at  timestamptz NOT NULL,
	customer_id integer NOT NULL,
	country     text NOT NULL,
	category    text,
	quantity    integer,
	score       double precision,
	status      text NOT NULL,
	note        text,
	amount      numeric(12,2),
	active      boolean NOT NULL,
	created_at  timestamptz)`

// fillSQL generates the rows with id in [$1, $2] of $3, spread over the UTC
// day $4 in id order (rows arrive in time order). Values are random with the
// skew real tables have: few customers make most orders, a few statuses,
// countries and categories dominate, prices come from a price list. note is
// 60 to 100 characters of event text naming the order (from the key), the
// customer and a free-form remark.
const fillSQL = `INSERT INTO ` + template + `
SELECT g, t, c,
       (ARRAY['DE','DE','DE','FR','FR','GB','US','US','NL','IT','ES','PL'])[1 + floor(random() * 12)::int],
       (ARRAY['books','electronics','garden','toys','kitchen','fashion','sports','beauty','grocery','office'])[1 + floor(random() ^ 2 * 10)::int],
       q, round((random() * 100)::numeric, 2)::float8,
       (ARRAY['new','paid','paid','shipped','shipped','shipped','delivered','cancelled'])[1 + floor(random() * 8)::int],
       format('%s order ORD-%s for customer %s via %s: %s',
              (ARRAY['Created','Updated','Paid','Shipped','Refunded','Cancelled'])[1 + floor(random() * 6)::int],
              g, c, (ARRAY['web','mobile app','partner API','call centre'])[1 + floor(random() * 4)::int],
              (ARRAY['ok','address verified','gift wrap requested, ships in two parcels','backorder: awaiting stock',
                     'customer asked for delivery after 5pm on weekdays','priority','split payment: card and voucher',
                     'fraud check passed','left with neighbour at no. 12','coupon SPRING10 applied'])[1 + floor(random() * 10)::int]),
       round((2.5 * (2 + floor(random() * 200)))::numeric * q, 2), random() < 0.9,
       date_trunc('second', t - random() * interval '30 days')
FROM generate_series($1::bigint, $2::bigint) g,
     LATERAL (SELECT $4::timestamptz + ((g - 1) * 86399.0 / $3 + random()) * interval '1 second' AS t,
                     1 + floor(random() ^ 2 * 50000)::int AS c, 1 + floor(random() ^ 3 * 20)::int AS q) x`

// ensureTemplate generates the template table unless one of the same
// generator version and size exists, and returns its day.
func (e *pgEnv) ensureTemplate(ctx context.Context, rows int64, day time.Time) (time.Time, bool, error) {
	var comment *string
	err := e.pool.QueryRow(ctx, `SELECT obj_description(to_regclass($1), 'pg_class')`, template).Scan(&comment)
	if err != nil {
		return day, false, err
	}
	if comment != nil {
		f := strings.Fields(*comment)
		if len(f) == 3 && f[0] == genVersion && f[1] == strconv.FormatInt(rows, 10) {
			if d, err := time.Parse(time.DateOnly, f[2]); err == nil {
				return d, false, nil
			}
		}
	}
	return day, true, e.generate(ctx, rows, day)
}

// generate fills the template on two connections (one per core).
func (e *pgEnv) generate(ctx context.Context, rows int64, day time.Time) error {
	for _, q := range []string{`DROP TABLE IF EXISTS ` + template, `CREATE TABLE ` + template + ` ` + columnsDDL} {
		if _, err := e.pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	const parts = 2
	errs := make(chan error, parts)
	for p := range int64(parts) {
		lo, hi := 1+p*rows/parts, (p+1)*rows/parts
		go func() {
			_, err := e.pool.Exec(ctx, fillSQL, lo, hi, rows, day)
			errs <- err
		}()
	}
	var err error
	for range parts {
		err = errors.Join(err, <-errs)
	}
	if err != nil {
		return fmt.Errorf("generate rows: %w", err)
	}
	comment := fmt.Sprintf("%s %d %s", genVersion, rows, day.Format(time.DateOnly))
	for _, q := range []string{`COMMENT ON TABLE ` + template + ` IS '` + comment + `'`, `VACUUM ANALYZE ` + template} {
		if _, err := e.pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// restore rebuilds the archived table from the template, in the template's
// physical order, with a primary key and an index on the time column as a
// Layer 2 table has; then VACUUM ANALYZE (hint bits and visibility map set,
// as on a table that has aged 90 days) and CHECKPOINT, so no run pays for
// the previous one's writes. The catalog starts empty (freshCatalog).
func (e *pgEnv) restore(ctx context.Context) error {
	if err := e.freshCatalog(ctx); err != nil {
		return err
	}
	for _, q := range []string{
		`DROP TABLE IF EXISTS ` + table,
		`CREATE TABLE ` + table + ` ` + columnsDDL,
		`INSERT INTO ` + table + ` SELECT * FROM ` + template + ` ORDER BY id`, // in time order, whatever block the template's scan starts at
		`ALTER TABLE ` + table + ` ADD PRIMARY KEY (id)`,
		`CREATE INDEX ON ` + table + ` (` + timeCol + `)`,
		`VACUUM ANALYZE ` + table,
		`CHECKPOINT`,
	} {
		if _, err := e.pool.Exec(ctx, q); err != nil {
			return fmt.Errorf("restore %s: %s: %w", table, q, err)
		}
	}
	return nil
}

// dropCatalog drops every schema Strata's catalog migrations create, so
// that the next strata command migrates from scratch (dropping strata
// alone left strata_iceberg behind, and migration 12 then failed on a
// reused bench database).
const dropCatalog = `DROP SCHEMA IF EXISTS strata CASCADE; DROP SCHEMA IF EXISTS strata_iceberg CASCADE`

// freshCatalog drops Strata's catalog (objects, runs, the Iceberg tables'
// catalog) and migrates it again, untimed, so every archive run starts as on
// a fresh install whose catalog is ready: no earlier run's objects (whose
// archive folder the bench removes) and lakehouse tables that publish into
// the run's own folder.
func (e *pgEnv) freshCatalog(ctx context.Context) error {
	if _, err := e.pool.Exec(ctx, dropCatalog); err != nil {
		return fmt.Errorf("drop the catalog: %w", err)
	}
	if _, err := catalog.Open(ctx, e.pool); err != nil {
		return fmt.Errorf("migrate the catalog: %w", err)
	}
	return nil
}

// tableSize is what PostgreSQL holds for the archived rows.
type tableSize struct {
	Rows, DayRows  int64
	Heap, Total    int64 // pg_relation_size (main fork), pg_total_relation_size
	DayHeap, DayDB int64 // the day's rows' share of Heap and Total
}

func (e *pgEnv) size(ctx context.Context, day time.Time) (tableSize, error) {
	var s tableSize
	err := e.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE `+timeCol+` >= $1 AND `+timeCol+` < $2),
		pg_relation_size('`+table+`'), pg_total_relation_size('`+table+`') FROM `+table,
		day, day.AddDate(0, 0, 1)).Scan(&s.Rows, &s.DayRows, &s.Heap, &s.Total)
	if err != nil {
		return s, fmt.Errorf("size of %s: %w", table, err)
	}
	if s.Rows > 0 {
		s.DayHeap = s.Heap * s.DayRows / s.Rows
		s.DayDB = s.Total * s.DayRows / s.Rows
	}
	return s, nil
}

// serverLog is the cluster's log file, read to find the statements a
// `strata archive` run spent its time in.
func (e *pgEnv) serverLog() string { return filepath.Join(e.cl.Dir, "server.log") }

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}
