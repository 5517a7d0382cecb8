package strata_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

// voidFilter makes the test transform drop orders whose status is VOID, so
// that a record can name a key the transform yields no row for.
const voidFilter = "\nWHERE x.status IS DISTINCT FROM 'VOID'\n"

// lworld is the orders dataset with Layer 3, Layer 2 and the example
// transform (plus voidFilter) in a file that a test may rewrite; and
// customers, a dataset with an analytics table only.
type lworld struct {
	svc       *strata.Service
	pool      *pgxpool.Pool
	transform string // the transform file
	archive   string // the archive's folder (storage file://)
}

func newLineageWorld(t *testing.T) *lworld {
	t.Helper()
	e := testenv.New(t, testenv.Options{Datasets: []testenv.Dataset{
		{Name: "orders", Source: true, Transform: "orders.sql"}, {Name: "customers"}}})
	w := &lworld{pool: e.Pool, transform: filepath.Join(e.Dir, "orders.sql"), archive: e.ArchiveDir}
	sql, err := os.ReadFile(w.transform)
	if err != nil {
		t.Fatal(err)
	}
	w.writeTransform(t, string(sql)+voidFilter)
	w.svc = testsvc.Open(t, e, strata.Options{})
	return w
}

// writeTransform replaces the transform file (a later compare reads it).
func (w *lworld) writeTransform(t *testing.T, sql string) {
	t.Helper()
	if err := os.WriteFile(w.transform, []byte(sql), 0o644); err != nil {
		t.Fatal(err)
	}
}

// editTransform replaces old by new in the transform file.
func (w *lworld) editTransform(t *testing.T, old, new string) {
	t.Helper()
	b, err := os.ReadFile(w.transform)
	if err != nil || !strings.Contains(string(b), old) {
		t.Fatalf("transform has no %q (%v)", old, err)
	}
	w.writeTransform(t, strings.Replace(string(b), old, new, 1))
}

// order is one raw order record as the shop sends it.
func rawOrder(id int, status string, total string, at time.Time) string {
	return fmt.Sprintf(`{"order_id": %d, "customer_id": %d, "status": "%s", "total": "%s", "currency": "eur", "items": %d, "ordered_at": "%s", "shipped_on": null}`,
		id, 1000+id%7, status, total, 1+id%5, at.UTC().Format(time.RFC3339))
}

// orders returns records for keys first..first+n-1, ordered at at.
func rawOrders(first, n int, status string, at time.Time) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = rawOrder(first+i, status, fmt.Sprintf("%d.50", 10+i), at)
	}
	return out
}

func (w *lworld) ingest(t *testing.T, recs []string) {
	t.Helper()
	if _, err := w.svc.Ingest(context.Background(), "orders", strings.NewReader(strings.Join(recs, "\n")+"\n")); err != nil {
		t.Fatalf("ingest: %v", err)
	}
}

