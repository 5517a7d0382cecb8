package retrieve_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
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

// archived is a table of 12 days, 1,500 rows each, archived (one object
// per day), the way PostgreSQL rendered its rows before, and how many
// rows each day and a filter hold.
type archived struct {
	pool    *pgxpool.Pool
	cat     *catalog.Catalog
	store   storage.Backend
	dir     string
	want    *pgtest.Rendered
	perDay  []int64 // rows per day, oldest first
	matches int64   // rows matching where
}

const (
	days  = 12
	where = "qty > 3 AND note IS NOT NULL"
)

func newArchived(t *testing.T) *archived {
	t.Helper()
	ctx := context.Background()
	_, pool := pgtest.NewDB(t)
	a := &archived{pool: pool, dir: t.TempDir()}
	if _, err := pool.Exec(ctx, `CREATE TABLE wide (id int PRIMARY KEY, note text, tags text[], amount numeric, qty int,
		at timestamptz NOT NULL);
		INSERT INTO wide SELECT i,
		  CASE WHEN i % 13 = 0 THEN NULL ELSE repeat(md5(i::text), i % 5) || E'\n"' || i END,
		  CASE WHEN i % 11 = 0 THEN NULL ELSE ARRAY[md5(i::text), i::text, ''] END,
		  i * 1.25, i % 7,
		  date_trunc('day', now(), 'UTC') - interval '100 days' - (i % 12) * interval '1 day' + (i / 12) * interval '1 second'
		FROM generate_series(1, 18000) i`); err != nil {
		t.Fatal(err)
	}
	a.want = pgtest.Render(t, pool, "wide", "id")
	rows, err := pool.Query(ctx, `SELECT count(*) FROM wide GROUP BY date_trunc('day', at, 'UTC') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n int64
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		a.perDay = append(a.perDay, n)
	}
	if rows.Close(); len(a.perDay) != days {
		t.Fatalf("%d days of rows, want %d", len(a.perDay), days)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM wide WHERE `+where).Scan(&a.matches); err != nil {
		t.Fatal(err)
	}
	if a.cat, err = catalog.Open(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if a.store, err = local.Open(a.dir); err != nil {
		t.Fatal(err)
	}
	arch := &archive.Archiver{Pool: pool, Catalog: a.cat, Store: a.store, Prefix: storage.MustKey("svc"), SpoolDir: t.TempDir()}
	spec := archive.AnalyticsSpec{Dataset: "wide", Table: "wide", TimeColumn: "at", Key: []string{"id"},
		Retention: 90 * 24 * time.Hour, ArchiveRetention: 7 * 365 * 24 * time.Hour, Compression: "snappy"}
	if _, err := arch.Analytics(ctx, spec, archive.Options{}); err != nil {
		t.Fatal(err)
	}
	var left int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM wide`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d rows left after the archive (%v), want all archived", left, err)
	}
	// The retrieval casts qty, archived as integer, to its type now.
	if _, err := pool.Exec(ctx, `ALTER TABLE wide ALTER COLUMN qty TYPE bigint`); err != nil {
		t.Fatal(err)
	}
	return a
}

// write retrieves every archived row as format through a Retriever of the
// given parallelism (chunks of 4 KiB, so that an object spans many).
func (a *archived) write(t *testing.T, w *bytes.Buffer, parallelism int, format, where string) (int64, error) {
	return a.writeAtMost(t, w, parallelism, format, where, 0)
}

// writeAtMost is write with Request.MaxRows.
func (a *archived) writeAtMost(t *testing.T, w *bytes.Buffer, parallelism int, format, where string, maxRows int64) (int64, error) {
	t.Helper()
	r := &retrieve.Retriever{Catalog: a.cat, Store: a.store, Pool: a.pool, SpoolDir: t.TempDir(), Parallelism: parallelism}
	r.SetChunkBytes(4096)
	rows, err := r.Query(context.Background(), retrieve.Request{Dataset: "wide", Type: catalog.TypeAnalytics, Table: "wide",
		TimeColumn: "at", From: time.Unix(0, 0), To: time.Now(), Where: where, MaxRows: maxRows})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if rows.Objects() != days {
		t.Fatalf("the query reads %d objects, want %d", rows.Objects(), days)
	}
	return retrieve.Write(w, rows, format)
}

func TestAParallelWriteIsByteForByteTheOneByOneWrite(t *testing.T) {
	a := newArchived(t)
	for _, format := range []string{"csv", "jsonl"} {
		for _, where := range []string{"", where} {
			var one, four bytes.Buffer
			n1, err1 := a.write(t, &one, 1, format, where)
			n4, err4 := a.write(t, &four, 4, format, where)
			if err1 != nil || err4 != nil {
				t.Fatalf("%s where %q: one by one %v, parallel %v", format, where, err1, err4)
			}
			want := int64(18000)
			if where != "" {
				want = a.matches
			}
			if n1 != want || n4 != want {
				t.Errorf("%s where %q: %d rows one by one, %d in parallel, want %d", format, where, n1, n4, want)
			}
			if !bytes.Equal(one.Bytes(), four.Bytes()) {
				t.Errorf("%s where %q: the parallel output (%d bytes) differs from the one-by-one output (%d bytes)",
					format, where, four.Len(), one.Len())
			}
			if where != "" {
				continue
			}
			// Every row as PostgreSQL renders it.
			if format == "csv" {
				a.want.CheckCSV(t, four.Bytes())
			} else {
				a.want.CheckJSONLines(t, four.Bytes())
			}
		}
	}
}

func TestAParallelWriteStopsAtTheRowLimitWhereOneByOneDoes(t *testing.T) {
	a := newArchived(t)
	// Inside a chunk, at the end of an object's rows, at the last row, past it.
	for _, limit := range []int64{4321, a.perDay[0] + a.perDay[1], 18000, 18001} {
		for _, format := range []string{"csv", "jsonl"} {
			var one, four bytes.Buffer
			n1, err1 := a.writeAtMost(t, &one, 1, format, "", limit)
			n4, err4 := a.writeAtMost(t, &four, 4, format, "", limit)
			wantErr := limit <= 18000
			if n1 != min(limit, 18000) || n4 != n1 || errors.Is(err1, retrieve.ErrTooManyRows) != wantErr ||
				errors.Is(err4, retrieve.ErrTooManyRows) != wantErr || (err1 == nil) != (err4 == nil) {
				t.Fatalf("%s, at most %d rows: one by one %d rows, %v; 4 at once %d rows, %v", format, limit, n1, err1, n4, err4)
			}
			if err1 != nil && err1.Error() != err4.Error() {
				t.Errorf("%s, at most %d rows: errors differ: %q and %q", format, limit, err1, err4)
			}
			if !bytes.Equal(one.Bytes(), four.Bytes()) {
				t.Errorf("%s, at most %d rows: the parallel output (%d bytes) differs from the one-by-one output (%d bytes)",
					format, limit, four.Len(), one.Len())
			}
		}
	}
}

func TestAParallelWriteStopsAtADamagedObjectAfterEveryRowBeforeIt(t *testing.T) {
	a := newArchived(t)
	files := a.objectFiles(t)
	const bad = 5
	damage(t, files[bad])
	var before int64
	for _, n := range a.perDay[:bad] {
		before += n
	}
	var one, four bytes.Buffer
	n1, err1 := a.write(t, &one, 1, "csv", "")
	n4, err4 := a.write(t, &four, 4, "csv", "")
	for _, err := range []error{err1, err4} {
		if err == nil || !strings.Contains(err.Error(), filepath.Base(files[bad])) {
			t.Fatalf("error %v, want one naming the damaged object %s", err, filepath.Base(files[bad]))
		}
	}
	if n1 != before || n4 != before {
		t.Errorf("%d rows one by one, %d in parallel, want the %d rows of the objects before the damaged one", n1, n4, before)
	}
	if !bytes.Equal(one.Bytes(), four.Bytes()) {
		t.Errorf("the parallel output (%d bytes) differs from the one-by-one output (%d bytes)", four.Len(), one.Len())
	}
}

// objectFiles lists the archive's object files, oldest day first.
func (a *archived) objectFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	if err := filepath.WalkDir(a.dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".parquet") {
			files = append(files, p)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(files) // by day: the keys hold the date
	if len(files) != days {
		t.Fatalf("%d objects, want %d", len(files), days)
	}
	return files
}

// damage flips a byte in the middle of a file.
func damage(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// goroutinesSettle returns the number of goroutines once it is at most
// want, or after 2 s: goroutines that are on their way out (a column's
// read-ahead, the database pool's) may still count for a moment; a worker
// left behind stays.
func goroutinesSettle(want int) int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(2 * time.Second); n > want && time.Now().Before(deadline); n = runtime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	return n
}

// failingWriter fails once it has taken limit bytes.
type failingWriter struct {
	n, limit int
}

var errFull = errors.New("the disk is full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n += len(p); w.n > w.limit {
		return 0, errFull
	}
	return len(p), nil
}

func TestAParallelWriteWhoseOutputFailsStopsItsWorkers(t *testing.T) {
	a := newArchived(t)
	r := &retrieve.Retriever{Catalog: a.cat, Store: a.store, SpoolDir: t.TempDir(), Parallelism: 4}
	r.SetChunkBytes(4096)
	before := runtime.NumGoroutine()
	rows, err := r.Query(context.Background(), retrieve.Request{Dataset: "wide", Type: catalog.TypeAnalytics,
		TimeColumn: "at", From: time.Unix(0, 0), To: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	n, err := retrieve.Write(&failingWriter{limit: 300 << 10}, rows, "csv")
	rows.Close()
	if !errors.Is(err, errFull) || n == 0 || n >= 18000 {
		t.Fatalf("wrote %d rows, error %v; want some rows, then the writer's error", n, err)
	}
	if after := goroutinesSettle(before); after > before {
		t.Errorf("%d goroutines after the write, %d before: its workers did not stop", after, before)
	}
}

// rowsAsText takes every row through retrieve.Map with the given
// parallelism, each row as its values' text joined by |, stopping after
// stopAfter rows when positive.
func (a *archived) rowsAsText(t *testing.T, parallelism int, stopAfter int) ([]string, error) {
	return a.rowsAsTextAtMost(t, parallelism, stopAfter, 0)
}

// rowsAsTextAtMost is rowsAsText with Request.MaxRows.
func (a *archived) rowsAsTextAtMost(t *testing.T, parallelism int, stopAfter int, maxRows int64) ([]string, error) {
	t.Helper()
	r := &retrieve.Retriever{Catalog: a.cat, Store: a.store, SpoolDir: t.TempDir(), Parallelism: parallelism}
	r.SetChunkBytes(600) // 100 rows of 6 columns
	rows, err := r.Query(context.Background(), retrieve.Request{Dataset: "wide", Type: catalog.TypeAnalytics,
		TimeColumn: "at", From: time.Unix(0, 0), To: time.Now(), MaxRows: maxRows})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := retrieve.Map(rows, len(rows.Columns()), func() func([]string, []parquetio.Value) []string {
		return func(dst []string, row []parquetio.Value) []string {
			for _, v := range row {
				if v.IsNull() {
					dst = append(dst, "NULL")
				} else {
					dst = append(dst, string(v.AppendText(nil)))
				}
			}
			return dst
		}
	})
	defer m.Close()
	var out []string
	for m.Next() {
		if len(m.Row()) != len(rows.Columns()) {
			t.Fatalf("a row of %d values, want %d", len(m.Row()), len(rows.Columns()))
		}
		out = append(out, strings.Join(m.Row(), "|"))
		if len(out) == stopAfter {
			break
		}
	}
	if n := rows.Count(); n != int64(len(out)) {
		t.Errorf("Count says %d rows, %d were taken", n, len(out))
	}
	return out, rows.Err()
}

func TestMappedRowsComeInTheOrderAndWithTheErrorsOfOneByOne(t *testing.T) {
	a := newArchived(t)
	one, err1 := a.rowsAsText(t, 1, 0)
	four, err4 := a.rowsAsText(t, 4, 0)
	if err1 != nil || err4 != nil || len(one) != 18000 || !slices.Equal(one, four) {
		t.Fatalf("one by one: %d rows, %v; 4 at once: %d rows, %v; want the same 18000 rows in the same order",
			len(one), err1, len(four), err4)
	}
	// A row limit ends both at the same row.
	l1, err1 := a.rowsAsTextAtMost(t, 1, 0, 4321)
	l4, err4 := a.rowsAsTextAtMost(t, 4, 0, 4321)
	if !errors.Is(err1, retrieve.ErrTooManyRows) || !errors.Is(err4, retrieve.ErrTooManyRows) || len(l4) != 4321 || !slices.Equal(l1, l4) {
		t.Fatalf("at most 4321 rows: one by one %d rows, %v; 4 at once %d rows, %v", len(l1), err1, len(l4), err4)
	}
	// A consumer that stops early leaves no worker behind once it closes.
	before := runtime.NumGoroutine()
	if part, err := a.rowsAsText(t, 4, 250); err != nil || !slices.Equal(part, one[:250]) {
		t.Fatalf("the first 250 rows: %d, %v; want the first 250 of one by one", len(part), err)
	}
	if after := goroutinesSettle(before); after > before {
		t.Errorf("%d goroutines after an early close, %d before", after, before)
	}
	// A damaged object ends both after the same rows, with its error.
	files := a.objectFiles(t)
	damage(t, files[3])
	one, err1 = a.rowsAsText(t, 1, 0)
	four, err4 = a.rowsAsText(t, 4, 0)
	var before3 int64
	for _, n := range a.perDay[:3] {
		before3 += n
	}
	if err1 == nil || err4 == nil || int64(len(four)) != before3 || !slices.Equal(one, four) {
		t.Fatalf("one by one: %d rows, %v; 4 at once: %d rows, %v; want the %d rows before the damaged object, then its error",
			len(one), err1, len(four), err4, before3)
	}
}

func TestThirtyTwoParallelWritesAtOnceEachGiveTheOneByOneOutput(t *testing.T) {
	a := newArchived(t)
	var want bytes.Buffer
	if _, err := a.write(t, &want, 1, "csv", where); err != nil {
		t.Fatal(err)
	}
	const clients = 32
	outs := make([]bytes.Buffer, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { _, errs[i] = a.write(t, &outs[i], 4, "csv", where) })
	}
	wg.Wait()
	for i := range clients {
		if errs[i] != nil || !bytes.Equal(outs[i].Bytes(), want.Bytes()) {
			t.Errorf("client %d: %v, %d bytes; want the one-by-one output's %d bytes", i, errs[i], outs[i].Len(), want.Len())
		}
	}
}
