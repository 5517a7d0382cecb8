package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// SourceTable is the Layer 3 table of ds: raw records as received.
func SourceTable(ds Dataset) string { return "source_" + ds.Name }

// CreateSource makes ds's Layer 3 table in the documented shape.
func CreateSource(ctx context.Context, pool *pgxpool.Pool, ds Dataset) error {
	_, err := pool.Exec(ctx, `CREATE TABLE `+SourceTable(ds)+` (
		raw_id      bigserial PRIMARY KEY,
		raw_data    json NOT NULL,
		ingested_at timestamptz NOT NULL DEFAULT now(),
		processed   boolean NOT NULL DEFAULT false)`)
	if err != nil {
		return fmt.Errorf("create %s: %w", SourceTable(ds), err)
	}
	return nil
}

// Records returns n raw JSON records for ds in the shape its transform in
// transforms/ expects, with keys from first on. A few records repeat an
// earlier key (an update), and the spacing varies, as real senders' does.
func Records(ds Dataset, first int64, n int, now time.Time, rng *rand.Rand) [][]byte {
	out := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		id := first + int64(i)
		if i > 0 && i%25 == 0 {
			id = first + int64(rng.IntN(i)) // a later record for an earlier key
		}
		ts := now.Add(-time.Duration(rng.IntN(3600)) * time.Second).UTC().Format(time.RFC3339)
		out = append(out, record(ds.Name, id, i, ts, rng))
	}
	return out
}

func record(name string, id int64, i int, ts string, rng *rand.Rand) []byte {
	switch name {
	case "customers":
		return fmt.Appendf(nil, `{"customer_id": %d, "name": "Customer %d", "email": "c%d@example.com", "country": "%s", "segment": "%s", "lifetime_value": "%.2f", "tags": ["tier%d"], "attributes": {"source": "crm", "score": %d}, "active": %t, "created_at": "2024-01-15T09:00:00Z", "updated_at": "%s"}`,
			id, id, id, []string{"de", "fr", "us", "gb"}[i%4], []string{"enterprise", "smb", "consumer"}[i%3],
			rng.Float64()*50000, i%3, rng.IntN(100), i%7 != 0, ts)
	case "scor_metrics":
		return fmt.Appendf(nil, `{"metric_id":%d,"process_id":"c4ca4238-a0b9-2382-0dcc-509a6f75849b","metric_name":"%s","value":%.3f,"unit":"s","timestamp":"%s"}`,
			id, []string{"cycle_time", "yield", "throughput"}[i%3], rng.Float64()*100, ts)
	default:
		return fmt.Appendf(nil, `{ "order_id": %d, "customer_id": %d, "status": "%s", "total": "%.2f", "currency": "eur", "items": %d, "ordered_at": "%s", "shipped_on": null }`,
			id, 1000+i%500, []string{"NEW", "PAID", "SHIPPED"}[i%3], 5+rng.Float64()*500, 1+i%9, ts)
	}
}
