package cli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/cli"
	"github.com/stratahq/strata/internal/testenv"
)

// setupOrders creates the orders dataset with Layer 3, Layer 2 and the
// example transform beside the config, ingests 20 orders (keys 1..20)
// through the command line, and returns the environment, the pool and the
// transform file.
func setupOrders(t *testing.T) (map[string]string, *pgxpool.Pool, string) {
	t.Helper()
	e := testenv.New(t, testenv.Options{Datasets: []testenv.Dataset{
		{Name: "orders", Source: true, Transform: "transforms/orders.sql"}, {Name: "customers"}}})
	var recs []string
	at := time.Now().UTC().Format(time.RFC3339)
	for i := 1; i <= 20; i++ {
		recs = append(recs, fmt.Sprintf(`{"order_id": %d, "customer_id": 7, "status": "PAID", "total": "%d.25", "currency": "eur", "items": 1, "ordered_at": "%s", "shipped_on": null}`, i, i, at))
	}
	file := e.WriteFile("orders.jsonl", strings.Join(recs, "\n")+"\n")
	if r := run(t, e.Vars, "ingest", "--dataset", "orders", file); r.code != 0 {
		t.Fatalf("ingest: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	return e.Vars, e.Pool, filepath.Join(e.Dir, "transforms", "orders.sql")
}

// jsonReport is the part of compare's JSON the tests read.
type jsonReport struct {
	Matched, Missing, Unexpected, Changed int64
	Columns                               map[string]int64
	Agree                                 bool
	SourceRecords                         map[string]int64 `json:"source_records"`
	TransformVersion                      string           `json:"transform_version"`
	Applied                               *struct {
		Inserted, Updated int64
	}
}

func decodeReport(t *testing.T, r result) jsonReport {
	t.Helper()
	var rep jsonReport
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("not a JSON report (%v): exit %d\n%s%s", err, r.code, r.stdout, r.stderr)
	}
	return rep
}

func TestCompareExitsZeroWhenTheyAgreeAndThreeWhenTheyDiffer(t *testing.T) {
	env, pool, _ := setupOrders(t)
	day := time.Now().UTC().Format(time.DateOnly)
	r := run(t, env, "compare", "--dataset", "orders", "--from", day, "--to", day, "--format", "json")
	rep := decodeReport(t, r)
	if r.code != cli.ExitOK || rep.Matched != 20 || !rep.Agree || rep.SourceRecords["archive"] != 20 || len(rep.TransformVersion) != 64 {
		t.Fatalf("compare after ingest: exit %d %+v\n%s", r.code, rep, r.stderr)
	}
	if _, err := pool.Exec(context.Background(), `UPDATE orders SET status = 'lost' WHERE order_id <= 3`); err != nil {
		t.Fatal(err)
	}
	r = run(t, env, "compare", "--dataset", "orders", "--from", day, "--to", day, "--format", "json")
	rep = decodeReport(t, r)
	if r.code != cli.ExitFound || rep.Changed != 3 || rep.Matched != 17 || rep.Columns["status"] != 3 || rep.Agree {
		t.Fatalf("compare after damage: exit %d %+v\n%s", r.code, rep, r.stderr)
	}
	r = run(t, env, "compare", "--dataset", "orders", "--from", day, "--to", day)
	for _, want := range []string{"matched    17", "changed     3  status 3", `order_id=1  status: expected "paid", found "lost"`, "differ (exit 3)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.code != cli.ExitFound {
		t.Errorf("text compare: exit %d, want 3", r.code)
	}
}

func TestReplayReportsThenAppliesAndExitsZero(t *testing.T) {
	env, pool, transform := setupOrders(t)
	b, err := os.ReadFile(transform)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(transform, []byte(strings.Replace(string(b), "lower(x.status)", "upper(x.status)", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	args := []string{"replay", "--dataset", "orders", "--from", day, "--to", day}
	r := run(t, env, args...)
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "changed    20  status 20") || !strings.Contains(r.stdout, "dry run: nothing was changed") {
		t.Fatalf("dry replay: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	count := func() (n int64) {
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM orders WHERE status = 'PAID'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if count() != 0 {
		t.Fatal("a dry replay changed Layer 2")
	}
	r = run(t, env, append(args, "--apply", "--format", "json")...)
	if rep := decodeReport(t, r); r.code != cli.ExitOK || rep.Applied == nil || rep.Applied.Updated != 20 || count() != 20 {
		t.Fatalf("replay --apply: exit %d %+v\n%s", r.code, rep, r.stderr)
	}
	r = run(t, env, append(args, "--apply")...)
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "applied: nothing to change") {
		t.Fatalf("second replay --apply: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "compare", "-d", "orders", "--from", day, "--to", day); r.code != cli.ExitOK || !strings.Contains(r.stdout, "agree") {
		t.Fatalf("compare after replay: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestCompareAndReplayRefuseBadInputWithExitTwo(t *testing.T) {
	env, _, _ := setupOrders(t)
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"no dataset", []string{"compare", "--from", "2024-01-01", "--to", "2024-01-02"}, "--dataset is required"},
		{"an unknown dataset", []string{"compare", "-d", "nosuch", "--from", "2024-01-01", "--to", "2024-01-02"}, `no dataset "nosuch"`},
		{"a dataset without a transform", []string{"replay", "-d", "customers", "--from", "2024-01-01", "--to", "2024-01-02"}, "needs a source table"},
		{"a reversed period", []string{"replay", "-d", "orders", "--from", "2024-02-01", "--to", "2024-01-01", "--apply"}, "before"},
		{"a bad time", []string{"compare", "-d", "orders", "--from", "last week", "--to", "2024-01-01"}, "RFC 3339"},
		{"no period", []string{"compare", "-d", "orders"}, "--from is required"},
		{"an unknown format", []string{"compare", "-d", "orders", "--from", "2024-01-01", "--to", "2024-01-02", "--format", "yaml"}, "--format"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, env, c.args...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 saying %q", r.code, r.stderr, c.want)
			}
		})
	}
}
