// Package demo creates the spec's example datasets (customers, scor_metrics,
// orders) in a database, with generated rows spread over a span of days, for
// `strata demo`, the benchmarks and the end-to-end tests.
package demo

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Dataset describes one example dataset.
type Dataset struct {
	Name       string
	Table      string
	Key        string
	TimeColumn string
	// PerDay is the number of rows generated for each day.
	PerDay int
	create string
	fill   string // INSERT ... SELECT over generate_series; $1 days, $2 rows per day
}

// Datasets are the spec's three examples.
var Datasets = []Dataset{
	{
		Name: "customers", Table: "customers", Key: "customer_id", TimeColumn: "updated_at", PerDay: 200,
		create: `CREATE TABLE customers (
			customer_id    bigint PRIMARY KEY,
			name           text NOT NULL,
			email          text,
			country        char(2),
			segment        text,
			lifetime_value numeric(12,2),
			tags           text[],
			attributes     jsonb,
			active         boolean NOT NULL,
			created_at     timestamptz NOT NULL,
			updated_at     timestamptz NOT NULL)`,
		fill: `INSERT INTO customers
			SELECT d * $2 + i, 'Customer ' || (d * $2 + i), 'c' || (d * $2 + i) || '@example.com',
			       (ARRAY['DE','FR','US','GB','JP','BR'])[1 + (i % 6)],
			       (ARRAY['enterprise','smb','consumer'])[1 + (i % 3)],
			       round((random() * 100000)::numeric, 2),
			       CASE WHEN i % 4 = 0 THEN NULL ELSE ARRAY['tier' || (i % 3), 'region' || (i % 5)] END,
			       jsonb_build_object('source', 'crm', 'score', i % 100, 'vip', i % 17 = 0),
			       i % 10 <> 0,
			       now() - make_interval(days => d + 400),
			       date_trunc('day', now()) - make_interval(days => d) + make_interval(secs => (i * 86399.0 / $2))
			FROM generate_series(0, $1 - 1) d, generate_series(0, $2 - 1) i`,
	},
	{
		Name: "scor_metrics", Table: "scor_metrics", Key: "metric_id", TimeColumn: "timestamp", PerDay: 2000,
		create: `CREATE TABLE scor_metrics (
			metric_id   bigint PRIMARY KEY,
			process_id  uuid NOT NULL,
			metric_name text NOT NULL,
			value       double precision,
			unit        text,
			"timestamp" timestamptz NOT NULL)`,
		fill: `INSERT INTO scor_metrics
			SELECT d * $2 + i, md5((i % 50)::text)::uuid,
			       (ARRAY['cycle_time','yield','throughput','defect_rate'])[1 + (i % 4)],
			       CASE WHEN i % 97 = 0 THEN NULL ELSE random() * 1000 END,
			       (ARRAY['s','pct','units/h','ppm'])[1 + (i % 4)],
			       date_trunc('day', now()) - make_interval(days => d) + make_interval(secs => (i * 86399.0 / $2))
			FROM generate_series(0, $1 - 1) d, generate_series(0, $2 - 1) i`,
	},
	{
		Name: "orders", Table: "orders", Key: "order_id", TimeColumn: "ordered_at", PerDay: 500,
		create: `CREATE TABLE orders (
			order_id    bigint PRIMARY KEY,
			customer_id bigint NOT NULL,
			status      text NOT NULL,
			total       numeric(12,2) NOT NULL,
			currency    char(3) NOT NULL,
			items       integer NOT NULL,
			ordered_at  timestamptz NOT NULL,
			shipped_on  date)`,
		fill: `INSERT INTO orders
			SELECT d * $2 + i, (d * 7 + i) % 24000,
			       (ARRAY['new','paid','shipped','delivered','cancelled'])[1 + (i % 5)],
			       round((random() * 500 + 5)::numeric, 2), 'EUR', 1 + i % 9,
			       date_trunc('day', now()) - make_interval(days => d) + make_interval(secs => (i * 86399.0 / $2)),
			       CASE WHEN i % 5 IN (2, 3) THEN (now() - make_interval(days => d - 2))::date END
			FROM generate_series(0, $1 - 1) d, generate_series(0, $2 - 1) i`,
	},
}

// Create makes ds's table and fills it with days days of rows, the newest
// day being today (UTC).
func Create(ctx context.Context, pool *pgxpool.Pool, ds Dataset, days int) error {
	if _, err := pool.Exec(ctx, ds.create); err != nil {
		return fmt.Errorf("create %s: %w", ds.Table, err)
	}
	if _, err := pool.Exec(ctx, ds.fill, days, ds.PerDay); err != nil {
		return fmt.Errorf("fill %s: %w", ds.Table, err)
	}
	if _, err := pool.Exec(ctx, "CREATE INDEX ON "+ds.Table+" ("+quote(ds.TimeColumn)+")"); err != nil {
		return fmt.Errorf("index %s: %w", ds.Table, err)
	}
	if _, err := pool.Exec(ctx, "VACUUM ANALYZE "+ds.Table); err != nil {
		return fmt.Errorf("analyze %s: %w", ds.Table, err)
	}
	return nil
}

func quote(ident string) string { return `"` + ident + `"` }
