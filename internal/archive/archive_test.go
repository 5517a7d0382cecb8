package archive_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgtest"
	"github.com/stratahq/strata/internal/retrieve"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/local"
)

type fixture struct {
	pool *pgxpool.Pool
	cat  *catalog.Catalog
	arch *archive.Archiver
	spec archive.AnalyticsSpec
}

// newFixture creates table events with rows on each of the given days ago
// (n rows per day) and an archiver with a local-disk store.
func newFixture(t *testing.T, daysAgo []int, n int) *fixture {
	t.Helper()
	ctx := context.Background()
	url, pool := pgtest.NewDB(t)
	_ = url
	exec(t, pool, `SET TIME ZONE 'UTC'`)
	exec(t, pool, `CREATE TABLE events (id bigint PRIMARY KEY, note text, amount numeric(10,2), at timestamptz NOT NULL)`)
	for _, d := range daysAgo {
		exec(t, pool, `INSERT INTO events SELECT $1::int * 100000 + i, 'note ' || i, i * 1.5,
			date_trunc('day', now(), 'UTC') - make_interval(days => $1::int) + make_interval(mins => i)
			FROM generate_series(1, $2::int) i`, d, n)
	}
	cat, err := catalog.Open(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	store, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{pool: pool, cat: cat,
		arch: &archive.Archiver{Pool: pool, Catalog: cat, Store: store, Prefix: storage.MustKey("svc"), SpoolDir: t.TempDir()},
		spec: archive.AnalyticsSpec{Dataset: "events", Table: "events", TimeColumn: "at", Key: []string{"id"},
			Retention: 90 * 24 * time.Hour, ArchiveRetention: 7 * 365 * 24 * time.Hour, Compression: "snappy"}}
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func count(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (f *fixture) run(t *testing.T, opts archive.Options) archive.Report {
	t.Helper()
	rep, err := f.arch.Analytics(context.Background(), f.spec, opts)
	if err != nil {
		t.Fatalf("archive: %v", err)
	}
	return rep
}

func TestArchiveMovesOnlyWholeDaysOlderThanRetention(t *testing.T) {
	f := newFixture(t, []int{89, 90, 91, 95, 120}, 50)
	rep := f.run(t, archive.Options{})
	if len(rep.Days) != 3 || rep.Rows() != 150 {
		t.Fatalf("archived %d days, %d rows; want 3 days (91, 95, 120 days ago), 150 rows", len(rep.Days), rep.Rows())
	}
	if live := count(t, f.pool, `SELECT count(*) FROM events`); live != 100 {
		t.Fatalf("%d rows left in the table, want 100 (days 89 and 90)", live)
	}
	for _, d := range rep.Days {
		want := "svc/analytics/events/" + d.Day.Format("2006/01/02") + "/chunk_"
		if !strings.HasPrefix(d.Key, want) || !strings.HasSuffix(d.Key, ".parquet") {
			t.Errorf("key %s does not follow the layout %s{id}.parquet", d.Key, want)
		}
	}
	objs, err := f.cat.List(context.Background(), catalog.Filter{Dataset: "events"})
	if err != nil || len(objs) != 3 {
		t.Fatalf("catalog lists %d committed objects (err %v), want 3", len(objs), err)
	}
}

func TestSecondRunWithNothingNewWritesNothing(t *testing.T) {
	f := newFixture(t, []int{100, 101}, 20)
	f.run(t, archive.Options{})
	rep := f.run(t, archive.Options{})
	if len(rep.Days) != 0 {
		t.Fatalf("second run archived %d days, want none", len(rep.Days))
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.uploads`); n != 2 {
		t.Fatalf("%d uploads recorded, want 2 (the second run must not upload)", n)
	}
}

func TestLateRowsForAnArchivedDayBecomeANewChunk(t *testing.T) {
	f := newFixture(t, []int{100}, 10)
	first := f.run(t, archive.Options{})
	exec(t, f.pool, `INSERT INTO events VALUES (999999, 'late', 1, $1::timestamptz + interval '5 hours')`, first.Days[0].Day)
	second := f.run(t, archive.Options{})
	if len(second.Days) != 1 || second.Days[0].Rows != 1 || !second.Days[0].Day.Equal(first.Days[0].Day) {
		t.Fatalf("late row: got %+v, want one new chunk of 1 row for %s", second.Days, first.Days[0].Day)
	}
	if second.Days[0].Key == first.Days[0].Key {
		t.Fatal("the late chunk reused the first chunk's key")
	}
	rows := retrieveAll(t, f, first.Days[0].Day, first.Days[0].Day.Add(24*time.Hour-time.Microsecond), nil)
	if rows != 11 {
		t.Fatalf("retrieve returned %d rows for the day, want 11 (10 + 1 late)", rows)
	}
}

func TestDryRunPlansButChangesNothing(t *testing.T) {
	f := newFixture(t, []int{92, 93, 10}, 30)
	rep := f.run(t, archive.Options{DryRun: true})
	if len(rep.Days) != 2 || rep.Rows() != 60 || rep.Bytes() <= 0 {
		t.Fatalf("dry run planned %d days, %d rows, %d bytes; want 2 days, 60 rows, an estimate > 0", len(rep.Days), rep.Rows(), rep.Bytes())
	}
	if live := count(t, f.pool, `SELECT count(*) FROM events`); live != 90 {
		t.Fatalf("dry run changed the table: %d rows, want 90", live)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.uploads`); n != 0 {
		t.Fatalf("dry run recorded %d uploads", n)
	}
}

func TestRetrieveReturnsExactlyTheRangeAndColumnsAsked(t *testing.T) {
	f := newFixture(t, []int{100}, 60) // one row a minute from 00:01 to 01:00
	rep := f.run(t, archive.Options{})
	day := rep.Days[0].Day
	n := retrieveAll(t, f, day.Add(10*time.Minute), day.Add(20*time.Minute), []string{"id", "amount"})
	if n != 11 {
		t.Fatalf("retrieve 00:10..00:20 inclusive returned %d rows, want 11", n)
	}
}

func TestAnotherArchiverHoldingTheLockMakesTheRunSkip(t *testing.T) {
	f := newFixture(t, []int{100}, 5)
	conn, err := f.pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_lock(hashtextextended('strata:archive:analytics:events', 0))`); err != nil {
		t.Fatal(err)
	}
	rep := f.run(t, archive.Options{})
	if rep.Skipped == "" || len(rep.Days) != 0 {
		t.Fatalf("run with the lock taken: skipped=%q days=%d; want skipped and nothing archived", rep.Skipped, len(rep.Days))
	}
	if live := count(t, f.pool, `SELECT count(*) FROM events`); live != 5 {
		t.Fatalf("%d rows left, want 5", live)
	}
}

func TestUnmappableColumnIsRefusedBeforeAnythingIsWritten(t *testing.T) {
	f := newFixture(t, []int{100}, 5)
	exec(t, f.pool, `ALTER TABLE events ADD COLUMN spot point`)
	_, err := f.arch.Analytics(context.Background(), f.spec, archive.Options{})
	if err == nil || !strings.Contains(err.Error(), `"spot"`) {
		t.Fatalf("archive with a point column: err %v, want an error naming column \"spot\"", err)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.uploads`); n != 0 {
		t.Fatalf("%d uploads recorded for a refused table", n)
	}
	if live := count(t, f.pool, `SELECT count(*) FROM events`); live != 5 {
		t.Fatalf("%d rows left, want 5", live)
	}
}

func TestWhollyArchivedPartitionIsDroppedInsteadOfDeleted(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil, 0)
	exec(t, f.pool, `DROP TABLE events`)
	exec(t, f.pool, `CREATE TABLE events (id bigint, note text, amount numeric(10,2), at timestamptz NOT NULL) PARTITION BY RANGE (at)`)
	var old, recent time.Time
	if err := f.pool.QueryRow(ctx, `SELECT date_trunc('month', now() - interval '200 days', 'UTC'), date_trunc('month', now(), 'UTC')`).Scan(&old, &recent); err != nil {
		t.Fatal(err)
	}
	exec(t, f.pool, fmt.Sprintf(`CREATE TABLE events_old PARTITION OF events FOR VALUES FROM ('%s') TO ('%s')`,
		old.Format(time.RFC3339), old.AddDate(0, 1, 0).Format(time.RFC3339)))
	exec(t, f.pool, fmt.Sprintf(`CREATE TABLE events_rest PARTITION OF events FOR VALUES FROM ('%s') TO ('infinity')`,
		old.AddDate(0, 1, 0).Format(time.RFC3339)))
	exec(t, f.pool, `INSERT INTO events SELECT i, 'n', 1, $1::timestamptz + make_interval(hours => i * 7) FROM generate_series(0, 99) i`, old)
	exec(t, f.pool, `INSERT INTO events SELECT 1000 + i, 'n', 1, now() - make_interval(days => 100 + i) FROM generate_series(0, 4) i`)
	before := count(t, f.pool, `SELECT count(*) FROM events`)
	rep := f.run(t, archive.Options{})
	dropped := 0
	for _, d := range rep.Days {
		if d.Dropped != "" {
			dropped++
		}
	}
	if dropped == 0 || count(t, f.pool, `SELECT count(*) FROM pg_class WHERE relname = 'events_old'`) != 0 {
		t.Fatalf("partition events_old was not dropped (days from dropped partitions: %d)", dropped)
	}
	if after := count(t, f.pool, `SELECT count(*) FROM events`); after+rep.Rows() != before {
		t.Fatalf("rows: %d before, %d after + %d archived", before, after, rep.Rows())
	}
}

func retrieveAll(t *testing.T, f *fixture, from, to time.Time, cols []string) int64 {
	t.Helper()
	r := &retrieve.Retriever{Catalog: f.cat, Store: f.arch.Store, SpoolDir: t.TempDir()}
	rows, err := r.Query(context.Background(), retrieve.Request{Dataset: "events", Type: "analytics", From: from, To: to, Columns: cols, TimeColumn: "at"})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		if cols != nil && len(rows.Values()) != len(cols) {
			t.Fatalf("row has %d values, want %d", len(rows.Values()), len(cols))
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEachObjectDescribesItselfInItsParquetMetadata(t *testing.T) {
	f := newFixture(t, []int{100}, 7)
	rep := f.run(t, archive.Options{})
	key := storage.MustKey(strings.Split(rep.Days[0].Key, "/")...)
	pr, err := parquetio.Open(storage.NewReaderAt(context.Background(), f.arch.Store, key, ""), rep.Days[0].Bytes)
	if err != nil {
		t.Fatal(err)
	}
	md := pr.Metadata()
	want := map[string]string{
		parquetio.KeyDataset:       "events",
		parquetio.KeyArchiveType:   "analytics",
		parquetio.KeyTable:         "public.events",
		parquetio.KeyPartitionDay:  rep.Days[0].Day.Format(time.DateOnly),
		parquetio.KeyRows:          "7",
		parquetio.KeyFormatVersion: parquetio.FormatVersion,
	}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, md[k], v)
		}
	}
	for _, k := range []string{parquetio.KeyMinTime, parquetio.KeyMaxTime, parquetio.KeySchemaFingerprint, parquetio.KeySchema} {
		if md[k] == "" {
			t.Errorf("metadata %s is missing", k)
		}
	}
}
