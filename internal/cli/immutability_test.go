package cli_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/cli"
	"github.com/stratahq/strata/internal/testenv"
)

// immutable is a dataset's extra YAML asking for write-once retention.
const immutable = "archive:\n  immutability: compliance\n"

func TestWithImmutabilityOnAStoreThatCannotEnforceItWritingCommandsRefuseToStart(t *testing.T) {
	e := testenv.New(t, testenv.Options{Storage: testenv.Azurite, Prefix: "svc",
		Datasets: []testenv.Dataset{{Name: "orders", Days: 95, PerDay: 5, Source: true, Transform: "orders.sql", Extra: immutable}}})
	for _, args := range [][]string{
		{"archive"},
		{"ingest", "-d", "orders"},
		{"purge"},
		{"verify", "--repair"},
		{"restore", "-d", "orders", "--type", "analytics", "--from", "2000-01-01", "--to", "2000-01-02"},
		{"replay", "-d", "orders", "--from", "2000-01-01", "--to", "2000-01-02", "--apply"},
		{"serve", "--listen", "127.0.0.1:0"},
	} {
		r := run(t, e.Vars, args...)
		t.Logf("%v: %s", args, r.stderr)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "archive.immutability compliance") ||
			!strings.Contains(r.stderr, "orders") {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 naming archive.immutability compliance and the dataset", args, r.code, r.stderr)
		}
	}
	var n int64
	if err := e.Pool.QueryRow(context.Background(), `SELECT count(*) FROM strata.uploads`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d uploads (err %v) after refusing to start; want none", n, err)
	}
	// Commands that only read still run.
	for _, args := range [][]string{{"catalog", "list"}, {"verify"}, {"archive", "--dry-run"}} {
		if r := run(t, e.Vars, args...); r.code != 0 {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

func TestIngestedRecordsAreArchivedUnderRetentionUntilTheirDayEndsPlusArchiveRetention(t *testing.T) {
	e := testenv.New(t, testenv.Options{Datasets: []testenv.Dataset{{Name: "orders", Source: true, Transform: "orders.sql",
		Extra: "archive:\n  immutability: governance\n  retention: 30d\n"}}})
	file := e.WriteFile("orders.jsonl", `{"order_id": 1, "customer_id": 7, "status": "PAID", "total": "1.25", "currency": "eur", "items": 1}`+"\n")
	r := run(t, e.Vars, "ingest", "--dataset", "orders", file)
	if r.code != 0 || !strings.Contains(r.stderr, "not WORM") {
		t.Fatalf("ingest: exit %d, want 0 and a warning that a local disk is not WORM\n%s%s", r.code, r.stdout, r.stderr)
	}
	ctx := context.Background()
	var key, until string
	if err := e.Pool.QueryRow(ctx, `SELECT key, to_char(retain_until AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
		FROM strata.objects WHERE archive_type = 'source' AND retention_mode = 'governance'
		  AND retain_until = expires_at AND expires_at = ((day + 1)::timestamp AT TIME ZONE 'UTC') + interval '30 days'`).Scan(&key, &until); err != nil {
		t.Fatalf("no source object under governance retention until the end of its day + 30d: %v", err)
	}
	if r := run(t, e.Vars, "catalog", "list", "--objects"); !strings.Contains(r.stdout, key) || !strings.Contains(r.stdout, "governance "+until) {
		t.Errorf("catalog list --objects: want %s under governance until %s\n%s", key, until, r.stdout)
	}
	if r := run(t, e.Vars, "verify", "--retention"); r.code != 0 || !strings.Contains(r.stdout, "retention "+key+" governance "+until) {
		t.Errorf("verify --retention: exit %d, want 0 and the storage stating governance until %s for %s\n%s%s", r.code, until, key, r.stdout, r.stderr)
	}
}
