package scheduler_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/scheduler"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

const (
	dataset     = "orders"
	sourceTable = "source_orders"
	// cutoffSQL is the analytics archive's cutoff for retention 90d.
	cutoffSQL = `date_trunc('day', now() - interval '2160 hours', 'UTC')`
	// pendingSQL counts Layer 3 rows not yet in a committed source batch.
	pendingSQL = `SELECT count(*) FROM ` + sourceTable + ` s WHERE NOT EXISTS
		(SELECT 1 FROM strata.source_archived a WHERE a.dataset = 'orders' AND a.id = s.raw_id)`
	oldLeftSQL = `SELECT count(*) FROM orders WHERE order_id IN (SELECT order_id FROM ref_old)`
)

// fixture is one test's database (the orders example with 100 days of
// Layer 2 rows and an empty Layer 3 table) and a strata.yaml for it with a
// local-disk archive.
type fixture struct {
	*testenv.Env
	t *testing.T
	// oldRows is the Layer 2 rows past retention at setup, kept in ref_old.
	oldRows int64
}

// setup says how the fixture's dataset is configured.
type setup struct {
	batchRows       int    // source.batch_max_rows
	sourceRetention string // source.retention
}

func newFixture(t *testing.T, s setup) *fixture {
	t.Helper()
	e := testenv.New(t, testenv.Options{Prefix: "svc", Datasets: []testenv.Dataset{{
		Name: dataset, Days: 100, PerDay: 20, Source: true,
		SourceRetention: s.sourceRetention, BatchMaxRows: s.batchRows, BatchMaxWait: "immediate",
	}}})
	f := &fixture{Env: e, t: t}
	f.Exec(`CREATE TABLE ref_old AS SELECT order_id FROM orders WHERE ordered_at < ` + cutoffSQL)
	if f.oldRows = f.Count(`SELECT count(*) FROM ref_old`); f.oldRows == 0 {
		t.Fatal("the fixture has no Layer 2 rows past retention")
	}
	return f
}

// config loads the fixture's strata.yaml with the given job intervals.
func (f *fixture) config(source, analytics, purge time.Duration) *config.Config {
	f.t.Helper()
	cfg := f.Config()
	cfg.Datasets[0].Schedule = config.Schedule{SourceArchive: config.DurationOf(source),
		AnalyticsArchive: config.DurationOf(analytics), Purge: config.DurationOf(purge)}
	return cfg
}

// service opens a Service (its own pool) on the fixture.
func (f *fixture) service(cfg *config.Config) *strata.Service {
	f.t.Helper()
	return testsvc.Open(f.t, f.Env, strata.Options{Config: cfg})
}

// insertSource writes n raw records into Layer 3 with plain SQL, as
// another program would.
func (f *fixture) insertSource(n int) {
	f.t.Helper()
	f.Exec(`INSERT INTO `+sourceTable+` (raw_data)
		SELECT json_build_object('order_id', g, 'total', g % 97)::json FROM generate_series(1, $1) g`, n)
}

// catalogRows sums the rows of the committed objects of one archive type.
func (f *fixture) catalogRows(typ string) int64 {
	f.t.Helper()
	return f.Count(`SELECT coalesce(sum(rows), 0) FROM strata.objects
		WHERE dataset = 'orders' AND state = 'committed' AND archive_type = '` + typ + `'`)
}

// archived reads one integer column of every archived row back from
// storage (checksums verified), sorted.
func (f *fixture) archived(svc *strata.Service, typ, col string) []int64 {
	f.t.Helper()
	now := time.Now()
	rows, err := svc.RetrieveArchivedData(context.Background(), strata.RetrieveRequest{Table: dataset, DataType: typ,
		Start: now.AddDate(-1, 0, 0), End: now.Add(24 * time.Hour), Columns: []string{col}})
	if err != nil {
		f.t.Fatalf("retrieve %s: %v", typ, err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		ids = append(ids, rows.Values()[0].(int64))
	}
	if err := rows.Err(); err != nil {
		f.t.Fatalf("retrieve %s: %v", typ, err)
	}
	slices.Sort(ids)
	return ids
}

// checkSourceOnce asserts that each of the want Layer 3 rows is in exactly
// one committed source object and marked archived once, and no other row is.
func (f *fixture) checkSourceOnce(svc *strata.Service, want int64) {
	f.t.Helper()
	live := f.Ints(`SELECT raw_id FROM ` + sourceTable + ` ORDER BY raw_id`)
	ids := f.archived(svc, "source", "raw_id")
	marked := f.Count(`SELECT count(*) FROM strata.source_archived WHERE dataset = 'orders'`)
	if int64(len(live)) != want || int64(len(ids)) != want || marked != want || f.catalogRows("source") != want {
		f.t.Errorf("source: %d rows inserted, %d in Layer 3, %d read back from the archive, %d marked archived, catalog counts %d",
			want, len(live), len(ids), marked, f.catalogRows("source"))
	}
	if !slices.Equal(ids, live) {
		f.t.Errorf("source: the archive's ids differ from Layer 3's (duplicated %d, lost %d)",
			len(ids)-len(slices.Compact(slices.Clone(ids))), len(setMinus(live, ids)))
	}
}

// checkAnalyticsOnce asserts that every Layer 2 row past retention at setup
// left the table and is in exactly one committed analytics object.
func (f *fixture) checkAnalyticsOnce(svc *strata.Service) {
	f.t.Helper()
	ids := f.archived(svc, "analytics", "order_id")
	ref := f.Ints(`SELECT order_id FROM ref_old ORDER BY order_id`)
	if left := f.Count(oldLeftSQL); left != 0 {
		f.t.Errorf("analytics: %d rows past retention are still in Layer 2", left)
	}
	if !slices.Equal(ids, ref) || f.catalogRows("analytics") != f.oldRows {
		f.t.Errorf("analytics: %d rows past retention, %d read back from the archive (%d distinct), catalog counts %d",
			len(ref), len(ids), len(slices.Compact(slices.Clone(ids))), f.catalogRows("analytics"))
	}
}

// setMinus returns the elements of a (sorted) missing from b (sorted).
func setMinus(a, b []int64) []int64 {
	var out []int64
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}

// noJitter starts every job at once.
func noJitter(time.Duration) time.Duration { return 0 }

// start runs s until the returned stop is called; stop cancels Run and
// returns how long Run took to return.
func start(t *testing.T, s *scheduler.Scheduler) (stop func() time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	var once sync.Once
	var took time.Duration
	stop = func() time.Duration {
		once.Do(func() {
			t0 := time.Now()
			cancel()
			select {
			case err := <-errc:
				if err != nil {
					t.Errorf("Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("Run did not return 30s after its context was cancelled")
			}
			took = time.Since(t0)
		})
		return took
	}
	t.Cleanup(func() { stop() })
	return stop
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: still waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metric sums the values of the counters called name whose labels include
// labels.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			n := 0
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v == lp.GetValue() {
					n++
				}
			}
			if n == len(labels) {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// logBuffer collects JSON log lines from several goroutines.
type logBuffer struct{ testenv.SyncBuffer }

// lines returns the log lines whose fields include every one of match.
func (b *logBuffer) lines(t *testing.T, match map[string]any) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		ok := true
		for k, v := range match {
			ok = ok && fmt.Sprint(m[k]) == fmt.Sprint(v)
		}
		if ok {
			out = append(out, m)
		}
	}
	return out
}
