package strata_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
)

// day returns the UTC day n days ago by the database clock.
func (w *world) day(t *testing.T, ago int) time.Time {
	t.Helper()
	var d time.Time
	if err := w.pool.QueryRow(context.Background(), `SELECT date_trunc('day', now(), 'UTC') - make_interval(days => $1)`, ago).Scan(&d); err != nil {
		t.Fatal(err)
	}
	return d.UTC()
}

func (w *world) count(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := w.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func TestRestoreBringsRowsBackOnceAndTheNextArchiveMovesThemOutAgain(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.archiveOrders(t)
	all := w.sqlIDs(t, "true")
	everything := strata.RetrieveRequest{Start: w.day(t, 120), End: w.day(t, -1), IncludeLive: true}

	rep, err := w.svc.Restore(ctx, strata.RestoreRequest{Dataset: "orders", From: w.day(t, 99), To: w.day(t, 97).Add(5 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows != 60 || len(rep.Days) != 3 || !rep.Layer2 || rep.Table != "public.orders" {
		t.Fatalf("report %+v; want 60 rows of 3 days into public.orders", rep)
	}
	if n := w.count(t, `SELECT count(*) FROM orders o JOIN orders_all a USING (order_id)
		WHERE (o.*)::text = (a.*)::text AND o.ordered_at < $1`, w.day(t, 96)); n != 60 {
		t.Fatalf("%d restored rows equal the originals, want 60", n)
	}
	if got := w.ids(t, everything); !equalIDs(got, all) {
		t.Fatalf("retrieval with live rows after restore: %d ids, want each of the %d once", len(got), len(all))
	}
	arch, err := w.svc.ArchiveAnalytics(ctx, "orders", archive.Options{})
	if err != nil || arch.Rows() != 60 {
		t.Fatalf("archive after restore: %d rows (err %v), want the 60 restored", arch.Rows(), err)
	}
	if n := w.count(t, `SELECT count(*) FROM orders WHERE ordered_at < $1`, w.day(t, 96)); n != 0 {
		t.Fatalf("%d restored rows still in Layer 2", n)
	}
	if got := w.ids(t, everything); !equalIDs(got, all) {
		t.Fatalf("retrieval after archiving again: %d ids, want each of the %d once", len(got), len(all))
	}
	if got := w.ids(t, strata.RetrieveRequest{Start: w.day(t, 120), End: w.day(t, 90).Add(-time.Microsecond)}); int64(len(got)) != w.count(t,
		`SELECT count(*) FROM orders_all WHERE ordered_at < $1`, w.day(t, 90)) {
		t.Fatalf("archived rows after re-archiving: %d", len(got))
	}
}

func TestRestoreRefusalsAndCopies(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.archiveOrders(t)
	from, to := w.day(t, 99), w.day(t, 95)
	for _, into := range []string{"x; DROP TABLE y", "../a", "strata.runs", "orders", "pg_catalog.pg_class"} {
		_, err := w.svc.Restore(ctx, strata.RestoreRequest{Dataset: "orders", From: from, To: to, Into: into})
		if !errors.Is(err, strata.ErrInvalid) {
			t.Errorf("into %q: err %v, want ErrInvalid", into, err)
		}
	}
	if _, err := w.svc.Restore(ctx, strata.RestoreRequest{Dataset: "orders", From: to, To: from}); !errors.Is(err, strata.ErrInvalid) {
		t.Errorf("reversed range: err %v, want ErrInvalid", err)
	}
	if _, err := w.svc.Restore(ctx, strata.RestoreRequest{Dataset: "nope", From: from, To: to}); !errors.Is(err, strata.ErrNotFound) {
		t.Errorf("unknown dataset: err %v, want ErrNotFound", err)
	}

	if _, err := w.pool.Exec(ctx, `INSERT INTO orders VALUES (97 * 20 + 4, 1, 'reopened', 1, 'EUR', 1, now(), NULL)`); err != nil {
		t.Fatal(err)
	}
	_, err := w.svc.Restore(ctx, strata.RestoreRequest{Dataset: "orders", From: from, To: to})
	if !errors.Is(err, strata.ErrRestoreConflict) || errors.Is(err, strata.ErrInvalid) || !strings.Contains(err.Error(), "order_id=1944") {
		t.Fatalf("restore over a newer row: %v; want ErrRestoreConflict naming order_id=1944", err)
	}
	if n := w.count(t, `SELECT count(*) FROM strata.objects WHERE state <> 'committed'`); n != 0 {
		t.Fatalf("a refused restore changed %d objects", n)
	}

	rep, err := w.svc.Restore(ctx, strata.RestoreRequest{Dataset: "orders", From: from, To: to, Into: "public.orders_then"})
	if err != nil || rep.Rows != 100 || rep.Layer2 || !rep.Created {
		t.Fatalf("restore into a new table: %+v, %v", rep, err)
	}
	if n := w.count(t, `SELECT count(*) FROM orders_then t JOIN orders_all a USING (order_id) WHERE (t.*)::text = (a.*)::text`); n != 100 {
		t.Fatalf("%d copied rows equal the originals, want 100", n)
	}
	if n := w.count(t, `SELECT count(*) FROM strata.objects WHERE state <> 'committed'`); n != 0 {
		t.Fatalf("a restore --into changed %d objects", n)
	}
}

// TestCorrectedArchiveObjectsAreWhatRetrievalReturns corrects archived rows
// with Supersede, as 'strata replay --apply' does, and reads them back
// through the Go API.
func TestCorrectedArchiveObjectsAreWhatRetrievalReturns(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.archiveOrders(t)
	day := w.day(t, 98)
	ds, err := w.svc.Dataset("orders")
	if err != nil {
		t.Fatal(err)
	}
	spec, err := w.svc.AnalyticsSpec(ds)
	if err != nil {
		t.Fatal(err)
	}
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE fix ON COMMIT DROP AS
		SELECT * FROM orders_all WHERE ordered_at >= $1 AND ordered_at < $1 + interval '1 day' AND order_id % 4 = 0`, day); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE fix SET status = 'corrected'`); err != nil {
		t.Fatal(err)
	}
	rep, err := w.svc.Archiver().Supersede(ctx, tx, spec, "fix", []time.Time{day})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if rep.Corrected != 5 || rep.Rows != 20 || len(rep.Superseded) != 1 {
		t.Fatalf("report %+v; want 5 of 20 rows corrected in 1 object", rep)
	}
	rows, err := w.svc.RetrieveArchivedData(ctx, strata.RetrieveRequest{Table: "orders", Start: day, End: day.Add(24*time.Hour - time.Microsecond),
		Columns: []string{"order_id", "status"}})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n, corrected int
	for row, err := range rows.All() {
		if err != nil {
			t.Fatal(err)
		}
		n++
		id, status := row["order_id"].(int64), row["status"].(string)
		if (id%4 == 0) != (status == "corrected") {
			t.Errorf("order %d: status %q", id, status)
		}
		if status == "corrected" {
			corrected++
		}
	}
	if n != 20 || corrected != 5 {
		t.Fatalf("retrieved %d rows, %d corrected; want 20 and 5", n, corrected)
	}
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
