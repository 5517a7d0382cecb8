package strata_test

import (
	"bytes"
	"context"
	stdjson "encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

// typeChange is a column's change of type between two archive runs, the
// values its rows hold (as text, read as the old type) and the filters to
// check.
type typeChange struct {
	before, after string
	values        []string
	wheres        []string
}

var typeChanges = []typeChange{
	{"double precision", "numeric(12,3)", []string{"0.5", "500", "500.25", "499.9995", "500.0004", "1234.5678", "-1", "NaN", "1e-9"},
		[]string{"v > 500", "v >= 500", "v = 500", "v < 0 OR v IS NULL", "v IN (0.5, 500)", "v <> 1234.568", "v > 'NaN'", "v = 'NaN'"}},
	{"integer", "bigint", []string{"5", "-7", "2147483647", "0"}, []string{"v > 5", "v <= 0", "v = 2147483647"}},
	{"integer", "real", []string{"16777217", "16777216", "3", "-7"}, []string{"v = 16777216", "v > 3", "v < 16777217"}},
	{"real", "double precision", []string{"0.1", "1.5", "-2", "3.4e38", "NaN", "-Infinity"}, []string{"v > 0.1", "v = 1.5", "v < 0", "v = 'NaN'"}},
	{"numeric", "integer", []string{"2.5", "-2.5", "7.49", "0.5", "-0.5"}, []string{"v = 3", "v < -2", "v = 7", "v = 1", "v = 0"}},
	{"double precision", "integer", []string{"2.5", "3.5", "-2.5", "0.49999"}, []string{"v = 2", "v = 4", "v = -2", "v = 0"}},
	{"bigint", "smallint", []string{"100", "-32768", "32767", "7"}, []string{"v > 100", "v = -32768", "v < 8"}},
	{"integer", "numeric(6,1)", []string{"5", "-3", "99999"}, []string{"v > 5", "v = 99999", "v < 0"}},
	{"numeric(10,4)", "double precision", []string{"0.1000", "1.5", "123456.7891", "-0.0001"}, []string{"v = 0.1", "v > 1", "v < 0"}},
	{"integer", "text", []string{"5", "10", "100", "-3"}, []string{"v > '10'", "v = '5'", "v < '1'"}},
	{"double precision", "text", []string{"1234567.5", "0.1", "1e20", "-0", "NaN"}, []string{"v = '1234567.5'", "v > '1'", "v = 'NaN'", "v = '1e+20'", "v = '-0'"}},
	{"numeric(10,2)", "varchar(20)", []string{"1.5", "-3", "100"}, []string{"v = '1.50'", "v = '-3.00'", "v > '1'"}},
	{"text", "varchar(5)", []string{"abc", "abcde", "abcde   ", "", "zz"}, []string{"v = 'abcde'", "v > 'abc'", "v = ''"}},
	{"char(5)", "text", []string{"ab", "abcde", "a b", ""}, []string{"v = 'ab'", "v > 'ab'", "v = 'a b'", "v = ''"}},
	{"text", "char(5)", []string{"ab", "abcde", "ab   ", ""}, []string{"v = 'ab'", "v > 'ab'", "v = 'ab   '", "v = ''"}},
	{"varchar(3)", "varchar(10)", []string{"abc", "a", "zz"}, []string{"v = 'abc'", "v > 'a'"}},
	{"timestamp", "timestamptz", []string{"2024-01-01 00:00:00", "2023-12-31 23:59:59.999999", "infinity", "2024-06-01 12:00:00.5"},
		[]string{"v >= '2024-01-01T00:00:00Z'", "v < '2024-01-01'", "v = 'infinity'", "v > '2024-06-01T12:00:00Z'"}},
	{"timestamptz", "timestamp", []string{"2024-01-01 00:00:00+00", "2024-01-01 01:30:00+02", "-infinity", "2024-06-01 12:00:00.5+00"},
		[]string{"v >= '2024-01-01T00:00:00Z'", "v < '2024-01-01'", "v = '-infinity'", "v = '2023-12-31T23:30:00Z'"}},
	{"date", "timestamptz", []string{"2024-01-01", "2023-12-31", "infinity"}, []string{"v > '2024-01-01'", "v >= '2024-01-01'", "v < '2024-01-01T00:00:01Z'"}},
	{"timestamptz", "date", []string{"2024-01-01 23:00:00+00", "2024-01-02 00:30:00+01", "2023-12-31 00:00:00+00"},
		[]string{"v = '2024-01-01'", "v > '2024-01-01'", "v < '2024-01-01'"}},
	{"timestamptz", "timestamptz(0)", []string{"2024-01-01 00:00:00.5+00", "2024-01-01 00:00:00.4+00", "1990-05-05 10:10:10.5+00"},
		[]string{"v = '2024-01-01T00:00:01Z'", "v = '2024-01-01T00:00:00Z'", "v = '1990-05-05T10:10:11Z'"}},
	{"json", "jsonb", []string{`{"b": 1, "a": [1, 2.50, 1e2], "a": null}`, `[ ]`, `"x"`}, []string{"v IS NOT NULL", "v IS NULL"}},
	{"jsonb", "json", []string{`{"b": 1, "a": [1, 2.50]}`, `[]`}, []string{"v IS NOT NULL"}},
	{"smallint[]", "bigint[]", []string{"{1,NULL,3}", "{}"}, []string{"v IS NOT NULL", "v IS NULL"}},
}

// TestFiltersAreRightWhateverTypeAColumnHadWhenItsDayWasArchived archives
// rows of each type change before and after an ALTER COLUMN TYPE, keeps
// some live, and checks retrieval with each filter row for row (ids and
// values) against PostgreSQL running the same filter over a copy of every
// row with the column's type now, on local disk and on Azurite.
func TestFiltersAreRightWhateverTypeAColumnHadWhenItsDayWasArchived(t *testing.T) {
	for _, backend := range []string{"local", "azurite"} {
		t.Run(backend, func(t *testing.T) {
			for _, c := range typeChanges {
				t.Run(c.before+" to "+c.after, func(t *testing.T) {
					tw := newTypeWorld(t, backend, c)
					tw.checkAll(t, c)
				})
			}
		})
	}
}

// typeWorld is a table m (id, at, v) archived across a change of v's type,
// and ref, a copy of every row with v of the type now.
type typeWorld struct {
	svc  *strata.Service
	pool *pgxpool.Pool
	next int
}

// newTypeWorld runs the scenario: rows of days 120 to 118 ago and live
// ones, archived; ALTER COLUMN TYPE; rows of days 118 to 116 ago (one day
// gets objects of both types) and live ones, archived.
func newTypeWorld(t *testing.T, backend string, c typeChange) *typeWorld {
	t.Helper()
	ctx := context.Background()
	e := newTypeEnv(t, backend)
	pool := e.Pool
	collate := ""
	if strings.Contains(c.after, "char") || c.after == "text" {
		collate = ` COLLATE "C"`
	}
	exec(t, pool, "CREATE TABLE m (id bigint PRIMARY KEY, at timestamptz NOT NULL, v "+c.before+")")
	exec(t, pool, "CREATE TABLE ref (id bigint PRIMARY KEY, at timestamptz NOT NULL, v "+c.after+collate+")")
	w := &typeWorld{svc: testsvc.Open(t, e, strata.Options{}), pool: pool}
	w.insert(t, c, []int{120, 119, 118, 10})
	w.archive(t, w.svc)
	w.retrieve(t, "m", "jsonl", "") // live rows read before the change, by the Service that reads them after it
	exec(t, pool, "ALTER TABLE m ALTER COLUMN v TYPE "+c.after)
	w.insert(t, c, []int{118, 117, 116, 5})
	// The same Service, as in a long-running strata serve: its pooled
	// connections must not reuse statements planned before the change.
	w.archive(t, w.svc)
	var objects int
	if err := pool.QueryRow(ctx, `SELECT count(DISTINCT schema_fingerprint) FROM strata.objects WHERE dataset = 'm'`).Scan(&objects); err != nil || objects != 2 {
		t.Fatalf("the archive has objects of %d schemas (%v), want 2", objects, err)
	}
	return w
}

// newTypeEnv is a database and an archive on backend with datasets m and
// ref (tables of the test's own: id, at, v).
func newTypeEnv(t *testing.T, backend string) *testenv.Env {
	t.Helper()
	return testenv.New(t, testenv.Options{Storage: backend, Datasets: []testenv.Dataset{
		{Name: "m", Key: "id", TimeColumn: "at", Extra: "archive:\n  row_group_rows: 3"},
		{Name: "ref", Key: "id", TimeColumn: "at"}}})
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// insert adds, for each day ago, a row per value and a NULL, read from
// text as the old type and assigned to v whatever its type now, and copies
// them to ref (an assignment too, as ALTER COLUMN TYPE casts).
func (w *typeWorld) insert(t *testing.T, c typeChange, daysAgo []int) {
	t.Helper()
	first := w.next
	for _, d := range daysAgo {
		vals := make([]any, 0, len(c.values)+1)
		for _, v := range c.values {
			vals = append(vals, v)
		}
		for _, val := range append(vals, nil) {
			exec(t, w.pool, "INSERT INTO m VALUES ($1::bigint, now() - make_interval(days => $2) + make_interval(secs => $4::int), $3::text::"+c.before+")",
				w.next, d, val, w.next)
			w.next++
		}
	}
	exec(t, w.pool, "INSERT INTO ref SELECT * FROM m WHERE id >= $1", first)
}

func (w *typeWorld) archive(t *testing.T, svc *strata.Service) {
	t.Helper()
	rep, err := svc.ArchiveAnalytics(context.Background(), "m", archive.Options{})
	if err != nil || rep.Rows() == 0 {
		t.Fatalf("archive: %d rows, %v", rep.Rows(), err)
	}
}

// checkAll retrieves everything, then with each filter, archived and live
// rows together, and compares with ref.
func (w *typeWorld) checkAll(t *testing.T, c typeChange) {
	t.Helper()
	total := w.check(t, "", "true")
	if total != int64(w.next) {
		t.Fatalf("retrieved %d rows without a filter, inserted %d", total, w.next)
	}
	w.checkJSONAsLive(t)
	if _, n := w.retrieve(t, "m", "parquet", ""); n != total {
		t.Errorf("the Parquet output has %d rows, want %d", n, total)
	}
	some := false
	for _, where := range c.wheres {
		some = w.check(t, where, where) > 0 || some
	}
	if !some {
		t.Fatal("no filter selected a row: the cases test nothing")
	}
}

// retrieve returns the rows of dataset, archived and live, matching
// where, with the columns id and v, in format, and their count.
func (w *typeWorld) retrieve(t *testing.T, dataset, format, where string) (*bytes.Buffer, int64) {
	t.Helper()
	from, to := everything()
	rows, err := w.svc.RetrieveArchivedData(context.Background(), strata.RetrieveRequest{Table: dataset, Start: from, End: to,
		Columns: []string{"id", "v"}, Where: where, IncludeLive: true})
	if err != nil {
		t.Fatalf("%s where %q: %v", dataset, where, err)
	}
	defer rows.Close()
	var out bytes.Buffer
	n, err := rows.Write(&out, format)
	if err != nil {
		t.Fatalf("%s where %q: %v", dataset, where, err)
	}
	return &out, n
}

// check retrieves the rows matching where as CSV, loads them into a table
// of the type now and compares (id, v::text) with ref's rows matching cond;
// it returns the row count.
func (w *typeWorld) check(t *testing.T, where, cond string) int64 {
	t.Helper()
	ctx := context.Background()
	csv, n := w.retrieve(t, "m", "csv", where)
	exec(t, w.pool, "DROP TABLE IF EXISTS got")
	exec(t, w.pool, "CREATE TABLE got (LIKE ref)")
	exec(t, w.pool, "ALTER TABLE got ALTER COLUMN at DROP NOT NULL")
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, err = conn.Conn().PgConn().CopyFrom(ctx, csv, "COPY got (id, v) FROM STDIN (FORMAT csv, HEADER)")
	conn.Release()
	if err != nil {
		t.Fatalf("where %q: load the CSV: %v", where, err)
	}
	var diff, want int64
	err = w.pool.QueryRow(ctx, `SELECT
	  (SELECT count(*) FROM ((SELECT id, v::text FROM got EXCEPT ALL SELECT id, v::text FROM ref WHERE `+cond+`)
	    UNION ALL (SELECT id, v::text FROM ref WHERE `+cond+` EXCEPT ALL SELECT id, v::text FROM got)) d),
	  (SELECT count(*) FROM ref WHERE `+cond+`)`).Scan(&diff, &want)
	if err != nil {
		t.Fatalf("where %q: %v", where, err)
	}
	if diff != 0 || n != want {
		t.Errorf("where %q: retrieved %d rows, PostgreSQL selects %d; %d rows differ (id or value)", where, n, want, diff)
	}
	return n
}

// checkJSONAsLive checks that the JSON lines of every row, archived with
// the old type or the new one or live, are those of the same row read live
// from ref, where v has its type now: one JSON type per column.
func (w *typeWorld) checkJSONAsLive(t *testing.T) {
	t.Helper()
	got, _ := w.retrieve(t, "m", "jsonl", "")
	want, _ := w.retrieve(t, "ref", "jsonl", "")
	g, l := strings.Split(got.String(), "\n"), strings.Split(want.String(), "\n")
	slices.Sort(g)
	slices.Sort(l)
	if !slices.Equal(g, l) {
		t.Errorf("the JSON lines differ from those of the same rows read live with the type now:\n%s\nwant\n%s",
			strings.Join(g, "\n"), strings.Join(l, "\n"))
	}
	for _, line := range g[1:] {
		if err := stdjson.Unmarshal([]byte(line), new(map[string]any)); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
	}
}

// TestAChangeOfTypeWithoutACastFailsNamingTheColumnTheObjectsAndTheTypes
// checks the two ways a retrieval across a change of type has no sound
// answer: a change PostgreSQL made only with USING (the archive does not
// know the expression), and an archived value the cast refuses. Both are
// ErrInvalid naming what is wrong; neither returns fewer rows silently.
func TestAChangeOfTypeWithoutACastFailsNamingTheColumnTheObjectsAndTheTypes(t *testing.T) {
	ctx := context.Background()
	e := newTypeEnv(t, testenv.Local)
	pool := e.Pool
	w := &typeWorld{svc: testsvc.Open(t, e, strata.Options{}), pool: pool}
	exec(t, pool, "CREATE TABLE m (id bigint PRIMARY KEY, at timestamptz NOT NULL, v text, x double precision)")
	exec(t, pool, "CREATE TABLE ref (LIKE m)")
	w.insert(t, typeChange{before: "text", values: []string{"7", "12"}}, []int{100})
	exec(t, pool, "UPDATE m SET x = 1e6 WHERE id = 0")
	w.archive(t, w.svc)
	exec(t, pool, "ALTER TABLE m ALTER COLUMN v TYPE integer USING v::integer, ALTER COLUMN x TYPE numeric(5,2)")
	from, to := everything()
	var key string
	if err := pool.QueryRow(ctx, `SELECT key FROM strata.objects WHERE dataset = 'm'`).Scan(&key); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name    string
		req     strata.RetrieveRequest
		wants   []string
		atQuery bool
	}{
		{"a change made with USING, filtered", strata.RetrieveRequest{Where: "v > 5"}, []string{`"v"`, "text", "integer", key, "USING"}, true},
		{"a change made with USING, returned", strata.RetrieveRequest{Columns: []string{"id", "v"}}, []string{`"v"`, "text", "integer", key}, true},
		{"a value the cast refuses", strata.RetrieveRequest{Columns: []string{"id", "x"}}, []string{`"x"`, "double precision", "1000000", "numeric(5,2)", key, "overflow"}, false},
		{"a value the cast refuses, filtered", strata.RetrieveRequest{Columns: []string{"id"}, Where: "x > 1"}, []string{`"x"`, "numeric(5,2)", key}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := c.req
			req.Table, req.Start, req.End, req.IncludeLive = "m", from, to, true
			rows, err := w.svc.RetrieveArchivedData(ctx, req)
			if err == nil {
				_, err = rows.Write(&bytes.Buffer{}, "jsonl")
				rows.Close()
				if c.atQuery {
					t.Errorf("the retrieval started; want it refused before any row")
				}
			}
			if !errors.Is(err, strata.ErrInvalid) {
				t.Fatalf("error %v, want ErrInvalid", err)
			}
			for _, s := range c.wants {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
}
