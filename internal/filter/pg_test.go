package filter

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgtest"
)

// pgSetup creates the table: the rows of matchRows, more edges, and random
// rows drawn from the values of the pruning test. The text columns get a
// linguistic collation (%[1]s), so that SQL must ask for bytewise order.
const pgSetup = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN posint AS integer CHECK (VALUE > 0);
CREATE DOMAIN code AS character(3);
CREATE TABLE t (id bigint NOT NULL, i2 smallint, i4 integer, i8 bigint, f4 real, f8 double precision, n numeric,
  t text COLLATE %[1]s, c character(4) COLLATE %[1]s, e mood, b boolean, u uuid, d date, tm time, ts timestamp, tz timestamptz, iv interval,
  j jsonb, by bytea, arr integer[], "Mixed Case" text, v varchar(10) COLLATE %[1]s, nm name, dom posint, cd code, ea mood[]);
INSERT INTO t (id, i2, i4, i8, f4, f8, n, t, c, e, b, u, d, tm, ts, tz, iv, j, by, arr, "Mixed Case") VALUES
 (1, 1, 10, 100, 1.5, 1.5, 1.50, 'apple', 'ab', 'happy', true, '00000000-0000-0000-0000-000000000001', '2024-11-01',
  '08:30', '2024-11-01 06:00', '2024-11-01 06:00+00', '1 day', '{"a":1}', '\x01', '{1,2}', 'X'),
 (2, -32768, -2147483648, 9223372036854775807, 'NaN', 'NaN', 'NaN', 'Apple', 'abc', 'sad', false,
  'ffffffff-ffff-ffff-ffff-ffffffffffff', 'infinity', '24:00', 'infinity', '-infinity', NULL, NULL, '\x', '{}', NULL),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 0, 0, 0, '-0', '-0', 0, '', '', 'ok', false, '00000000-0000-0000-0000-000000000000', '-infinity', '00:00',
  '-infinity', 'infinity', NULL, NULL, NULL, '{NULL}', NULL),
 (5, 32767, 2, -9223372036854775808, 'Infinity', '-Infinity', '-Infinity', 'apple pie', E'b\x01', 'happy', true,
  '7fffffff-ffff-ffff-ffff-ffffffffffff', '2024-10-31', '23:59:59.999999', '2024-10-31 23:59:59.999999',
  '2024-11-01 05:59:59.999999+00', NULL, NULL, NULL, NULL, NULL),
 (6, NULL, NULL, -1, '-Infinity', 'Infinity', 1234567890123456789012345678901234567890.000000000000000000001, 'é',
  NULL, NULL, NULL, NULL, '2024-11-02', NULL, '2024-11-01 06:00:00.000001', '2024-11-01 08:00+02', NULL, NULL, NULL, NULL, NULL);
INSERT INTO t (id, i8, f4, f8, n, t, c, e, tm, ts, tz, d, v, nm, dom, cd, ea) VALUES
 (7, 9007199254740993, 0.1, 0.1, 0.1, E'apple\x01', 'a', 'ok', '12:00:00.5', '0001-01-01 00:00', '0001-01-01 00:00+00',
  '0001-01-01', 'abc', 'nm', 5, 'ab', '{happy,NULL}'),
 (8, -9007199254740993, 3.4028235e38, 1e308, -0.000001, 'Zebra', 'zz  ', 'happy', '00:00:00.000001',
  '2024-11-01 06:00:00.5', '2024-11-01 06:00:00.5+00', '2024-11-01', 'ABC', 'Nm', 1, 'ab ', '{}');
SELECT setseed(0.25);
INSERT INTO t (id, i4, i8, f8, n, t, c, e, b, u, d, tm, ts, tz)
SELECT g, pick(ARRAY[-2, 0, 1, 3, 2147483647]), pick(ARRAY[-9223372036854775808, -1, 0, 2, 5]),
  pick(ARRAY['NaN', '-0', '0', '1.5', 'Infinity', '-Infinity']::float8[]), pick(ARRAY['NaN', '-1.5', '0', '2.50', 'Infinity', '-Infinity']::numeric[]),
  pick(ARRAY['', 'a', 'ab', 'B', 'b', 'é']), pick(ARRAY['a', E'a\x01', 'b', '']::character(4)[]), pick(ARRAY['happy', 'ok', 'sad']::mood[]),
  pick(ARRAY[true, false]), pick(ARRAY['00000000-0000-0000-0000-000000000001', '7fffffff-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff']::uuid[]),
  pick(ARRAY['2024-10-31', '2024-11-01', '2024-11-03', '1999-01-01', 'infinity']::date[]), pick(ARRAY['00:00', '08:30', '23:59:59.999999', '24:00']::time[]),
  pick(ARRAY['2024-11-01 06:00', '2024-11-01 06:00:00.000001', '1970-01-01', '-infinity']::timestamp[]),
  pick(ARRAY['2024-11-01 06:00+00', '2024-11-01 05:59:59.999999+00', '2030-01-01+00']::timestamptz[])
