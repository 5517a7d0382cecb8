package lineage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/transform"
)

// fixture is the orders dataset with records written straight into Layer 3
// and a Fetch that reads Layer 3 alone (there is no archive here): enough
// to drive a Comparer without the rest of Strata.
type fixture struct {
	pool *pgxpool.Pool
	spec Spec
	c    *Comparer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	e := testenv.New(t, testenv.Options{Datasets: []testenv.Dataset{{Name: "orders", Source: true, Transform: "orders.sql"}}})
	pool := e.Pool
	if _, err := catalog.Open(ctx, pool); err != nil {
		t.Fatal(err)
	}
	tr, err := transform.Load(filepath.Join(e.Dir, "orders.sql"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{pool: pool}
	f.spec = Spec{Dataset: "orders", SourceTable: "source_orders", IDColumn: "raw_id", SourceTime: "ingested_at",
		PayloadColumn: "raw_data", ProcessedColumn: "processed", AnalyticsTable: "orders", Key: []string{"order_id"},
		AnalyticsTime: "ordered_at", Transform: tr}
	f.c = &Comparer{Pool: pool, Fetch: f.fetch, LockWait: 300 * time.Millisecond}
	for i := 1; i <= 5; i++ {
		f.exec(t, `INSERT INTO source_orders (raw_data) VALUES ($1)`, fmt.Sprintf(
			`{"order_id": %d, "customer_id": 1, "status": "PAID", "total": "1.00", "currency": "eur", "items": 1, "ordered_at": "2024-11-01T10:00:00Z"}`, i))
	}
	return f
}

// fetch reads Layer 3 rows (source) with COPY; the analytics archive is empty.
func (f *fixture) fetch(ctx context.Context, w io.Writer, r FetchRequest) error {
	if r.Type != catalog.TypeSource {
		_, err := io.WriteString(w, identList("", r.Columns)+"\n")
		return err
	}
	conn, err := f.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	sel := identList("", r.Columns[:len(r.Columns)-1]) + `, encode(sha256(convert_to(raw_data::text, 'UTF8')), 'hex')`
	_, err = conn.Conn().PgConn().CopyTo(ctx, w, fmt.Sprintf(`COPY (SELECT %s FROM source_orders WHERE ingested_at BETWEEN %s AND %s ORDER BY raw_id)
		TO STDOUT (FORMAT csv, HEADER true)`, sel, literal(r.From.Format(time.RFC3339Nano)), literal(r.To.Format(time.RFC3339Nano))))
	return err
}

func (f *fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (f *fixture) run(t *testing.T, apply bool) *Report {
	t.Helper()
	rep, err := f.c.Run(context.Background(), f.spec, Request{From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), Apply: apply})
	if err != nil {
		t.Fatalf("run (apply %t): %v", apply, err)
	}
	return rep
}

func TestRecordsOnlyInLayer3AreExpectedAndReplayedWithoutTouchingLayer3(t *testing.T) {
	f := newFixture(t)
	rep := f.run(t, false)
	if rep.Missing != 5 || rep.SourceRecords.Layer3 != 5 || rep.SourceRecords.Archive != 0 || rep.Agree {
		t.Fatalf("compare: %+v", rep)
	}
	if a := f.run(t, true).Applied; a.Inserted != 5 {
		t.Fatalf("apply: %+v", a)
	}
	var processed int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM source_orders WHERE processed`).Scan(&processed); err != nil || processed != 0 {
		t.Fatalf("replay marked %d Layer 3 rows processed (%v)", processed, err)
	}
	if rep := f.run(t, false); !rep.Agree || rep.Matched != 5 {
		t.Fatalf("compare after apply: %+v", rep)
	}
}

func TestApplyLeavesRowsChangedSinceTheCompareAlone(t *testing.T) {
	f := newFixture(t)
	f.run(t, true) // Layer 2 from Layer 3
	f.exec(t, `UPDATE orders SET status = 'damaged' WHERE order_id IN (1, 2, 3)`)
	f.exec(t, `DELETE FROM orders WHERE order_id IN (4, 5)`)
	f.c.hook = func(ctx context.Context, step string) { // an ingest after the compare
		if step == "compared" {
			f.exec(t, `UPDATE orders SET status = 'shipped' WHERE order_id = 2`)
			f.exec(t, `INSERT INTO orders VALUES (5, 9, 'new', 9, 'EUR', 9, now(), NULL)`)
		}
	}
	a := f.run(t, true).Applied
	if a.Updated != 2 || a.Inserted != 1 || a.Skipped != 2 {
		t.Fatalf("apply: %+v", a)
	}
	var got string
	if err := f.pool.QueryRow(context.Background(), `SELECT string_agg(order_id || ':' || status, ' ' ORDER BY order_id) FROM orders`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "1:paid 2:shipped 3:paid 4:paid 5:new" {
		t.Fatalf("Layer 2 after apply: %s", got)
	}
}

func TestARecordIngestedWhileTheRecordsAreReadIsLaterAndNotRegressed(t *testing.T) {
	f := newFixture(t)
	f.run(t, true)
	f.c.hook = func(ctx context.Context, step string) {
		if step == "loaded" { // an ingest of a new record for key 2 commits now
			f.exec(t, `INSERT INTO source_orders (raw_data) VALUES ('{"order_id": 2, "customer_id": 1, "status": "SHIPPED", "total": "1.00", "currency": "eur", "items": 1, "ordered_at": "2024-11-01T10:00:00Z"}')`)
			f.exec(t, `UPDATE orders SET status = 'shipped' WHERE order_id = 2`)
		}
	}
	rep := f.run(t, true)
	if rep.Later != 1 || rep.Changed != 0 || !rep.Agree || rep.Applied.Updated != 0 {
		t.Fatalf("compare while a record arrives: %+v %+v", rep, rep.Applied)
	}
	var status string
	if err := f.pool.QueryRow(context.Background(), `SELECT status FROM orders WHERE order_id = 2`).Scan(&status); err != nil || status != "shipped" {
		t.Fatalf("key 2 is %q after the replay (%v), want the newer shipped", status, err)
	}
}

func TestAnArchiveRunHoldingTheDatasetMakesCompareBusy(t *testing.T) {
	f := newFixture(t)
	l, err := catalog.TryLock(context.Background(), f.pool, "strata:archive:analytics:orders")
	if err != nil || l == nil {
		t.Fatalf("lock: %v", err)
	}
	defer l.Unlock(context.Background())
	_, err = f.c.Run(context.Background(), f.spec, Request{From: time.Now().Add(-time.Hour), To: time.Now()})
	if !errors.Is(err, ErrBusy) {
		t.Fatalf("compare while locked: %v, want ErrBusy", err)
	}
}

func TestDayRunsGroupConsecutiveDays(t *testing.T) {
	d := func(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }
	got := dayRuns([]time.Time{d("2024-01-01"), d("2024-01-02"), d("2024-01-04"), d("2024-02-28"), d("2024-02-29"), d("2024-03-01")})
	var s []string
	for _, r := range got {
		s = append(s, r[0].Format(time.DateOnly)+".."+r[1].Format(time.DateOnly))
	}
	if want := "[2024-01-01..2024-01-02 2024-01-04..2024-01-04 2024-02-28..2024-03-01]"; fmt.Sprint(s) != want {
		t.Fatalf("dayRuns: %v, want %s", s, want)
	}
}
