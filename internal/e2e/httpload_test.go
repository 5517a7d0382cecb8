package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestServeAnswersEveryIngestUnderLoad drives `strata serve` with 64
// concurrent clients posting 100-record batches, on one dataset and on
// three at once: every request must be answered 200 within 10 s with its
// own counts, every record must be in Layer 3, archived and transformed,
// and within a dataset requests must be stored in the order they arrived
// (a request answered before another was sent has lower ids, and the ids of
// one request are consecutive).
func TestServeAnswersEveryIngestUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		name     string
		datasets []string
	}{
		{"one dataset", []string{"orders"}},
		{"three datasets", []string{"orders", "customers", "scor_metrics"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newServeWorld(t, tc.datasets, 100000, "")
			p := w.startServe(nil)
			got := w.drive(p, 64, 4, 100)
			w.checkAnswered(got, 10*time.Second)
			w.checkStoredInArrivalOrder(got)
			p.stop(t)
		})
	}
}

// drive runs clients goroutines that each post perClient requests of n
// records (to the world's datasets in turn) and returns what they saw.
func (w *serveWorld) drive(p *serveProc, clients, perClient, n int) []posted {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := &http.Client{Timeout: 30 * time.Second}
	out := make([]posted, clients*perClient)
	var wg sync.WaitGroup
	for cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(cl), 7))
			for i := range perClient {
				req := int64(cl*perClient + i)
				ds := w.datasets[int(req)%len(w.datasets)]
				body := requestRecords(ds, req, n, rng)
				r := posted{dataset: ds.Name, req: req, records: n, sent: time.Now()}
				r.status, r.answer, r.err = postRecords(ctx, c, p.url, ds.Name, "", body)
				r.done = time.Now()
				out[req] = r
			}
		}()
	}
	wg.Wait()
	return out
}

// checkAnswered fails on any request that failed, was not answered 200
// with its own counts, or took longer than limit.
func (w *serveWorld) checkAnswered(got []posted, limit time.Duration) {
	w.t.Helper()
	var slowest time.Duration
	bad := 0
	for _, r := range got {
		took := r.done.Sub(r.sent)
		slowest = max(slowest, took)
		switch {
		case r.err != nil:
			w.t.Errorf("request %d to %s: %v (after %s)", r.req, r.dataset, r.err, took)
		case r.status != http.StatusOK:
			w.t.Errorf("request %d to %s: status %d: %s", r.req, r.dataset, r.status, r.answer.Error)
		case r.answer.Records != int64(r.records) || r.answer.Received != int64(r.records):
			w.t.Errorf("request %d to %s: answer counts %d stored of %d received, want %d", r.req, r.dataset,
				r.answer.Records, r.answer.Received, r.records)
		case took > limit:
			w.t.Errorf("request %d to %s took %s, over %s", r.req, r.dataset, took, limit)
		default:
			continue
		}
		if bad++; bad > 10 {
			w.t.Fatalf("more than 10 requests failed")
		}
	}
	w.t.Logf("%d requests, slowest answered in %s", len(got), slowest.Round(time.Millisecond))
}

// idRange is where one request's records landed in Layer 3.
type idRange struct {
	lo, hi, n int64
	processed int64
}

// storedRanges reads, per request, the Layer 3 ids its records got.
func (w *serveWorld) storedRanges(table string) map[int64]idRange {
	w.t.Helper()
	rows, err := w.pool.Query(context.Background(), `SELECT (raw_data->>'req')::bigint, min(raw_id), max(raw_id), count(*),
		count(*) FILTER (WHERE processed) FROM `+pgx.Identifier{table}.Sanitize()+` GROUP BY 1`)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[int64]idRange{}
	for rows.Next() {
		var req int64
		var r idRange
		if err := rows.Scan(&req, &r.lo, &r.hi, &r.n, &r.processed); err != nil {
			w.t.Fatal(err)
		}
		out[req] = r
	}
	if err := rows.Err(); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// checkStoredInArrivalOrder checks that each answered request's records
// are in Layer 3 once, processed, archived, with consecutive ids, and that
// a request answered before another was sent has the lower ids.
func (w *serveWorld) checkStoredInArrivalOrder(got []posted) {
	w.t.Helper()
	for _, ds := range w.datasets {
		src := "source_" + ds.Name
		ranges := w.storedRanges(src)
		var mine []posted
		for _, r := range got {
			if r.dataset != ds.Name || r.status != http.StatusOK {
				continue
			}
			mine = append(mine, r)
			s, ok := ranges[r.req]
			switch {
			case !ok:
				w.t.Errorf("%s: request %d was answered 200 but none of its records is in %s", ds.Name, r.req, src)
			case s.n != int64(r.records) || s.processed != s.n:
				w.t.Errorf("%s: request %d: %d records in %s (%d processed), want %d", ds.Name, r.req, s.n, src, s.processed, r.records)
			case s.hi-s.lo+1 != s.n:
				w.t.Errorf("%s: request %d: ids %d..%d are not consecutive for its %d records", ds.Name, r.req, s.lo, s.hi, s.n)
			}
		}
		for _, a := range mine {
			for _, b := range mine {
				if a.done.Before(b.sent) && ranges[a.req].hi > ranges[b.req].lo {
					w.t.Errorf("%s: request %d was answered before request %d was sent, but stored after it (ids %d.. vs %d..)",
						ds.Name, a.req, b.req, ranges[a.req].lo, ranges[b.req].lo)
				}
			}
		}
		unarchived := w.count(`SELECT count(*) FROM `+src+` s WHERE NOT EXISTS
			(SELECT 1 FROM strata.source_archived a WHERE a.dataset = $1 AND a.id = s.raw_id)`, ds.Name)
		if unarchived != 0 {
			w.t.Errorf("%s: %d Layer 3 rows are in no committed source object", ds.Name, unarchived)
		}
		w.t.Logf("%s: %d requests stored in %s source object(s)", ds.Name, len(mine),
			fmt.Sprint(w.count(`SELECT count(*) FROM strata.objects WHERE dataset = $1 AND archive_type = 'source'`, ds.Name)))
	}
}

// TestGroupWaitBoundsTheObjectsOfADataset runs 8 clients posting small
// requests as fast as they are answered with source.group_wait 300ms:
// batches close at least 300 ms apart, so the dataset gets at most one
// object per 300 ms of load, however many requests arrive.
func TestGroupWaitBoundsTheObjectsOfADataset(t *testing.T) {
	const wait = 300 * time.Millisecond
	w := newServeWorld(t, []string{"orders"}, 100000, "300ms")
	p := w.startServe(nil)
	start := time.Now()
	got := w.drive(p, 8, 6, 10)
	elapsed := time.Since(start)
	w.checkAnswered(got, 10*time.Second)
	objects := w.count(`SELECT count(*) FROM strata.objects WHERE archive_type = 'source'`)
	if limit := int64(elapsed/wait) + 1; objects > limit {
		t.Errorf("%d objects in %s with group_wait %s: want at most %d", objects, elapsed.Round(time.Millisecond), wait, limit)
	}
	if objects >= int64(len(got)) {
		t.Errorf("%d requests made %d objects: they were not coalesced", len(got), objects)
	}
	t.Logf("%d requests in %s: %d objects", len(got), elapsed.Round(time.Millisecond), objects)
	p.stop(t)
}
