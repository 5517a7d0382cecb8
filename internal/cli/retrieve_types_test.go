package cli_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/pgtest"
	"github.com/stratahq/strata/internal/testenv"
)

// hostileRows add to the all-types fixture text that JSON and CSV must
// escape (control characters, quotes, backslashes, CR LF, the CSV
// end-of-data marker, U+2028, emoji), nested and empty arrays, and json
// with nesting, escapes and numbers beyond a double.
const hostileRows = `
INSERT INTO every_type (id, t, vc, ch, nm, ci, j, jb, at, ajb, aj, ab, b, f4, f8, num, by, ai)
VALUES (10, E'ctl \x01\x02\b\f\x1f\x7f end', E'\\.', '"', E'\\', E'tab\there',
  '{"nested": [[1, [2, [3, []]]], {"a": {"b": {}}}], "esc": "\u0000 \" \\ \n \ud83c\udf89", "big": 1e400, "n": -0.0}',
  '[[[]], {"x": [null, true, false, 1.5e-7]}]',
  ARRAY[E'\\.', E'line\r\nbreak', E'\x01', '', ' ', 'NULL', 'null', E'"\\', '日本 🎉', E'\u2028', E'{a,b}'],
  ARRAY['[[1, 2], [3]]'::jsonb, '{"a": []}', NULL], ARRAY['[]'::json, '{}'], '{}', true, 1e-45, 1e-310, '-0.000',
  E'\\x5c22000d0a', '{}'),
  (11, E'\\.', '', ' lead', E'line\nbreak', 'ÄÖÜ',
  '"\u00e9"', '"é"', '{}', '{}', NULL, '{NULL}', false, '-0', 1e15, '1e-20', '\x', '{NULL}'),
  (12, E'"quoted", \\back\\slash\\', E'\r', 'x', 'n', 'c', 'null', 'null', '{""}', ARRAY['null'::jsonb], ARRAY['null'::json],
  '{f,t}', NULL, 123456.7, 1e-5, '1e+30', NULL, ARRAY[]::int[]);`

// placeRows moves the even ids to days past the 90-day retention (archived)
// and the odd ids to an hour ago (live).
const placeRows = `
ALTER TABLE every_type ADD COLUMN happened_at timestamptz;
UPDATE every_type SET happened_at = CASE WHEN id % 2 = 0
  THEN date_trunc('day', now()) - interval '100 days' - (id % 3) * interval '1 day' + id * interval '1 second'
  ELSE now() - interval '1 hour' END;
ALTER TABLE every_type ALTER COLUMN happened_at SET NOT NULL;`

// TestRetrieveWritesEveryTypeAsPostgreSQLDoes archives the even rows of an
// all-types table, keeps the odd ones live, and checks that retrieval, from
// the command line and over HTTP, writes every archived and live row as
// PostgreSQL does: each JSON line a strict JSON object equal to the row's
// row_to_json (numeric as its exact text), each CSV record the bytes COPY
// ... TO (FORMAT csv, HEADER) writes.
func TestRetrieveWritesEveryTypeAsPostgreSQLDoes(t *testing.T) {
	for _, backend := range []string{testenv.Local, testenv.Azurite, testenv.S3} {
		t.Run(backend, func(t *testing.T) {
			e := testenv.New(t, testenv.Options{Storage: backend, Prefix: "svc",
				Datasets: []testenv.Dataset{{Name: "every_type", Key: "id", TimeColumn: "happened_at"}}})
			pool, env := e.Pool, e.Vars
			for _, sql := range []string{pgtest.TypesDDL, pgtest.AllTypesTable("every_type"),
				pgtest.AllTypesRows("every_type"), hostileRows, placeRows} {
				if _, err := pool.Exec(context.Background(), sql); err != nil {
					t.Fatalf("%v\n%s", err, sql)
				}
			}
			want := pgtest.Render(t, pool, "every_type", "id")
			if r := run(t, env, "archive"); r.code != 0 {
				t.Fatalf("archive: exit %d\n%s%s", r.code, r.stdout, r.stderr)
			}
			live := count(t, pool, "SELECT count(*) FROM every_type")
			if archived := want.Rows() - live; live == 0 || archived == 0 || live != count(t, pool, "SELECT count(*) FROM every_type WHERE id % 2 = 1") {
				t.Fatalf("%d rows live and %d archived; want the odd ids live and the even ids archived", live, archived)
			}
			args := []string{"retrieve", "-d", "every_type", "--from", "2000-01-01", "--to", "2100-01-01"}
			r := run(t, env, append(args, "--format", "jsonl")...)
			if n := want.CheckJSONLines(t, []byte(r.stdout)); r.code != 0 || n != want.Rows()-live {
				t.Fatalf("retrieve jsonl: exit %d, %d archived rows, want %d\n%s", r.code, n, want.Rows()-live, r.stderr)
			}
			args = append(args, "--include-live")
			r = run(t, env, append(args, "--format", "jsonl")...)
			if n := want.CheckJSONLines(t, []byte(r.stdout)); r.code != 0 || n != want.Rows() {
				t.Fatalf("retrieve jsonl --include-live: exit %d, %d rows, want %d\n%s", r.code, n, want.Rows(), r.stderr)
			}
			r = run(t, env, append(args, "--format", "csv")...)
			if n := want.CheckCSV(t, []byte(r.stdout)); r.code != 0 || n != want.Rows() {
				t.Fatalf("retrieve csv --include-live: exit %d, %d rows, want %d\n%s", r.code, n, want.Rows(), r.stderr)
			}
			checkHTTPRetrieval(t, env, want)
		})
	}
}