FROM generate_series(100, 399) g;`

// pick returns a random element of a, or NULL one time in six.
const pgPick = `CREATE FUNCTION pick(a anyarray) RETURNS anyelement LANGUAGE sql VOLATILE AS
  $$ SELECT CASE WHEN random() < 1.0/6 THEN NULL ELSE a[1 + floor(random() * array_length(a, 1))::int] END $$`

// pgExtraCases are expressions on the columns only the PostgreSQL table has
// or on its extra rows.
var pgExtraCases = []string{
	"f4 = 0.1", "f4 < 0.1", "f4 > 0.1", "f8 = 0.1", "n = 0.1", "n > -0.0000005", "n < -0.0000005", "f4 >= 3.4028235e38",
	"i8 = 9007199254740993", "i8 > 9007199254740992.5", "i8 < -9007199254740992", "c = 'a'", "c = 'a '", "c < 'a'",
	"t > 'apple'", "t < 'apple\x01'", "t >= 'Z' AND t < 'a'", "ts >= '0001-01-01T00:00:00Z'", "d < '0001-01-02'",
	"tz <= '0001-01-01T00:00:00Z'", "ts = '2024-11-01T06:00:00.5Z'", "d <= '2024-11-01T00:00:00.000001Z'",
	"tm = '12:00:00.5'", "tm < '00:00:00.0000004'", "tm <= '00:00:00.0000005'", "v = 'abc'", "v < 'abc'", "nm = 'Nm'",
	"nm > 'N'", "dom > 4", "dom IN (1, 2.5, 5)", "cd = 'ab'", "cd IN ('ab ', 'a')", "ea IS NULL", "ea IS NOT NULL",
	"arr IS NOT NULL AND NOT arr IS NULL", "e > 'ok'", "e IN ('ok', 'nope')", "u <> '7fffffff-0000-0000-0000-000000000000'",
}

// Archived rows (written to Parquet and read back) and live rows must be
// selected alike by the Matcher and by the SQL that PostgreSQL runs, in a
// session whose time zone, date style and interval style are not UTC/ISO.
func TestSQLAndMatcherSelectTheSameRowsInPostgreSQL(t *testing.T) {
	_, pool := pgtest.NewDB(t)
	ctx := context.Background()
	conn := pgConn(t, pool)
	s, archived, live := loadRows(t, conn)
	cases := []string{}
	for _, tc := range matchCases {
		cases = append(cases, tc.src)
	}
	cases = append(cases, pgExtraCases...)
	r := rand.New(rand.NewPCG(1, 2))
	for range 400 {
		cases = append(cases, randomExpr(r, 3))
	}
	selected := 0
	for _, src := range cases {
		f := mustBind(t, src, s.Columns())
		sql, args := f.SQL(2)
		rows, err := conn.Query(ctx, "SELECT id FROM t WHERE $1::int = $2::int AND "+sql+" ORDER BY id", append([]any{1, 1}, args...)...)
		if err != nil {
			t.Fatalf("%s: %s: %v", src, sql, err)
		}
		want, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatalf("%s: %s: %v", src, sql, err)
		}
		if len(want) > 0 && len(want) < len(live) {
			selected++
		}
		m := f.Matcher(s.Index)
		for name, set := range map[string][][]parquetio.Value{"archived": archived, "live": live} {
			var got []int64
			for _, row := range set {
				if m.Match(row) {
					got = append(got, row[0].Int64())
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: the Matcher selects %s rows %v, PostgreSQL %v (SQL %s)", src, name, got, want, sql)
			}
		}
	}
	t.Logf("%d expressions, %d of them selecting some but not all rows", len(cases), selected)
	if selected < len(cases)/2 {
		t.Errorf("only %d of %d expressions select some but not all rows: the test compares too little", selected, len(cases))
	}
}

// pgConn returns one connection with the table and a session that is far
// from UTC and ISO.
func pgConn(t *testing.T, pool *pgxpool.Pool) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	c, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Release)
	collation := `"default"`
	var icu bool
	if err := c.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_collation WHERE collname = 'und-x-icu')").Scan(&icu); err != nil {
		t.Fatal(err)
	}
	if icu {
		collation = `"und-x-icu"`
	} else {
		t.Log("no ICU collation: the text columns use the database's default collation")
	}
	for _, q := range []string{pgPick, fmt.Sprintf(pgSetup, collation),
		"SET TimeZone = 'Pacific/Chatham'", "SET DateStyle = 'SQL, DMY'", "SET IntervalStyle = 'sql_standard'"} {
		if _, err := c.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return c.Conn()
}

// loadRows reads table t as the archiver does (binary format), writes the
// rows to a Parquet file and reads them back, and also decodes them as
// live rows.
func loadRows(t *testing.T, conn *pgx.Conn) (*parquetio.Schema, [][]parquetio.Value, [][]parquetio.Value) {
	t.Helper()
	ctx := context.Background()
	cols, err := parquetio.LoadColumns(ctx, conn, "t")
	if err != nil {
		t.Fatal(err)
	}
	s := mustSchema(t, cols)
	var buf bytes.Buffer
	w, err := parquetio.NewWriter(&buf, s, parquetio.WriterOptions{RowGroupRows: 16})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, "SELECT "+s.SelectList()+" FROM t ORDER BY id", pgx.QueryResultFormats(s.ResultFormats()))
	if err != nil {
		t.Fatal(err)
	}
	var live [][]parquetio.Value
	for rows.Next() {
		if err := w.WriteRaw(rows.RawValues()); err != nil {
			t.Fatal(err)
		}
		row, arena := make([]parquetio.Value, len(cols)), []byte(nil)
		if err := s.DecodeRow(rows.RawValues(), row, &arena); err != nil {
			t.Fatal(err)
		}
		live = append(live, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	file, err := parquetio.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var archived [][]parquetio.Value
	for _, g := range readGroups(t, file) {
		archived = append(archived, g...)
	}
	if len(archived) != 308 || len(live) != 308 {
		t.Fatalf("%d archived and %d live rows, want 308", len(archived), len(live))
	}
	return s, archived, live
}
