package iceberg_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ice "github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/failpoint"
	"github.com/stratahq/strata/internal/iceberg"
	"github.com/stratahq/strata/internal/tables"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

// The orders columns compared, and how DuckDB renders them as the other
// readers do.
var (
	orderCols  = []string{"order_id", "customer_id", "status", "total", "currency", "items", "ordered_at", "shipped_on"}
	orderExprs = map[string]string{"ordered_at": "epoch_us(ordered_at)", "shipped_on": "CAST(shipped_on AS VARCHAR)"}
)

// noTables turns the Service's own publishing off: the tests publish with
// a Format of their own, at the steps they choose.
const noTables = "tables:\n  delta: off\n  iceberg: off"

// world is the orders dataset (Layer 3, Layer 2, the example transform)
// on one kind of archive, whose objects expire after 110 days.
type world struct {
	env     *testenv.Env
	svc     *strata.Service
	format  *iceberg.Format
	version int64
}

func newWorld(t *testing.T, kind string, fp failpoint.Set) *world {
	t.Helper()
	e := testenv.New(t, testenv.Options{Storage: kind, Extra: noTables, Datasets: []testenv.Dataset{
		{Name: "orders", Source: true, Transform: "orders.sql", Extra: "archive:\n  retention: 110d"}}})
	w := &world{env: e, svc: testsvc.Open(t, e, strata.Options{})}
	w.format = w.newFormat(t, fp)
	return w
}

