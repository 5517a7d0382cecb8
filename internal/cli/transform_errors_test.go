package cli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/cli"
)

// tally sums up Layers 3 and 2 and the catalog of setupOrders's database.
func tally(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	err := pool.QueryRow(context.Background(), `SELECT format('source_orders=%s orders=%s objects=%s uploads=%s lineage=%s archived=%s quarantine=%s',
		(SELECT count(*) FROM source_orders), (SELECT count(*) FROM orders), (SELECT count(*) FROM strata.objects),
		(SELECT count(*) FROM strata.uploads), (SELECT count(*) FROM strata.lineage),
		(SELECT count(*) FROM strata.source_archived), (SELECT count(*) FROM strata.quarantine))`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeRecords writes JSON lines to a file and returns its path.
func writeRecords(t *testing.T, lines ...string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "records.jsonl")
	if err := os.WriteFile(f, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestIngestOfRecordsTheTransformCannotMapExitsTwoNamingTheLine(t *testing.T) {
	env, pool, _ := setupOrders(t)
	before := tally(t, pool)
	file := writeRecords(t,
		`{"order_id": 101, "customer_id": 7, "status": "PAID", "total": "1.25", "currency": "eur", "items": 1}`,
		`{"order_id": 102}`)
	r := run(t, env, "ingest", "--dataset", "orders", file)
	if r.code != cli.ExitUsage || r.stdout != "" ||
		!strings.Contains(r.stderr, "line 2: the transform of orders cannot map this record: null value in column \"customer_id\"") ||
		!strings.Contains(r.stderr, "SQLSTATE 23502") || !strings.Contains(r.stderr, "nothing was stored") {
		t.Fatalf("exit %d, want %d naming line 2\nstdout: %s\nstderr: %s", r.code, cli.ExitUsage, r.stdout, r.stderr)
	}
	if after := tally(t, pool); after != before {
		t.Fatalf("a rejected ingest stored something: %s -> %s", before, after)
	}

	// An input of several batches: the batches before the failing one are
	// stored (each whole), and the message and summary say so.
	env["STRATA_DATASETS_ORDERS_SOURCE_BATCH_MAX_ROWS"] = "2"
	var lines []string
	for i := 201; i <= 205; i++ {
		lines = append(lines, fmt.Sprintf(`{"order_id": %d, "customer_id": 7, "status": "PAID", "total": "1.25", "currency": "eur", "items": 1}`, i))
	}
	lines[3] = `{"order_id": 204, "total": "1.25"}`
	r = run(t, env, "ingest", "--dataset", "orders", writeRecords(t, lines...))
	if r.code != cli.ExitUsage || !strings.Contains(r.stdout, "ingested 2 of 5 records in 1 batch(es)") ||
		!strings.Contains(r.stderr, "line 4: ") || !strings.Contains(r.stderr, "the 2 records of the batches before it are stored") {
		t.Fatalf("a failing second batch: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if n := one[int64](t, pool, `SELECT count(*) FROM orders WHERE order_id BETWEEN 201 AND 205`); n != 2 {
		t.Fatalf("Layer 2 has %d of orders 201..205, want the first batch's 2", n)
	}
}

// one returns a query's single value.
func one[T any](t *testing.T, pool *pgxpool.Pool, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := pool.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

// A quarantined record's whole life: stored, archived, counted, kept by
// purge, shown by lineage and compare, left alone by a replay whose
// transform still fails, processed by a replay after the fix, then purged.
func TestQuarantinedRecordsWaitForAReplayAfterTheTransformIsFixed(t *testing.T) {
	env, pool, transform := setupOrders(t)
	env["STRATA_DATASETS_ORDERS_SOURCE_ON_TRANSFORM_ERROR"] = "quarantine"
	day := time.Now().UTC().Format(time.DateOnly)
	file := writeRecords(t,
		`{"order_id": 101, "customer_id": 7, "status": "PAID", "total": "1.25", "currency": "eur", "items": 1}`,
		`{"order_id": 102, "status": "NEW", "total": "2.50", "currency": "eur", "items": 2}`,
		`{"order_id": 103, "customer_id": 7, "status": "PAID", "total": "3.75", "currency": "eur", "items": 3}`)
	r := run(t, env, "ingest", "--dataset", "orders", file)
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "ingested 3 of 3 records") ||
		!strings.Contains(r.stdout, "1 record(s) quarantined") || !strings.Contains(r.stdout, `line 2: null value in column "customer_id"`) {
		t.Fatalf("ingest with quarantine: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	id := one[int64](t, pool, `SELECT raw_id FROM source_orders WHERE raw_data::text LIKE '%"order_id": 102,%'`)
	if n := one[int64](t, pool, `SELECT count(*) FROM strata.quarantine q JOIN source_orders s ON s.raw_id = q.id
		WHERE q.id = $1 AND q.resolved_at IS NULL AND q.sqlstate = '23502' AND NOT s.processed
		  AND EXISTS (SELECT 1 FROM strata.source_archived a WHERE a.id = q.id)`, id); n != 1 {
		t.Fatalf("record %d is not quarantined, unprocessed and archived", id)
	}
	if n := one[int64](t, pool, `SELECT count(*) FROM orders WHERE order_id IN (101, 102, 103)`); n != 2 {
		t.Fatalf("Layer 2 has %d of orders 101..103, want 101 and 103", n)
	}

	// Past its retention, purge removes every archived, processed row but
	// keeps the quarantined one.
	if _, err := pool.Exec(context.Background(), `UPDATE source_orders SET ingested_at = ingested_at - interval '30 days'`); err != nil {
		t.Fatal(err)
	}
	r = run(t, env, "purge", "--dataset", "orders")
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "purged 22 Layer 3 rows") || !strings.Contains(r.stdout, "1 of them quarantined") {
		t.Fatalf("purge: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if ids := one[[]int64](t, pool, `SELECT array_agg(raw_id) FROM source_orders`); len(ids) != 1 || ids[0] != id {
		t.Fatalf("Layer 3 after purge holds %v, want only the quarantined %d", ids, id)
	}

	r = run(t, env, "lineage", "--dataset", "orders", "--from", day, "--to", day)
	if !strings.Contains(r.stdout, "Quarantined: 1 record(s) the transform refused at ingest were stored unprocessed; 1 still wait, 0 were processed") || !strings.Contains(r.stdout, fmt.Sprintf("id %d ", id)) ||
		!strings.Contains(r.stdout, "1 record(s) of the period are quarantined") ||
		!strings.Contains(r.stdout, "quarantined 1 record(s) the transform refused") {
		t.Fatalf("lineage does not show the quarantined record: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	rep := decodeReport(t, run(t, env, "compare", "--dataset", "orders", "--from", day, "--to", day, "--format", "json"))
	if rep.SourceRecords["quarantined"] != 1 || rep.Missing != 1 {
		t.Fatalf("compare: %+v, want 1 quarantined record and its key missing", rep)
	}

	// The transform still maps it to a NULL customer_id: the replay fails
	// and the record stays quarantined.
	if r := run(t, env, "replay", "--dataset", "orders", "--from", day, "--to", day, "--apply"); r.code == cli.ExitOK ||
		!strings.Contains(r.stderr, "customer_id") {
		t.Fatalf("replay with the transform unfixed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := one[int64](t, pool, `SELECT count(*) FROM strata.quarantine WHERE resolved_at IS NULL`); n != 1 {
		t.Fatalf("a failed replay resolved the quarantine (%d open)", n)
	}

	fixTransform(t, transform)
	r = run(t, env, "replay", "--dataset", "orders", "--from", day, "--to", day, "--apply")
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "1 quarantined record(s) processed") {
		t.Fatalf("replay after the fix: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := one[int64](t, pool, `SELECT count(*) FROM orders WHERE order_id = 102 AND customer_id = 0 AND total = 2.50`); n != 1 {
		t.Fatal("the replay did not write order 102 as the fixed transform maps it")
	}
	if n := one[int64](t, pool, `SELECT count(*) FROM strata.quarantine q JOIN strata.runs r ON r.id = q.resolved_run
		JOIN source_orders s ON s.raw_id = q.id
		WHERE q.id = $1 AND q.resolved_at IS NOT NULL AND r.command = 'replay' AND s.processed`, id); n != 1 {
		t.Fatal("the quarantined record is not processed and resolved by the replay's run")
	}
	if r := run(t, env, "purge", "--dataset", "orders"); r.code != cli.ExitOK || !strings.Contains(r.stdout, "purged 1 Layer 3 rows") {
		t.Fatalf("purge after the replay: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "lineage", "--dataset", "orders", "--from", day, "--to", day)
	if !strings.Contains(r.stdout, "; 0 still wait, 1 were processed by a replay --apply") ||
		!strings.Contains(r.stdout, "processed 1 quarantined record(s)") ||
		strings.Contains(r.stdout, "of the period are quarantined") {
		t.Fatalf("lineage after the replay: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// fixTransform rewrites the orders transform so that a missing customer_id
// maps to 0 instead of NULL.
func fixTransform(t *testing.T, path string) {
	t.Helper()
	sql, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	fixed := strings.Replace(string(sql), "x.customer_id::bigint", "coalesce(x.customer_id::bigint, 0)", 1)
	if fixed == string(sql) {
		t.Fatal("the orders transform no longer casts x.customer_id::bigint: update fixTransform")
	}
	if err := os.WriteFile(path, []byte(fixed), 0o644); err != nil {
		t.Fatal(err)
	}
}
