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