func (w *lworld) exec(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	tag, err := w.pool.Exec(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return tag.RowsAffected()
}

func (w *lworld) count(t *testing.T, sql string) int64 {
	t.Helper()
	var n int64
	if err := w.pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// dbNow is the database clock: ingestion times come from it.
func (w *lworld) dbNow(t *testing.T) time.Time {
	t.Helper()
	var now time.Time
	if err := w.pool.QueryRow(context.Background(), `SELECT clock_timestamp()`).Scan(&now); err != nil {
		t.Fatal(err)
	}
	return now.UTC()
}

// today is a period covering everything ingested today and since.
func comparePeriodToday() (time.Time, time.Time) {
	d := time.Now().UTC().Truncate(24 * time.Hour)
	return d, d.Add(48*time.Hour - time.Microsecond)
}

func (w *lworld) compare(t *testing.T, from, to time.Time) *strata.CompareReport {
	t.Helper()
	rep, err := w.svc.Compare(context.Background(), strata.CompareRequest{Dataset: "orders", From: from, To: to})
	if err != nil {
		t.Fatalf("compare: %v", err)
	}
	return rep
}

func (w *lworld) replay(t *testing.T, from, to time.Time, apply bool) *strata.CompareReport {
	t.Helper()
	rep, err := w.svc.Replay(context.Background(), strata.ReplayRequest{Dataset: "orders", From: from, To: to, Apply: apply})
	if err != nil {
		t.Fatalf("replay (apply %t): %v", apply, err)
	}
	return rep
}

// counts renders a report's counts for messages and comparisons.
func reportCounts(r *strata.CompareReport) string {
	return fmt.Sprintf("matched=%d changed=%d (archived %d) missing=%d unexpected=%d later=%d agree=%t",
		r.Matched, r.Changed, r.ChangedArchived, r.Missing, r.Unexpected, r.Later, r.Agree)
}

// snapshot is the whole of Layer 2, in key order, as text.
func (w *lworld) snapshot(t *testing.T) string {
	t.Helper()
	var s string
	if err := w.pool.QueryRow(context.Background(), `SELECT coalesce(string_agg(o::text, E'\n' ORDER BY order_id), '') FROM orders o`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestCompareAgreesWithWhatIngestWrote(t *testing.T) {
	w := newLineageWorld(t)
	now := time.Now().UTC()
	w.ingest(t, rawOrders(1, 40, "PAID", now))
	w.ingest(t, rawOrders(1, 10, "SHIPPED", now)) // later records for keys 1..10 win
	from, to := comparePeriodToday()
	rep := w.compare(t, from, to)
	if got := reportCounts(rep); got != "matched=40 changed=0 (archived 0) missing=0 unexpected=0 later=0 agree=true" {
		t.Fatalf("compare after ingest: %s", got)
	}
	if rep.SourceRecords.Archive != 50 || rep.SourceRecords.Layer3 != 0 || rep.SourceRecords.WithoutKey != 0 ||
		rep.AnalyticsRows.Expected != 40 || rep.AnalyticsRows.Live != 40 || rep.AnalyticsRows.Archived != 0 {
		t.Fatalf("compare counts: source %+v analytics %+v", rep.SourceRecords, rep.AnalyticsRows)
	}
	if len(rep.TransformVersion) != 64 || strings.Join(rep.Compared, ",") != "order_id,customer_id,status,total,currency,items,ordered_at,shipped_on" || len(rep.Ignored) != 0 {
		t.Fatalf("compare: version %q, compared %v, ignored %v", rep.TransformVersion, rep.Compared, rep.Ignored)
	}
}

func TestCompareCountsEachKindOfDifferenceNamingTheColumns(t *testing.T) {
	w := newLineageWorld(t)
	now := time.Now().UTC()
	w.ingest(t, rawOrders(1, 30, "PAID", now))
	w.ingest(t, []string{rawOrder(500, "VOID", "1.00", now), `{"note": "no key here", "status": "VOID"}`, `{"order_id": "not a number", "status": "VOID"}`})
	w.exec(t, `UPDATE orders SET status = 'lost' WHERE order_id IN (1, 2, 3)`)
	w.exec(t, `UPDATE orders SET total = total + 1 WHERE order_id IN (3, 4)`)
	w.exec(t, `DELETE FROM orders WHERE order_id IN (10, 11)`)
	w.exec(t, `INSERT INTO orders VALUES (500, 1, 'void', 1, 'EUR', 1, now(), NULL)`) // the record's key, but the transform drops VOID
	w.exec(t, `INSERT INTO orders VALUES (900, 1, 'paid', 1, 'EUR', 1, now(), NULL)`) // no record names it: not compared
	from, to := comparePeriodToday()
	rep := w.compare(t, from, to)
	if got := reportCounts(rep); got != "matched=24 changed=4 (archived 0) missing=2 unexpected=1 later=0 agree=false" {
		t.Fatalf("compare: %s", got)
	}
	if fmt.Sprint(rep.Columns) != "map[status:3 total:2]" {
		t.Fatalf("columns: %v", rep.Columns)
	}
	if rep.SourceRecords.WithoutKey != 2 || rep.SourceRecords.Archive != 33 {
		t.Fatalf("source records: %+v", rep.SourceRecords)
	}
	s := rep.Samples
	if len(s.Changed) != 4 || s.Changed[0].Key["order_id"] != "1" || s.Changed[0].Archived ||
		*s.Changed[0].Columns["status"].Expected != "paid" || *s.Changed[0].Columns["status"].Actual != "lost" || len(s.Changed[0].Columns) != 1 ||
		len(s.Changed[2].Columns) != 2 || *s.Changed[3].Columns["total"].Expected != "13.50" || *s.Changed[3].Columns["total"].Actual != "14.50" {
		t.Fatalf("changed samples: %+v", s.Changed)
	}
	if len(s.Missing) != 2 || s.Missing[0].Key["order_id"] != "10" || s.Missing[1].Key["order_id"] != "11" ||
		len(s.Unexpected) != 1 || s.Unexpected[0].Key["order_id"] != "500" {
		t.Fatalf("samples: missing %v unexpected %v", s.Missing, s.Unexpected)
	}
}

func TestReplayAfterATransformFixRewritesLayer2OnceAndOnlyWhenApplied(t *testing.T) {
	w := newLineageWorld(t)
	now := time.Now().UTC()
	w.ingest(t, rawOrders(1, 25, "Paid", now))
	from, to := comparePeriodToday()
	if rep := w.compare(t, from, to); !rep.Agree {
		t.Fatalf("before the fix: %s", reportCounts(rep))
	}
	w.editTransform(t, "lower(x.status)", "upper(x.status)") // the "fix"
	rep := w.compare(t, from, to)
	if reportCounts(rep) != "matched=0 changed=25 (archived 0) missing=0 unexpected=0 later=0 agree=false" || fmt.Sprint(rep.Columns) != "map[status:25]" {
		t.Fatalf("after the fix: %s %v", reportCounts(rep), rep.Columns)
	}
	before := w.snapshot(t)
	lineages := w.count(t, `SELECT count(*) FROM strata.lineage`)
	dry := w.replay(t, from, to, false)
	if reportCounts(dry) != reportCounts(rep) || dry.Applied != nil || w.snapshot(t) != before || w.count(t, `SELECT count(*) FROM strata.lineage`) != lineages {
		t.Fatalf("a dry replay changed something or reported differently: %s", reportCounts(dry))
	}
	l3 := w.count(t, `SELECT count(*) FROM source_orders WHERE processed`)
	applied := w.replay(t, from, to, true)
	a := applied.Applied
	if a == nil || a.Updated != 25 || a.Inserted != 0 || a.Skipped != 0 || len(a.Objects) != 0 || a.Lineage == 0 {
		t.Fatalf("apply: %+v", a)
	}
	if n := w.count(t, `SELECT count(*) FROM orders WHERE status = 'PAID'`); n != 25 {
		t.Fatalf("after apply %d orders are PAID, want 25", n)
	}
	if w.count(t, `SELECT count(*) FROM source_orders WHERE processed`) != l3 || w.count(t, `SELECT count(*) FROM source_orders`) != 25 {
		t.Fatal("replay changed Layer 3")
	}
	var kind, version string
	var rows int64
	if err := w.pool.QueryRow(context.Background(), `SELECT l.kind, l.transform_version, l.analytics_rows FROM strata.lineage l
		JOIN strata.transforms t ON t.dataset = l.dataset AND t.version = l.transform_version WHERE l.id = $1`, a.Lineage).Scan(&kind, &version, &rows); err != nil {
		t.Fatalf("lineage record with its transform text: %v", err)
	}
	if kind != "replay" || version != applied.TransformVersion || rows != 25 {
		t.Fatalf("lineage: %s %s %d", kind, version, rows)
	}
	var command, status string
	var runRows int64
	if err := w.pool.QueryRow(context.Background(), `SELECT r.command, r.status, r.rows FROM strata.lineage l
		JOIN strata.runs r ON r.id = l.run_id WHERE l.id = $1`, a.Lineage).Scan(&command, &status, &runRows); err != nil {
		t.Fatalf("the apply's run: %v", err)
	}
	if command != "replay" || status != "ok" || runRows != 25 {
		t.Fatalf("the apply's run: %s %s %d rows, want replay ok 25", command, status, runRows)
	}
	after := w.snapshot(t)
	again := w.replay(t, from, to, true)
	if reportCounts(again) != "matched=25 changed=0 (archived 0) missing=0 unexpected=0 later=0 agree=true" ||
		again.Applied.Inserted+again.Applied.Updated != 0 || again.Applied.Lineage != 0 || len(again.Applied.Objects) != 0 || w.snapshot(t) != after {
		t.Fatalf("second apply: %s %+v", reportCounts(again), again.Applied)
	}
	if rep := w.compare(t, from, to); !rep.Agree || rep.Matched != 25 {
		t.Fatalf("compare after replay: %s", reportCounts(rep))
	}
}

func TestReplayRebuildsLayer2FromTheSourceArchiveAlone(t *testing.T) {
	w := newLineageWorld(t)
	now := time.Now().UTC()
	w.ingest(t, rawOrders(1, 60, "PAID", now.Add(-time.Hour)))
	w.ingest(t, rawOrders(20, 20, "SHIPPED", now))
	w.exec(t, `CREATE TABLE orders_before AS TABLE orders`)
	w.exec(t, `TRUNCATE orders, source_orders`)
	from, to := comparePeriodToday()
	rep := w.compare(t, from, to)
	if reportCounts(rep) != "matched=0 changed=0 (archived 0) missing=60 unexpected=0 later=0 agree=false" || rep.SourceRecords.Archive != 80 || rep.SourceRecords.Layer3 != 0 {
		t.Fatalf("compare of an empty Layer 2: %s %+v", reportCounts(rep), rep.SourceRecords)
	}
	a := w.replay(t, from, to, true).Applied
	if a.Inserted != 60 || a.Updated != 0 {
		t.Fatalf("rebuild: %+v", a)
	}
	if n := w.count(t, `SELECT count(*) FROM ((TABLE orders EXCEPT TABLE orders_before) UNION ALL (TABLE orders_before EXCEPT TABLE orders)) d`); n != 0 {
		t.Fatalf("the rebuilt Layer 2 differs from the one before in %d rows", n)
	}
	if w.count(t, `SELECT count(*) FROM source_orders`) != 0 {
		t.Fatal("replay wrote Layer 3")
	}
}

func TestArchivedAnalyticsRowsAreFoundAndCompared(t *testing.T) {
	w := newLineageWorld(t)
	old := time.Now().UTC().AddDate(0, 0, -120).Truncate(24 * time.Hour).Add(10 * time.Hour)
	w.ingest(t, rawOrders(1, 15, "PAID", old))
	w.ingest(t, rawOrders(100, 5, "PAID", time.Now().UTC()))
	if rep, err := w.svc.ArchiveAnalytics(context.Background(), "orders", archive.Options{}); err != nil || rep.Rows() != 15 {
		t.Fatalf("archive: %v, %d rows", err, rep.Rows())
	}
	from, to := comparePeriodToday()
	rep := w.compare(t, from, to)
	if reportCounts(rep) != "matched=20 changed=0 (archived 0) missing=0 unexpected=0 later=0 agree=true" ||
		rep.AnalyticsRows.Archived != 15 || rep.AnalyticsRows.Live != 5 {
		t.Fatalf("compare with archived rows: %s %+v", reportCounts(rep), rep.AnalyticsRows)
	}
	w.editTransform(t, "lower(x.status)", "initcap(x.status)")
	rep = w.compare(t, from, to)
	if reportCounts(rep) != "matched=0 changed=20 (archived 15) missing=0 unexpected=0 later=0 agree=false" {
		t.Fatalf("compare after a change: %s", reportCounts(rep))
	}
	if !rep.Samples.Changed[0].Archived || rep.Samples.Changed[len(rep.Samples.Changed)-1].Key["order_id"] != "5" {
		t.Fatalf("samples: %+v", rep.Samples.Changed)
	}
	objects := w.count(t, `SELECT count(*) FROM strata.objects WHERE archive_type = 'analytics'`)
	a := w.replay(t, from, to, true).Applied
	if a.Updated != 5 || a.ArchivedRows != 15 || len(a.Objects) != 1 || len(a.Superseded) != 1 {
		t.Fatalf("apply over archived rows: %+v", a)
	}
	if n := w.count(t, `SELECT count(*) FROM strata.objects WHERE archive_type = 'analytics' AND superseded_by IS NOT NULL`); n != 1 ||
		w.count(t, `SELECT count(*) FROM strata.objects WHERE archive_type = 'analytics'`) != objects+1 {
		t.Fatalf("catalog after apply: %d superseded", n)
	}
	if n := w.count(t, `SELECT cardinality(superseded) FROM strata.lineage WHERE id = `+fmt.Sprint(a.Lineage)); n != 1 {
		t.Fatalf("the lineage record names %d superseded objects", n)
	}
	rows, err := w.svc.RetrieveArchivedData(context.Background(), strata.RetrieveRequest{Table: "orders", Start: old.Add(-time.Hour), End: old.Add(time.Hour), Columns: []string{"status"}})
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		if v := rows.Values()[0]; v != "Paid" {
			t.Fatalf("retrieval after the correction returns status %v", v)
		}
	}
	if rows.Err() != nil || rows.Count() != 15 {
		t.Fatalf("retrieval after the correction: %d rows, %v", rows.Count(), rows.Err())
	}
	rows.Close()
	again := w.replay(t, from, to, true)
	if !again.Agree || again.Matched != 20 || len(again.Applied.Objects) != 0 || again.Applied.Lineage != 0 {
		t.Fatalf("second apply: %s %+v", reportCounts(again), again.Applied)
	}
}

func TestAKeyWithALaterRecordIsNotComparedNorRegressed(t *testing.T) {
	w := newLineageWorld(t)
	now := time.Now().UTC()
	start := w.dbNow(t)
	w.ingest(t, rawOrders(1, 10, "PAID", now))
	mid := w.dbNow(t)
	w.ingest(t, rawOrders(1, 3, "SHIPPED", now)) // keys 1..3 change after mid
	rep := w.compare(t, start, mid)
	if reportCounts(rep) != "matched=7 changed=0 (archived 0) missing=0 unexpected=0 later=3 agree=true" || rep.Samples.Later[0].Key["order_id"] != "1" {
		t.Fatalf("compare of the first period: %s %v", reportCounts(rep), rep.Samples.Later)
	}
	before := w.snapshot(t)
	if a := w.replay(t, start, mid, true).Applied; a.Inserted+a.Updated != 0 || w.snapshot(t) != before {
		t.Fatalf("replay of the first period wrote %+v", a)
	}
	if rep := w.compare(t, mid, w.dbNow(t)); reportCounts(rep) != "matched=3 changed=0 (archived 0) missing=0 unexpected=0 later=0 agree=true" {
		t.Fatalf("compare of the second period: %s", reportCounts(rep))
	}
}

func TestCompareRefusesBadRequests(t *testing.T) {
	w := newLineageWorld(t)
	ctx := context.Background()
	from, to := comparePeriodToday()
	for _, c := range []struct {
		name    string
		req     strata.CompareRequest
		want    error
		message string
	}{
		{"an unknown dataset", strata.CompareRequest{Dataset: "nosuch", From: from, To: to}, strata.ErrNotFound, `no dataset "nosuch"`},
		{"a dataset without a transform", strata.CompareRequest{Dataset: "customers", From: from, To: to}, strata.ErrInvalid, "needs a source table"},
		{"a reversed period", strata.CompareRequest{Dataset: "orders", From: to, To: from}, strata.ErrInvalid, "is before"},
		{"no period", strata.CompareRequest{Dataset: "orders"}, strata.ErrInvalid, "required"},
	} {
		_, err := w.svc.Compare(ctx, c.req)
		if !errors.Is(err, c.want) || !strings.Contains(fmt.Sprint(err), c.message) {
			t.Errorf("%s: %v, want %v saying %q", c.name, err, c.want, c.message)
		}
	}
	w.writeTransform(t, "SELECT (r.raw_data->>'customer_id')::bigint AS customer_id FROM {{source}} AS r")
	if _, err := w.svc.Compare(ctx, strata.CompareRequest{Dataset: "orders", From: from, To: to}); !errors.Is(err, strata.ErrInvalid) ||
		!strings.Contains(err.Error(), `lacks key column "order_id"`) {
		t.Errorf("a transform without the key: %v", err)
	}
}
