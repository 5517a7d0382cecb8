package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/cli"
)

func TestRestoreThroughTheCommandLine(t *testing.T) {
	ctx := context.Background()
	e := setupEnv(t)
	env, db := e.Vars, e.Pool
	if r := run(t, env, "archive"); r.code != 0 {
		t.Fatalf("archive: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	day := func(ago int) string { // the database's clock made the rows
		var d time.Time
		if err := db.QueryRow(ctx, `SELECT date_trunc('day', now(), 'UTC') - make_interval(days => $1)`, ago).Scan(&d); err != nil {
			t.Fatal(err)
		}
		return d.UTC().Format(time.DateOnly)
	}
	// Days 95..93 ago; --to as a time within the day restores that whole day.
	from, to := day(95), day(93)+"T01:00:00Z"

	r := run(t, env, "restore", "--dataset", "orders", "--type", "analytics", "--from", from, "--to", to)
	if r.code != 0 || !strings.Contains(r.stdout, "orders "+day(95)+": restored 20 rows from 1 object(s)") ||
		!strings.Contains(r.stdout, "orders: restored 60 rows from 3 object(s) of 3 day(s)") || !strings.Contains(r.stdout, "marked restored") {
		t.Fatalf("restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var back int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM orders WHERE ordered_at < now() - interval '92 days'`).Scan(&back); err != nil || back != 60 {
		t.Fatalf("%d restored rows in Layer 2 (err %v), want 60", back, err)
	}
	all := run(t, env, "retrieve", "-d", "orders", "--from", day(99), "--to", day(0), "--columns", "order_id", "--format", "csv", "--include-live")
	lines := strings.Split(strings.TrimSpace(all.stdout), "\n")[1:]
	seen := map[string]bool{}
	for _, l := range lines {
		if seen[l] {
			t.Fatalf("order %s retrieved twice after the restore", l)
		}
		seen[l] = true
	}
	if all.code != 0 || len(lines) != 100*20 {
		t.Fatalf("retrieve --include-live: exit %d, %d rows, want 2000\n%s", all.code, len(lines), all.stderr)
	}
	if r := run(t, env, "restore", "-d", "orders", "--from", from, "--to", to); r.code != 0 || !strings.Contains(r.stdout, "nothing archived") {
		t.Fatalf("restoring the same days again: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "archive"); r.code != 0 || !strings.Contains(r.stdout, "orders: archived") {
		t.Fatalf("archive after restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// A newer row with an archived key: refused, nothing changed.
	if _, err := db.Exec(ctx, `INSERT INTO orders VALUES (95 * 20 + 3, 1, 'reopened', 1, 'EUR', 1, now(), NULL)`); err != nil {
		t.Fatal(err)
	}
	r = run(t, env, "restore", "-d", "orders", "--from", from, "--to", to)
	if r.code != cli.ExitFailure || !strings.Contains(r.stderr, "order_id=1903") || !strings.Contains(r.stderr, "nothing was restored") {
		t.Fatalf("restore over a newer row: exit %d, want 1 naming order_id=1903\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = run(t, env, "restore", "-d", "orders", "--from", from, "--to", to, "--into", "orders_then")
	if r.code != 0 || !strings.Contains(r.stdout, "into public.orders_then (created)") || !strings.Contains(r.stdout, "catalog is unchanged") {
		t.Fatalf("restore --into: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "restore", "-d", "orders", "--from", from, "--to", to, "--into", "orders_then"); r.code != cli.ExitUsage || !strings.Contains(r.stderr, "not empty") {
		t.Fatalf("restore --into a table that is not empty: exit %d, want 2\n%s", r.code, r.stderr)
	}
}

func TestRestoreRefusesBadInputWithExitTwo(t *testing.T) {
	cfg, _ := setup(t)
	env := map[string]string{"STRATA_CONFIG": cfg}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"SQL as the table", []string{"--into", "x; DROP TABLE y"}, "--into"},
		{"a path as the table", []string{"--into", "../a"}, "--into"},
		{"a quoted name", []string{"--into", `"orders"`}, "--into"},
		{"three parts", []string{"--into", "a.b.c"}, "too many dots"},
		{"the catalog", []string{"--into", "strata.objects"}, "belongs to PostgreSQL or Strata"},
		{"the Layer 2 table", []string{"--into", "public.orders"}, "Layer 2"},
		{"the source archive", []string{"--type", "source"}, "strata replay"},
		{"an unknown dataset", []string{"-d", "nope"}, `no dataset "nope"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"restore", "-d", "orders", "--from", "2000-01-01", "--to", "2100-01-01"}, c.args...)
			r := run(t, env, args...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and a message containing %q", r.code, r.stderr, c.want)
			}
		})
	}
	for _, args := range [][]string{{"restore", "-d", "orders", "--from", "2024-02-01", "--to", "2024-01-01"}, {"restore", "-d", "orders"}} {
		if r := run(t, env, args...); r.code != cli.ExitUsage {
			t.Fatalf("%v: exit %d, want 2\n%s", args, r.code, r.stderr)
		}
	}
	if r := run(t, env, "restore", "--help"); r.code != 0 || !strings.Contains(r.stdout, "whole day") || !strings.Contains(r.stdout, "--into") {
		t.Fatalf("restore --help: exit %d\n%s", r.code, r.stdout)
	}
}
