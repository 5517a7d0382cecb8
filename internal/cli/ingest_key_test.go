package cli_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/cli"
)

// TestAnIngestWithAKeyResumesAfterAFailureAndThenReplays runs strata ingest
// with --idempotency-key over 5 records in batches of 2: a failure right
// after the first batch commits leaves 2 stored; the same command again
// stores only the other 3; once more it stores nothing and prints the first
// answer; the key with other records exits 2.
func TestAnIngestWithAKeyResumesAfterAFailureAndThenReplays(t *testing.T) {
	env, pool, _ := setupOrders(t)
	env["STRATA_DATASETS_ORDERS_SOURCE_BATCH_MAX_ROWS"] = "2"
	var lines []string
	for i := 301; i <= 305; i++ {
		lines = append(lines, fmt.Sprintf(`{"order_id": %d, "customer_id": 7, "status": "PAID", "total": "1.25", "currency": "eur", "items": 1}`, i))
	}
	file := writeRecords(t, lines...)
	stored := func() int64 {
		return one[int64](t, pool, `SELECT count(*) FROM source_orders WHERE (raw_data->>'order_id')::bigint BETWEEN 301 AND 305`)
	}

	env["STRATA_FAILPOINTS"] = "after-commit=error"
	r := run(t, env, "ingest", "--dataset", "orders", "--idempotency-key", "nightly-301", file)
	if r.code != cli.ExitFailure || stored() != 2 {
		t.Fatalf("with a failure after the first commit: exit %d, %d stored, want exit %d and 2\nstdout: %s\nstderr: %s",
			r.code, stored(), cli.ExitFailure, r.stdout, r.stderr)
	}
	delete(env, "STRATA_FAILPOINTS")
	r = run(t, env, "ingest", "--dataset", "orders", "--idempotency-key", "nightly-301", file)
	if r.code != 0 || stored() != 5 || !strings.Contains(r.stdout, "ingested 5 of 5 records") {
		t.Fatalf("the retry: exit %d, %d stored, want 0 and 5\nstdout: %s\nstderr: %s", r.code, stored(), r.stdout, r.stderr)
	}
	if n := one[int64](t, pool, `SELECT count(DISTINCT raw_data->>'order_id') FROM source_orders WHERE (raw_data->>'order_id')::bigint BETWEEN 301 AND 305`); n != 5 {
		t.Fatalf("%d distinct records stored, want 5 (each once)", n)
	}
	before := tally(t, pool)
	r = run(t, env, "ingest", "--dataset", "orders", "--idempotency-key", "nightly-301", file)
	if r.code != 0 || !strings.Contains(r.stdout, "ingested before; nothing stored this time") || tally(t, pool) != before {
		t.Fatalf("once more: exit %d, want 0 and nothing stored\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "ingest", "--dataset", "orders", "--idempotency-key", "nightly-301", writeRecords(t, lines[:4]...))
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "first sent with other records") || tally(t, pool) != before {
		t.Fatalf("the key with other records: exit %d, want %d and nothing stored\nstdout: %s\nstderr: %s", r.code, cli.ExitUsage, r.stdout, r.stderr)
	}
}
