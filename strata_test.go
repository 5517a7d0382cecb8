package strata_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	stdjson "encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/demo"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

// world is a database with the orders example (100 days of Layer 2 rows,
// 20 a day) and a Layer 3 table "source_orders" for a source-only dataset
// "events", opened as a Service over a local-disk archive.
type world struct {
	svc  *strata.Service
	pool *pgxpool.Pool
}

func newWorld(t *testing.T) *world {
	t.Helper()
	e := testenv.New(t, testenv.Options{Datasets: []testenv.Dataset{
		{Name: "orders", Days: 100, PerDay: 20, Extra: "archive:\n  row_group_rows: 5"},
		{Name: "events", Source: true, SourceTable: "source_orders"}}})
	if err := demo.CreateSource(context.Background(), e.Pool, testenv.Example(t, "orders")); err != nil {
		t.Fatal(err)
	}
	return &world{svc: testsvc.Open(t, e, strata.Options{}), pool: e.Pool}
}

// archiveOrders copies orders to orders_all (the truth) and archives the
// days past retention; it returns how many rows left Layer 2.
func (w *world) archiveOrders(t *testing.T) int64 {
	t.Helper()
	ctx := context.Background()
	if _, err := w.pool.Exec(ctx, `CREATE TABLE orders_all AS TABLE orders`); err != nil {
		t.Fatal(err)
	}
	rep, err := w.svc.ArchiveAnalytics(ctx, "orders", archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows() == 0 {
		t.Fatal("nothing was archived: the test needs archived and live rows")
	}
	return rep.Rows()
}

// ids retrieves order_id for the request and returns them sorted.
func (w *world) ids(t *testing.T, req strata.RetrieveRequest) []int64 {
	t.Helper()
	req.Table, req.Columns = "orders", []string{"order_id"}
	rows, err := w.svc.RetrieveArchivedData(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		out = append(out, rows.Values()[0].(int64))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// sqlIDs runs the same condition in PostgreSQL over the copy of every row.
func (w *world) sqlIDs(t *testing.T, cond string) []int64 {
	t.Helper()
	rows, err := w.pool.Query(context.Background(), `SELECT order_id FROM orders_all WHERE `+cond+` ORDER BY order_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

func everything() (time.Time, time.Time) {
	return time.Now().AddDate(0, 0, -200), time.Now().AddDate(0, 0, 1)
}

func TestWhereWithLiveRowsReturnsWhatPostgreSQLReturns(t *testing.T) {
	w := newWorld(t)
	w.archiveOrders(t)
	from, to := everything()
	for _, where := range []string{
		"status = 'shipped' AND total >= 100",
		"status IN ('new', 'paid') OR shipped_on IS NULL",
		"NOT (items > 3) AND currency = 'EUR'",
		"shipped_on IS NOT NULL AND items <> 5",
		"total < 50.5 OR total > 450",
		"order_id >= 1000 AND order_id < 1040",
	} {
		t.Run(where, func(t *testing.T) {
			got := w.ids(t, strata.RetrieveRequest{Start: from, End: to, Where: where, IncludeLive: true})
			want := w.sqlIDs(t, where)
			if len(want) == 0 || !slices.Equal(got, want) {
				t.Fatalf("got %d rows, PostgreSQL has %d (want a non-empty, equal set)", len(got), len(want))
			}
		})
	}
}

func TestWhereOnArchivedRowsOnlySkipsLiveRows(t *testing.T) {
	w := newWorld(t)
	archived := w.archiveOrders(t)
	from, to := everything()
	all := w.ids(t, strata.RetrieveRequest{Start: from, End: to})
	if int64(len(all)) != archived {
		t.Fatalf("archive returned %d rows, %d were archived", len(all), archived)
	}
	got := w.ids(t, strata.RetrieveRequest{Start: from, End: to, Where: "status = 'paid'"})
	var want []int64
	for _, id := range w.sqlIDs(t, "status = 'paid'") {
		if _, ok := slices.BinarySearch(all, id); ok {
			want = append(want, id)
		}
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("got %d paid archived rows, want %d", len(got), len(want))
	}
}

func TestBadFiltersAreInvalidRequestsNamingTheProblem(t *testing.T) {
	w := newWorld(t)
	w.archiveOrders(t)
	from, to := everything()
	for _, c := range []struct{ where, want string }{
		{"nosuch = 1", "nosuch"},
		{"status = ", "literal"},
		{"total = 'abc'", "total"},
		{"ordered_at > 'yesterday'", "ordered_at"},
		{"x; DROP TABLE orders; --", ""},
		{"status = 'a' OR 1=1", ""},
	} {
		_, err := w.svc.RetrieveArchivedData(context.Background(), strata.RetrieveRequest{
			Table: "orders", Start: from, End: to, Where: c.where, IncludeLive: true})
		if !errors.Is(err, strata.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("where %q: error %v, want ErrInvalid mentioning %q", c.where, err, c.want)
		}
	}
	var n int
	if err := w.pool.QueryRow(context.Background(), `SELECT count(*) FROM orders`).Scan(&n); err != nil || n == 0 {
		t.Fatalf("orders has %d rows (%v) after hostile filters", n, err)
	}
}

// While an archive run moves days out of Layer 2, a retrieval with live
// rows must see every row exactly once: the catalog and the table are read
// in one snapshot.
func TestLiveRetrievalDuringAnArchiveSeesEveryRowOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	from, to := everything()
	total := len(w.sqlIDsFrom(t, "orders"))
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		defer close(done)
		if _, err := w.svc.ArchiveAnalytics(ctx, "orders", archive.Options{}); err != nil {
			t.Error(err)
		}
	})
	reads := 0
	for finished := false; !finished; reads++ {
		select {
		case <-done:
			finished = true
		default:
		}
		got := w.ids(t, strata.RetrieveRequest{Start: from, End: to, IncludeLive: true})
		if len(got) != total || len(slices.Compact(got)) != total {
			t.Fatalf("read %d: %d rows (%d distinct), want %d each once", reads, len(got), len(slices.Compact(got)), total)
		}
	}
	wg.Wait()
	t.Logf("%d consistent reads during the archive run", reads)
}

func (w *world) sqlIDsFrom(t *testing.T, table string) []int64 {
	t.Helper()
	var out []int64
	rows, err := w.pool.Query(context.Background(), `SELECT order_id FROM `+table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		out = append(out, id)
	}
	return out
}

func TestSourceRetrievalWithLiveRowsReturnsEachRecordOnceWithItsChecksum(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	recs := `{"order_id": 1, "status": "NEW"}` + "\n" + `{ "order_id":2,"status":"PAID" }` + "\n"
	if _, err := w.svc.Ingest(ctx, "events", strings.NewReader(recs)); err != nil {
		t.Fatal(err)
	}
	// A record written by another program, not archived yet.
	if _, err := w.pool.Exec(ctx, `INSERT INTO source_orders (raw_data) VALUES ('{"order_id":3,  "status":"SHIPPED"}')`); err != nil {
		t.Fatal(err)
	}
	from, to := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	rows, err := w.svc.RetrieveArchivedData(ctx, strata.RetrieveRequest{Table: "events", DataType: "source",
		Start: from, End: to, Columns: []string{"raw_id", "raw_data", "raw_sha256"}, IncludeLive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[int64]bool{}
	for row, err := range rows.All() {
		if err != nil {
			t.Fatal(err)
		}
		id := row["raw_id"].(int64)
		if seen[id] {
			t.Fatalf("record %d returned twice", id)
		}
		seen[id] = true
		raw := []byte(row["raw_data"].(stdjson.RawMessage))
		sum := sha256.Sum256(raw)
		if row["raw_sha256"] != hex.EncodeToString(sum[:]) {
			t.Fatalf("record %d: raw_sha256 %v, sha256 of %q is %x", id, row["raw_sha256"], raw, sum)
		}
	}
	if len(seen) != 3 {
		t.Fatalf("got %d records, want 3 (2 archived, 1 live)", len(seen))
	}
}

func TestRowLimitEndsTheStreamWithAnError(t *testing.T) {
	w := newWorld(t)
	from, to := everything()
	rows, err := w.svc.RetrieveArchivedData(context.Background(), strata.RetrieveRequest{
		Table: "orders", Start: from, End: to, IncludeLive: true, MaxRows: 10})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		n++
	}
	if n != 10 || !errors.Is(rows.Err(), strata.ErrTooManyRows) {
		t.Fatalf("%d rows then %v, want 10 rows then ErrTooManyRows", n, rows.Err())
	}
}

func TestAColumnAddedLaterReadsAsNullInOlderArchivedRows(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.archiveOrders(t)
	if _, err := w.pool.Exec(ctx, `ALTER TABLE orders ADD COLUMN channel text DEFAULT 'web'`); err != nil {
		t.Fatal(err)
	}
	from, to := everything()
	rows, err := w.svc.RetrieveArchivedData(ctx, strata.RetrieveRequest{Table: "orders", Start: from, End: to,
		Columns: []string{"order_id", "channel"}, Where: "channel IS NULL", IncludeLive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if v := rows.Values()[1]; v != nil {
			t.Fatalf("channel = %v, want NULL", v)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if archived := len(w.sqlIDs(t, "true")) - len(w.sqlIDsFrom(t, "orders")); n != archived {
		t.Fatalf("%d rows with channel NULL, want the %d archived ones", n, archived)
	}
}

func TestUnknownDatasetIsNotFound(t *testing.T) {
	w := newWorld(t)
	_, err := w.svc.RetrieveArchivedData(context.Background(), strata.RetrieveRequest{Table: "nosuch", Start: time.Now(), End: time.Now()})
	if !errors.Is(err, strata.ErrNotFound) || !strings.Contains(err.Error(), "orders, events") {
		t.Fatalf("error %v, want ErrNotFound listing the datasets", err)
	}
}

// A period that holds no object still has its columns checked, against the
// table as the archive would hold it: the source archive has raw_sha256,
// which Layer 3 computes, and not Layer 3's processed flag.
func TestColumnsAreCheckedOverAnEmptyPeriod(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	from := time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	for _, c := range []struct {
		dataset, typ string
		columns      []string
		ok           bool
	}{
		{"orders", "analytics", []string{"order_id", "total"}, true},
		{"orders", "analytics", []string{"order_id", "nope"}, false},
		{"events", "source", []string{"raw_id", "raw_sha256"}, true},
		{"events", "source", []string{"processed"}, false},
	} {
		rows, err := w.svc.RetrieveArchivedData(ctx, strata.RetrieveRequest{Table: c.dataset, DataType: c.typ,
			Start: from, End: to, Columns: c.columns})
		if c.ok {
			if err != nil {
				t.Fatalf("%s %s %v: %v", c.dataset, c.typ, c.columns, err)
			}
			n := 0
			for _, err := range rows.All() {
				if err != nil {
					t.Fatal(err)
				}
				n++
			}
			rows.Close()
			if n != 0 {
				t.Fatalf("%s %s over 1990-01-01: %d rows, want none", c.dataset, c.typ, n)
			}
			continue
		}
		if !errors.Is(err, strata.ErrInvalid) || !strings.Contains(err.Error(), "unknown column") {
			t.Fatalf("%s %s %v: error %v, want ErrInvalid naming the unknown column", c.dataset, c.typ, c.columns, err)
		}
	}
}

// A column added to Layer 2 after its days were archived is NULL in the
// archived rows, not an unknown column.
func TestAColumnAddedSinceArchivingIsNullInArchivedRows(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	archived := w.archiveOrders(t)
	if _, err := w.pool.Exec(ctx, `ALTER TABLE orders ADD COLUMN note text DEFAULT 'new'`); err != nil {
		t.Fatal(err)
	}
	rows, err := w.svc.RetrieveArchivedData(ctx, strata.RetrieveRequest{Table: "orders",
		Start: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Now().Add(time.Hour), Columns: []string{"order_id", "note"}})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var n int64
	for row, err := range rows.All() {
		if err != nil {
			t.Fatal(err)
		}
		if row["note"] != nil {
			t.Fatalf("archived row %v: note %v, want NULL", row["order_id"], row["note"])
		}
		n++
	}
	if n != archived {
		t.Fatalf("%d archived rows returned, %d were archived", n, archived)
	}
}
