package parquetio_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgtest"
)

func setupAllTypes(t *testing.T) (*pgxpool.Pool, *parquetio.Schema) {
	t.Helper()
	_, pool := pgtest.NewDB(t)
	ctx := context.Background()
	mustExec(t, pool, pgtest.TypesDDL)
	mustExec(t, pool, pgtest.AllTypesTable("a"))
	mustExec(t, pool, pgtest.AllTypesTable("b"))
	mustExec(t, pool, pgtest.AllTypesRows("a"))
	cols, err := parquetio.LoadColumns(ctx, pool, "a")
	if err != nil {
		t.Fatal(err)
	}
	s, err := parquetio.NewSchema(cols)
	if err != nil {
		t.Fatal(err)
	}
	return pool, s
}

func mustExec(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%v\n%s", err, sql)
	}
}

// archive runs the extractor's side: the schema's select list, binary
// results, every row through WriteRaw.
func archive(t *testing.T, pool *pgxpool.Pool, s *parquetio.Schema, query string, opts parquetio.WriterOptions) ([]byte, parquetio.Stats) {
	t.Helper()
	ctx := context.Background()
	var buf bytes.Buffer
	w, err := parquetio.NewWriter(&buf, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := pool.Query(ctx, "SELECT "+s.SelectList()+" "+query, pgx.QueryResultFormats(s.ResultFormats()))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		if err := w.WriteRaw(rows.RawValues()); err != nil {
			rows.Close()
			t.Fatal(err)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	st, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), st
}

func open(t *testing.T, b []byte) *parquetio.Reader {
	t.Helper()
	r, err := parquetio.Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// csvOf renders the chosen columns of every row as CSV.
func csvOf(t *testing.T, r *parquetio.Reader, columns []string) []byte {
	t.Helper()
	it, err := r.Rows(context.Background(), columns, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	enc := parquetio.NewCSVEncoder(&out, it.Columns())
	for it.Next() {
		if err := enc.Encode(it.Row()); err != nil {
			t.Fatal(err)
		}
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestEveryTypeRoundTripsThroughCopyAndComparesEqual(t *testing.T) {
	pool, s := setupAllTypes(t)
	st := assertCopyRoundTrip(t, pool, s, "a", "b", parquetio.WriterOptions{RowGroupRows: 1000, TimeColumn: "tstz"})
	if st.Rows != 3007 {
		t.Fatalf("rows = %d, want 3007", st.Rows)
	}
}

// assertCopyRoundTrip archives table src, COPYs the CSV of every row into
// the empty table dst of the same definition, and asserts that both hold
// the same rows, compared by their text form (stricter than equality:
// 1.0 and 1.00, -0 and 0, '1 mon' and '30 days' differ).
func assertCopyRoundTrip(t *testing.T, pool *pgxpool.Pool, s *parquetio.Schema, src, dst string, opts parquetio.WriterOptions) parquetio.Stats {
	t.Helper()
	ctx := context.Background()
	file, st := archive(t, pool, s, "FROM "+src, opts)
	r := open(t, file)
	if r.NumRows() != st.Rows {
		t.Errorf("file has %d rows, writer wrote %d", r.NumRows(), st.Rows)
	}
	csv := csvOf(t, r, nil)
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(csv), "COPY "+dst+" FROM STDIN (FORMAT csv, HEADER true)"); err != nil {
		t.Fatalf("COPY the archived rows back: %v\n%s", err, firstLines(csv, 8))
	}
	for _, q := range []string{
		"SELECT count(*) FROM (SELECT x::text FROM " + src + " x EXCEPT ALL SELECT y::text FROM " + dst + " y) d",
		"SELECT count(*) FROM (SELECT y::text FROM " + dst + " y EXCEPT ALL SELECT x::text FROM " + src + " x) d",
		"SELECT (SELECT count(*) FROM " + src + ") - (SELECT count(*) FROM " + dst + ")",
	} {
		var n int64
		if err := pool.QueryRow(ctx, q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%s = %d, want 0", q, n)
			diff(t, pool, src, dst)
		}
	}
	return st
}

// diff logs rows that differ between tables a and b, as text.
func diff(t *testing.T, pool *pgxpool.Pool, a, b string) {
	t.Helper()
	rows, err := pool.Query(context.Background(), `
	  (SELECT 'a' AS side, x::text FROM `+a+` x EXCEPT ALL SELECT 'a', y::text FROM `+b+` y)
	  UNION ALL (SELECT 'b', y::text FROM `+b+` y EXCEPT ALL SELECT 'b', x::text FROM `+a+` x) LIMIT 10`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var side, row string
		if err := rows.Scan(&side, &row); err != nil {
			t.Fatal(err)
		}
		t.Logf("only in %s: %s", side, row)
	}
}

func firstLines(b []byte, n int) string {
	lines := strings.SplitN(string(b), "\n", n+1)
	return strings.Join(lines[:min(n, len(lines))], "\n")
}

func TestTimeColumnStatsAndMetadataAreInTheFooter(t *testing.T) {
	pool, s := setupAllTypes(t)
	file, st := archive(t, pool, s, "FROM a ORDER BY id", parquetio.WriterOptions{
		TimeColumn: "tstz", Compression: "zstd",
		Metadata: map[string]string{parquetio.KeyDataset: "customers", parquetio.KeyArchiveType: "analytics"},
	})
	wantMin := time.Date(-4712, 1, 1, 0, 0, 0, 0, time.UTC)
	wantMax := time.Date(294246, 12, 31, 23, 59, 59, 999999000, time.UTC)
	if !st.HasTime || !st.MinTime.Equal(wantMin) || !st.MaxTime.Equal(wantMax) {
		t.Errorf("stats time range = %v %v %v, want %v .. %v", st.HasTime, st.MinTime, st.MaxTime, wantMin, wantMax)
	}
	md := open(t, file).Metadata()
	want := map[string]string{
		parquetio.KeyFormatVersion:     "1",
		parquetio.KeyRows:              "3007",
		parquetio.KeyTimeColumn:        "tstz",
		parquetio.KeySchemaFingerprint: s.Fingerprint(),
		parquetio.KeyDataset:           "customers",
		parquetio.KeyArchiveType:       "analytics",
		parquetio.KeyMinTime:           wantMin.Format(parquetio.TimeLayout),
	}
	for k, v := range want {
		if md[k] != v {
			t.Errorf("metadata %s = %q, want %q", k, md[k], v)
		}
	}
	if !strings.Contains(md[parquetio.KeySchema], `"type":"numeric(12,2)"`) {
		t.Errorf("metadata %s lacks the column types: %s", parquetio.KeySchema, md[parquetio.KeySchema])
	}
}

func queryFormats(s *parquetio.Schema) pgx.QueryResultFormats {
	return pgx.QueryResultFormats(s.ResultFormats())
}
