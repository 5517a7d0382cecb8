package transform_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/demo"
	"github.com/stratahq/strata/internal/pgtest"
	"github.com/stratahq/strata/internal/transform"
)

// createSource makes a Layer 3 table as the docs describe it and stores
// records in it, in order; it returns their raw_ids.
func createSource(t *testing.T, ctx context.Context, pool *pgxpool.Pool, table string, records ...string) []int64 {
	t.Helper()
	ddl := fmt.Sprintf(`CREATE TABLE %s (
		raw_id      bigserial PRIMARY KEY,
		raw_data    json NOT NULL,
		ingested_at timestamptz NOT NULL DEFAULT now(),
		processed   boolean NOT NULL DEFAULT false)`, pgx.Identifier{table}.Sanitize())
	if _, err := pool.Exec(ctx, ddl); err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(records))
	for i, rec := range records {
		q := fmt.Sprintf("INSERT INTO %s (raw_data) VALUES ($1::text::json) RETURNING raw_id", pgx.Identifier{table}.Sanitize())
		if err := pool.QueryRow(ctx, q, rec).Scan(&ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	return ids
}

// loadText writes sql to a file and loads it.
func loadText(t *testing.T, sql string) *transform.Transform {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.sql")
	if err := os.WriteFile(path, []byte(sql), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := transform.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestLateralRunsOncePerSourceRowAndTheLatestRecordWins(t *testing.T) {
	_, pool := pgtest.NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ids := createSource(t, ctx, pool, "source_customers",
		`{"customer_id": 1, "name": "Ada", "lifetime_value": "10.50"}`,
		`{"customer_id": 2, "name": "Bob", "lifetime_value": ""}`,
		`{"customer_id": 1, "name": "Ada Lovelace", "lifetime_value": 99}`,
		`{"customer_id": 3, "name": "Not asked for"}`,
	)
	tr := loadText(t, `-- a transform with an alias, ->> extraction and defensive casts
SELECT (r.raw_data->>'customer_id')::bigint AS customer_id,
       r.raw_data->>'name' AS name,
       nullif(r.raw_data->>'lifetime_value', '')::numeric(12,2) AS lifetime_value,
       coalesce(nullif(r.raw_data->>'updated_at', '')::timestamptz, r.ingested_at) AS updated_at
FROM {{source}} AS r
WHERE r.raw_data->>'customer_id' IS NOT NULL;
`)
	q := `SELECT DISTINCT ON (customer_id) s.raw_id, t.customer_id, t.name, t.lifetime_value::text, t.updated_at = s.ingested_at
		FROM source_customers s CROSS JOIN LATERAL (` + tr.Lateral("s") + `) t
		WHERE s.raw_id = ANY($1)
		ORDER BY customer_id, s.raw_id DESC`
	rows, err := pool.Query(ctx, q, ids[:3])
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	var got []string
	for rows.Next() {
		var rawID, id int64
		var name string
		var value *string
		var timeFromSource bool
		if err := rows.Scan(&rawID, &id, &name, &value, &timeFromSource); err != nil {
			t.Fatal(err)
		}
		v := "NULL"
		if value != nil {
			v = *value
		}
		got = append(got, fmt.Sprintf("raw %d: %d %s %s %v", rawID, id, name, v, timeFromSource))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("raw %d: 1 Ada Lovelace 99.00 true", ids[2]),
		fmt.Sprintf("raw %d: 2 Bob NULL true", ids[1]),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rows:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestLateralWithoutAnAliasNamesTheRowSource(t *testing.T) {
	_, pool := pgtest.NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ids := createSource(t, ctx, pool, "src", `{"tags": ["a", "b"]}`, `{"tags": ["c"]}`)
	// One source row may yield several analytics rows, each knowing its row.
	tr := loadText(t, "SELECT source.raw_id AS id, tag FROM {{source}}\nCROSS JOIN LATERAL json_array_elements_text(source.raw_data->'tags') AS tag -- one row per tag")
	q := `SELECT s.raw_id, t.id, t.tag FROM src s CROSS JOIN LATERAL (` + tr.Lateral("s") + `) t WHERE s.raw_id = ANY($1) ORDER BY t.tag`
	rows, err := pool.Query(ctx, q, ids)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	var got []string
	for rows.Next() {
		var rawID, id int64
		var tag string
		if err := rows.Scan(&rawID, &id, &tag); err != nil {
			t.Fatal(err)
		}
		if rawID != id {
			t.Errorf("row of raw_id %d carries raw_id %d", rawID, id)
		}
		got = append(got, tag)
	}
	if rows.Err() != nil || strings.Join(got, ",") != "a,b,c" {
		t.Errorf("tags = %v, %v", got, rows.Err())
	}
}

// sampleRecord returns the sample raw record that a transform file's header
// comment shows: the first comment line that holds a JSON object.
func sampleRecord(t *testing.T, text string) string {
	t.Helper()
	for line := range strings.SplitSeq(text, "\n") {
		if rec, ok := strings.CutPrefix(line, "-- {"); ok {
			rec = "{" + rec
			if !json.Valid([]byte(rec)) {
				t.Fatalf("the sample record is not JSON: %s", rec)
			}
			return rec
		}
	}
	t.Fatal("the header comment shows no sample record (a line -- {...})")
	return ""
}

// TestTheExampleTransformsFillTheDemoTables runs each file of transforms/
// on the sample record its header shows and stores the result in the demo
// dataset's Layer 2 table: every column the table has, and no other.
func TestTheExampleTransformsFillTheDemoTables(t *testing.T) {
	_, pool := pgtest.NewDB(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	checks := map[string]string{
		"customers":    `SELECT customer_id = 1001 AND name = 'Ada Lovelace' AND country = 'GB' AND lifetime_value = 15234.50 AND tags = '{tier1,region2}' AND attributes->>'vip' = 'true' AND active AND updated_at = '2024-11-01T12:30:00Z' FROM customers`,
		"scor_metrics": `SELECT metric_id = 500001 AND process_id = 'c4ca4238-a0b9-2382-0dcc-509a6f75849b' AND value = 12.75 AND unit = 's' AND "timestamp" = '2024-11-01T08:15:30Z' FROM scor_metrics`,
		"orders":       `SELECT order_id = 90001 AND status = 'paid' AND total = 149.90 AND currency = 'EUR' AND items = 3 AND shipped_on IS NULL AND ordered_at = '2024-11-01T09:15:00Z' FROM orders`,
	}
	for _, ds := range demo.Datasets {
		t.Run(ds.Name, func(t *testing.T) {
			tr, err := transform.Load(filepath.Join("..", "..", "transforms", ds.Name+".sql"))
			if err != nil {
				t.Fatal(err)
			}
			if err := demo.Create(ctx, pool, ds, 0); err != nil {
				t.Fatal(err)
			}
			source := "source_" + ds.Name
			createSource(t, ctx, pool, source, sampleRecord(t, tr.Text()))
			lateral := "FROM " + source + " s CROSS JOIN LATERAL (" + tr.Lateral("s") + ") t"
			cols := outputColumns(t, ctx, pool, "SELECT t.* "+lateral+" LIMIT 0")
			if want := tableColumns(t, ctx, pool, ds.Table); strings.Join(cols, ",") != strings.Join(want, ",") {
				t.Fatalf("the transform yields columns %v, the table has %v", cols, want)
			}
			list := strings.Join(quoteAll(cols), ", ")
			insert := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s %s", ds.Table, list, list, lateral)
			if tag, err := pool.Exec(ctx, insert); err != nil || tag.RowsAffected() != 1 {
				t.Fatalf("%s: %v, %v", insert, tag, err)
			}
			var ok bool
			if err := pool.QueryRow(ctx, checks[ds.Name]).Scan(&ok); err != nil || !ok {
				t.Errorf("the stored row is not the sample record's (%v): %s", err, checks[ds.Name])
			}
		})
	}
}

func outputColumns(t *testing.T, ctx context.Context, pool *pgxpool.Pool, q string) []string {
	t.Helper()
	rows, err := pool.Query(ctx, q)
	if err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	defer rows.Close()
	var cols []string
	for _, f := range rows.FieldDescriptions() {
		cols = append(cols, f.Name)
	}
	return cols
}

func tableColumns(t *testing.T, ctx context.Context, pool *pgxpool.Pool, table string) []string {
	t.Helper()
	rows, err := pool.Query(ctx, `SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum`, table)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return cols
}

func quoteAll(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = pgx.Identifier{n}.Sanitize()
	}
	return out
}
