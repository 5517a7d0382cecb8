package cli_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
}