func (w *world) newFormat(t *testing.T, fp failpoint.Set) *iceberg.Format {
	t.Helper()
	f, err := iceberg.New(iceberg.Options{Pool: w.svc.Pool(), Store: w.svc.Store(),
		StorageURL: w.svc.Config().Storage.URL, Failpoints: fp})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func rawOrders(first, n int, status string, at time.Time) string {
	var b strings.Builder
	for i := range n {
		id := first + i
		fmt.Fprintf(&b, `{"order_id": %d, "customer_id": %d, "status": "%s", "total": "%d.50", "currency": "eur", "items": %d, "ordered_at": "%s", "shipped_on": %s}`+"\n",
			id, 1000+id%7, status, 10+i, 1+id%5, at.Add(time.Duration(i)*time.Minute).UTC().Format(time.RFC3339), shipped(id, at))
	}
	return b.String()
}

func shipped(id int, at time.Time) string {
	if id%3 == 0 {
		return "null"
	}
	return `"` + at.AddDate(0, 0, 2).Format(time.DateOnly) + `"`
}

func (w *world) ingest(t *testing.T, recs string) {
	t.Helper()
	if _, err := w.svc.Ingest(context.Background(), "orders", strings.NewReader(recs)); err != nil {
		t.Fatalf("ingest: %v", err)
	}
}

func (w *world) archive(t *testing.T, wantRows int64) {
	t.Helper()
	rep, err := w.svc.ArchiveAnalytics(context.Background(), "orders", archive.Options{})
	if err != nil || rep.Rows() != wantRows {
		t.Fatalf("archive: %v, %d rows, want %d", err, rep.Rows(), wantRows)
	}
}

// table is what the orders analytics table must list now.
func (w *world) table(t *testing.T) tables.Table {
	t.Helper()
	w.version++
	return loadTable(t, w.svc, "orders", "analytics", "ordered_at", w.version)
}

// metadataLocation is the catalog's pointer to the table's metadata.json.
func (w *world) metadataLocation(t *testing.T) string {
	t.Helper()
	var loc string
	if err := w.svc.Pool().QueryRow(context.Background(), `SELECT metadata_location FROM strata_iceberg.iceberg_tables
		WHERE catalog_name = 'strata' AND table_namespace = 'analytics' AND table_name = 'orders'`).Scan(&loc); err != nil {
		t.Fatalf("the catalog's row of analytics.orders: %v", err)
	}
	return loc
}

// check publishes tb and reads the table back: the files it lists are
// exactly tb's objects, and iceberg-go's scan and DuckDB over the listed
// files both return exactly the rows strata retrieve returns.
func (w *world) check(t *testing.T, tb tables.Table) {
	t.Helper()
	ctx := context.Background()
	if _, err := w.format.Publish(ctx, tb); err != nil {
		t.Fatalf("publish: %v", err)
	}
	listed, err := w.format.Listed(ctx, "orders", "analytics")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, o := range tb.Objects {
		want = append(want, o.Key)
	}
	slices.Sort(want)
	if !slices.Equal(listed, want) {
		t.Fatalf("the table lists\n  %v\nwant the catalog's current objects\n  %v", listed, want)
	}
	rows := testsvc.Retrieved(t, w.svc, strata.RetrieveRequest{Table: "orders", Columns: orderCols}, map[string]bool{"shipped_on": true})
	if len(rows) == 0 {
		t.Fatal("strata retrieve returns no rows: nothing to compare")
	}
	err = w.format.WithTable(ctx, "orders", "analytics", func(tbl *table.Table) error {
		if d := diff(scanned(t, tbl, orderCols), rows); d != "" {
			t.Errorf("iceberg-go's scan vs strata retrieve: %s", d)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	files := localCopies(t, w.svc.Store(), w.env.ArchiveDir, listed)
	if got := duckdbRows(t, files, orderCols, orderExprs); len(listed) > 0 {
		if d := diff(got, rows); d != "" {
			t.Errorf("DuckDB over the listed files vs strata retrieve: %s", d)
		}
	}
}

// prunes checks that engines can skip files from the published
// statistics alone: by the day partition, and by the bounds of a bigint
// and a text column. The table holds one file for orders 1-10 (PAID, a
// day before old2) and one for orders 11-20 (SHIPPED, old2's day).
func (w *world) prunes(t *testing.T, old2 time.Time) {
	t.Helper()
	ctx := context.Background()
	cases := []struct {
		name   string
		filter ice.BooleanExpression
		want   int
	}{
		{"order_id >= 11 (bounds)", ice.GreaterThanEqual(ice.Reference("order_id"), int64(11)), 1},
		{"order_id > 20 (bounds)", ice.GreaterThan(ice.Reference("order_id"), int64(20)), 0},
		{"status = 'shipped' (bounds)", ice.EqualTo(ice.Reference("status"), "shipped"), 1},
		{"ordered_at >= old2's day (partition)", ice.GreaterThanEqual(ice.Reference("ordered_at"),
			ice.Timestamp(old2.Truncate(24*time.Hour).UnixMicro())), 1},
		{"customer_id >= 0 (every file)", ice.GreaterThanEqual(ice.Reference("customer_id"), int64(0)), 2},
	}
	err := w.format.WithTable(ctx, "orders", "analytics", func(tbl *table.Table) error {
		for _, c := range cases {
			tasks, err := tbl.Scan(table.WithRowFilter(c.filter)).PlanFiles(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			if len(tasks) != c.want {
				t.Errorf("%s: %d files planned, want %d", c.name, len(tasks), c.want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTheTableReadsAsStrataRetrieveThroughArchiveLateRowsSupersedeAndExpiry(t *testing.T) {
	for _, kind := range testenv.Kinds(t) {
		t.Run(kind, func(t *testing.T) { scenario(t, kind) })
	}
}

func scenario(t *testing.T, kind string) {
	ctx := context.Background()
	w := newWorld(t, kind, failpoint.Set{})
	day := time.Now().UTC().Truncate(24 * time.Hour)
	old1, old2 := day.AddDate(0, 0, -120).Add(10*time.Hour), day.AddDate(0, 0, -100).Add(9*time.Hour)
	w.ingest(t, rawOrders(1, 10, "PAID", old1)+rawOrders(11, 10, "SHIPPED", old2)+rawOrders(100, 5, "PAID", day))
	w.archive(t, 20)

	tb := w.table(t)
	if len(tb.Objects) != 2 {
		t.Fatalf("%d objects after the first archive, want 2", len(tb.Objects))
	}
	w.check(t, tb)
	w.prunes(t, old2)
	before := w.metadataLocation(t)
	if _, err := w.format.Publish(ctx, tb); err != nil {
		t.Fatal(err)
	}
	if again := w.metadataLocation(t); again != before {
		t.Fatalf("a second publish of the same table committed: %s -> %s", before, again)
	}

	// Late rows: a second object for an archived day.
	w.ingest(t, rawOrders(31, 4, "PAID", old1.Add(time.Hour)))
	w.archive(t, 4)
	tb = w.table(t)
	if len(tb.Objects) != 3 {
		t.Fatalf("%d objects after late rows, want 3", len(tb.Objects))
	}
	w.check(t, tb)

	// A correction: replay --apply of a changed transform supersedes the
	// archived objects with new ones.
	transform := filepath.Join(w.env.Dir, "orders.sql")
	b, err := os.ReadFile(transform)
	if err != nil || !strings.Contains(string(b), "lower(x.status)") {
		t.Fatalf("transform: %v", err)
	}
	if err := os.WriteFile(transform, []byte(strings.Replace(string(b), "lower(x.status)", "initcap(x.status)", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := w.svc.Replay(ctx, strata.ReplayRequest{Dataset: "orders", From: day, To: day.Add(48*time.Hour - time.Microsecond), Apply: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Applied.Superseded) == 0 {
		t.Fatalf("replay --apply superseded nothing: %+v", rep.Applied)
	}
	superseded := tb.Objects
	tb = w.table(t)
	w.check(t, tb)
	if rows := testsvc.Retrieved(t, w.svc, strata.RetrieveRequest{Table: "orders", Columns: []string{"status"}}, nil); !slices.Contains(rows, "Paid") || slices.Contains(rows, "paid") {
		t.Fatalf("statuses after the correction: %v", slices.Compact(rows))
	}
	for _, o := range superseded {
		if slices.ContainsFunc(tb.Objects, func(p tables.Object) bool { return p.Key == o.Key }) {
			t.Fatalf("object %s is still current after the correction", o.Key)
		}
	}

	// Expiry: the first day is past archive.retention. A publish that dies
	// after writing its metadata, before the catalog commit, leaves the
	// table as it was; the next publish repairs it.
	if _, err := w.svc.Purge(ctx, "orders", false); err != nil {
		t.Fatal(err)
	}
	tb = w.table(t)
	if len(tb.Objects) != 1 || !tb.Objects[0].Day.Equal(old2.Truncate(24*time.Hour)) {
		t.Fatalf("after expiry the catalog has %d current objects, want the one of %s", len(tb.Objects), old2.Format(time.DateOnly))
	}
	fp, err := failpoint.Parse(iceberg.StepAfterMetadata + "=error")
	if err != nil {
		t.Fatal(err)
	}
	crashed := w.newFormat(t, fp)
	listedBefore, err := w.format.Listed(ctx, "orders", "analytics")
	if err != nil {
		t.Fatal(err)
	}
	before = w.metadataLocation(t)
	if _, err := crashed.Publish(ctx, tb); !errors.Is(err, failpoint.ErrInjected) {
		t.Fatalf("publish with the failpoint: %v, want the injected failure", err)
	}
	if loc := w.metadataLocation(t); loc != before {
		t.Fatalf("the interrupted publish moved the catalog: %s -> %s", before, loc)
	}
	if listed, err := w.format.Listed(ctx, "orders", "analytics"); err != nil || !slices.Equal(listed, listedBefore) {
		t.Fatalf("after the interrupted publish the table lists %v (%v), want %v as before", listed, err, listedBefore)
	}
	w.check(t, tb)
}
