package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	strata "github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/server"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

// BenchmarkConsoleOverview is the server time of the console's overview
// (GET /: the catalog read in one snapshot, the page rendered) for a large
// archive: 10 datasets with 2,500 days each of source and analytics
// objects (50,000 catalog rows, 50,000 calendar cells). The Layer 2 tables
// are empty: their per-day count is a scan whose cost is the database's.
// docs/BENCHMARKS.md has the figures.
func BenchmarkConsoleOverview(b *testing.B) {
	const datasets, days = 10, 2500
	var dss []testenv.Dataset
	for i := 1; i <= datasets; i++ {
		dss = append(dss, testenv.Dataset{Name: fmt.Sprintf("ds%02d", i), Key: "id", TimeColumn: "t"})
	}
	te := testenv.New(b, testenv.Options{Prefix: "bench", Datasets: dss})
	for _, ds := range dss {
		te.Exec(`CREATE TABLE ` + ds.Name + ` (id bigint PRIMARY KEY, t timestamptz NOT NULL)`)
	}
	svc := testsvc.Open(b, te, strata.Options{})
	te.Exec(`INSERT INTO strata.objects (id, dataset, archive_type, day, key, state, source_table, rows, bytes, sha256,
			schema_fingerprint, committed_at, expires_at)
		SELECT nextval('strata.object_id_seq'), ds, typ, day, format('bench/%s/%s/%s/chunk.parquet', typ, ds, to_char(day, 'YYYY/MM/DD')),
			'committed', ds, 1000 + (extract(doy FROM day)::int % 7), 65536, repeat('ab', 32), 'fp', now(), day + interval '7 years'
		FROM generate_series(1, $1::int) d, format('ds%s', lpad(d::text, 2, '0')) ds, unnest(ARRAY['source', 'analytics']) typ,
			generate_series(date '2019-01-01', date '2019-01-01' + ($2::int - 1), interval '1 day') day`, datasets, days)
	if n := te.Count(`SELECT count(*) FROM strata.objects`); n != 2*datasets*days {
		b.Fatalf("%d objects seeded, want %d", n, 2*datasets*days)
	}
	h := server.New(svc, server.Options{}).Handler()
	b.Run("read", func(b *testing.B) { // the Service's part: the catalog and the tables, in one snapshot
		for b.Loop() {
			if _, err := svc.Overview(context.Background(), strata.OverviewRequest{}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("page", func(b *testing.B) { // GET /: the read and the page rendered
		var size int
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
			if rec.Code != http.StatusOK {
				b.Fatalf("GET /: %d %s", rec.Code, rec.Body.String()[:min(rec.Body.Len(), 500)])
			}
			size = rec.Body.Len()
		}
		b.ReportMetric(float64(size)/(1<<20), "MiB/page")
	})
}
