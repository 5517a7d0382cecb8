package overview_test

import (
	"context"
	"strings"
	"testing"
	"time"

	strata "github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/overview"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

// TestEveryDayStateIsTheOneTheCatalogAndTheTablesGive archives orders,
// then gives archived days each state through the catalog (as a
// correction, a restore, an expiry would) and a late row, and checks the
// overview's states, sums and integrity signals against PostgreSQL.
func TestEveryDayStateIsTheOneTheCatalogAndTheTablesGive(t *testing.T) {
	ctx := context.Background()
	te := testenv.New(t, testenv.Options{Prefix: "ov", Datasets: []testenv.Dataset{
		{Name: "orders", Days: 100, PerDay: 4, Source: true, Transform: "orders.sql"}, {Name: "customers"}}})
	svc := testsvc.Open(t, te, strata.Options{})
	recs := `{"order_id": 900001, "customer_id": 7, "status": "PAID", "total": "1.25", "currency": "eur", "items": 1, "ordered_at": "` + time.Now().UTC().Format(time.RFC3339) + `"}` + "\n"
	if _, err := svc.Ingest(ctx, "orders", strings.NewReader(recs)); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ArchiveAnalytics(ctx, "orders", archive.Options{}); err != nil {
		t.Fatal(err)
	}
	days := te.Ints(`SELECT (day - date '1970-01-01')::bigint FROM strata.objects WHERE archive_type = 'analytics' ORDER BY day LIMIT 6`)
	if len(days) < 6 {
		t.Fatalf("%d archived days, want 6 or more", len(days))
	}
	day := func(i int) time.Time { return time.Unix(days[i]*86400, 0).UTC() }
	te.Exec(`UPDATE strata.objects SET expires_at = now() + interval '10 days' WHERE archive_type = 'analytics' AND day = $1`, day(0))
	te.Exec(`UPDATE strata.objects SET state = 'restored' WHERE archive_type = 'analytics' AND day = $1`, day(1))
	te.Exec(`INSERT INTO strata.objects (id, dataset, archive_type, day, key, state, source_table, rows, bytes, sha256, schema_fingerprint, committed_at, expires_at)
		SELECT nextval('strata.object_id_seq'), dataset, archive_type, day, key || '.v2', state, source_table, rows - 1, bytes, sha256, schema_fingerprint, now(), expires_at
		FROM strata.objects WHERE archive_type = 'analytics' AND day = $1`, day(2))
	te.Exec(`UPDATE strata.objects o SET superseded_by = n.id FROM strata.objects n
		WHERE n.key = o.key || '.v2' AND o.archive_type = 'analytics' AND o.day = $1`, day(2))
	te.Exec(`UPDATE orders SET ordered_at = $1::date + interval '1 hour' WHERE order_id = (SELECT max(order_id) FROM orders)`, day(3))
	te.Exec(`UPDATE strata.objects SET state = 'expired' WHERE archive_type = 'analytics' AND day = $1`, day(4))
	te.Exec(`INSERT INTO strata.runs (command, dataset, status, finished_at, error) VALUES ('archive', 'orders', 'failed', now(), 'disk full')`)
	te.Exec(`INSERT INTO strata.uploads (id, dataset, archive_type, day, key, state, rows, bytes, sha256)
		VALUES (nextval('strata.object_id_seq'), 'orders', 'analytics', $1, 'ov/analytics/orders/left.parquet', 'intent', 1, 1, repeat('0', 64))`, day(5))

	rep, err := overview.Build(ctx, te.Pool, te.Config().Datasets, overview.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Datasets) != 2 || rep.Datasets[0].Name != "orders" {
		t.Fatalf("datasets %+v", rep.Datasets)
	}
	o := rep.Datasets[0]
	state := map[time.Time]string{}
	for _, d := range o.AnalyticsDays {
		state[d.Day] = d.State
	}
	want := []string{overview.StateExpiring, overview.StateRestored, overview.StateSuperseded, overview.StatePartly, overview.StateExpired, overview.StateArchived}
	for i, w := range want {
		if state[day(i)] != w {
			t.Errorf("%s: %q, want %q", day(i).Format(time.DateOnly), state[day(i)], w)
		}
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	if state[today] != overview.StateLive {
		t.Errorf("today's analytics (in Layer 2 only): %q, want live", state[today])
	}
	if len(o.SourceDays) != 1 || o.SourceDays[0].State != overview.StateArchived || o.SourceDays[0].Rows != 1 {
		t.Errorf("source days %+v, want today's ingest, archived", o.SourceDays)
	}
	current := `FROM strata.objects WHERE dataset = 'orders' AND archive_type = 'analytics' AND state = 'committed' AND superseded_by IS NULL`
	if o.Analytics.Objects != te.Count(`SELECT count(*) `+current) || o.Analytics.Rows != te.Count(`SELECT sum(rows) `+current) ||
		o.Analytics.Bytes != te.Count(`SELECT sum(bytes) `+current) || o.Analytics.Superseded != 1 || o.Analytics.Restored != 1 || o.Analytics.Expired != 1 {
		t.Errorf("analytics archive %+v, against the catalog's", o.Analytics)
	}
	if o.Layer2.Rows != te.Count(`SELECT count(*) FROM orders`) || o.Layer2.Bytes <= 0 {
		t.Errorf("Layer 2 %+v, orders holds %d rows", o.Layer2, te.Count(`SELECT count(*) FROM orders`))
	}
	if o.Layer3.Rows != te.Count(`SELECT count(*) FROM source_orders`) || o.Layer3.Pending != 0 {
		t.Errorf("Layer 3 %+v, source_orders holds %d rows, all archived", o.Layer3, te.Count(`SELECT count(*) FROM source_orders`))
	}
	in := rep.Integrity
	if in.LastVerify != nil || in.Failed != 1 || len(in.FailedRuns) != 1 || in.FailedRuns[0].Error != "disk full" ||
		in.Uploads != 1 || in.Unfinished[0].State != "intent" || !in.Unfinished[0].Day.Equal(day(5)) {
		t.Errorf("integrity %+v", in)
	}
	vrep, err := svc.Archiver().Verify(ctx, archive.VerifyOptions{Dataset: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err = overview.Build(ctx, te.Pool, te.Config().Datasets, overview.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lv := rep.Integrity.LastVerify
	wantStatus := "ok"
	if len(vrep.Problems) > 0 {
		wantStatus = "failed"
	}
	if lv == nil || lv.Command != "verify" || lv.Status != wantStatus || lv.Objects != vrep.Checked {
		t.Errorf("last verify %+v after a verify of %d objects with %d problems", lv, vrep.Checked, len(vrep.Problems))
	}

	te.Exec(`ANALYZE orders`)
	te.Exec(`ANALYZE source_orders`)
	rep, err = overview.Build(ctx, te.Pool, te.Config().Datasets, overview.Options{MaxCountRows: 1})
	if err != nil {
		t.Fatal(err)
	}
	o = rep.Datasets[0]
	if !o.Layer2.Estimated || o.Layer2.Rows != te.Count(`SELECT reltuples::bigint FROM pg_class WHERE oid = 'orders'::regclass`) ||
		o.Layer3.Estimated || o.Layer3.Rows != 1 || o.Layer3.Pending != 0 {
		t.Errorf("MaxCountRows 1: Layer 2 %+v (365 rows), Layer 3 %+v (1 row); want the planner's estimate for the first, a count for the second", o.Layer2, o.Layer3)
	}
	for _, d := range o.AnalyticsDays {
		if d.Live != 0 || d.State == overview.StateLive {
			t.Errorf("%s: %d live rows counted in a table too large to count", d.Day.Format(time.DateOnly), d.Live)
		}
	}
	if o.Analytics.Objects != te.Count(`SELECT count(*) `+current) {
		t.Errorf("the archive's figures changed with the tables' estimate: %+v", o.Analytics)
	}
}