// checkHTTPRetrieval checks the HTTP API's jsonl and csv of every row.
func checkHTTPRetrieval(t *testing.T, env map[string]string, want *pgtest.Rendered) {
	t.Helper()
	base, stop, _, _ := startServe(t, env, "--listen", "127.0.0.1:0", "--no-scheduler")
	defer stop()
	from, to := time.Now().AddDate(0, 0, -200).Format(time.DateOnly), time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	path := base + "/v1/datasets/every_type/archive/analytics?from=" + from + "&to=" + to + "&include_live=true"
	code, body := get(t, path)
	if n := want.CheckJSONLines(t, []byte(body)); code != http.StatusOK || n != want.Rows() {
		t.Fatalf("GET jsonl: %d, %d rows, want %d", code, n, want.Rows())
	}
	code, body = get(t, path+"&format=csv")
	if n := want.CheckCSV(t, []byte(body)); code != http.StatusOK || n != want.Rows() {
		t.Fatalf("GET csv: %d, %d rows, want %d", code, n, want.Rows())
	}
}

func count(t *testing.T, pool *pgxpool.Pool, sql string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Thousands of rows of text, arrays and NULLs over several objects, many
// pages and row groups' worth of reused buffers, come out of a retrieval
// exactly as PostgreSQL renders them, as CSV and as JSON lines.
func TestALongRetrievalWritesEveryRowAsPostgreSQLDoes(t *testing.T) {
	e := testenv.New(t, testenv.Options{Storage: testenv.Local, Prefix: "svc",
		Datasets: []testenv.Dataset{{Name: "wide", Key: "id", TimeColumn: "at"}}})
	if _, err := e.Pool.Exec(context.Background(), `CREATE TABLE wide (id int PRIMARY KEY, note text, tags text[], amount numeric, at timestamptz NOT NULL);
		INSERT INTO wide SELECT i,
		  CASE WHEN i % 13 = 0 THEN NULL ELSE repeat(md5(i::text), i % 7) || E'\n"' || i END,
		  CASE WHEN i % 11 = 0 THEN NULL ELSE ARRAY[md5(i::text), i::text, ''] END,
		  i * 1.25,
		  date_trunc('day', now()) - interval '100 days' - (i % 3) * interval '1 day' + i * interval '1 second'
		FROM generate_series(1, 9000) i`); err != nil {
		t.Fatal(err)
	}
	want := pgtest.Render(t, e.Pool, "wide", "id")
	if r := run(t, e.Vars, "archive"); r.code != 0 {
		t.Fatalf("archive: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if live := count(t, e.Pool, "SELECT count(*) FROM wide"); live != 0 {
		t.Fatalf("%d rows left after the archive, want all 9000 archived", live)
	}
	args := []string{"retrieve", "-d", "wide", "--from", "2000-01-01", "--to", "2100-01-01"}
	r := run(t, e.Vars, append(args, "--format", "csv")...)
	if n := want.CheckCSV(t, []byte(r.stdout)); r.code != 0 || n != 9000 {
		t.Fatalf("retrieve csv: exit %d, %d rows, want 9000\n%s", r.code, n, r.stderr)
	}
	r = run(t, e.Vars, append(args, "--format", "jsonl")...)
	if n := want.CheckJSONLines(t, []byte(r.stdout)); r.code != 0 || n != 9000 {
		t.Fatalf("retrieve jsonl: exit %d, %d rows, want 9000\n%s", r.code, n, r.stderr)
	}
}
