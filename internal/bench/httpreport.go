package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"text/tabwriter"
	"time"
)

// runLoad runs n clients of each worker kind against serve for dur,
// after one untimed request of each kind, and returns a result per kind.
func (b *bench) runLoad(ctx context.Context, srv *serveProc, name string, workers []worker, n int, dur time.Duration) ([]*loadResult, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n * len(workers), DisableCompression: true}}
	defer client.CloseIdleConnections()
	for _, w := range workers {
		if name != "mixed" { // warm-up, not counted (the mixed load follows warmed loads)
			if _, _, err := w.do(ctx, client, 0); err != nil {
				return nil, fmt.Errorf("%s warm-up: %w", w.kind, err)
			}
		}
	}
	res := make([]*loadResult, len(workers))
	for k, w := range workers {
		res[k] = &loadResult{load: name, kind: w.kind, clients: n}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	srvCPU0, _ := srv.cpu()
	m := startMeter(b.pg.cl.Dir)
	deadline := time.Now().Add(dur)
	var next [8]int64 // request numbers per worker kind (at most 8 kinds)
	for k, w := range workers {
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var lat []time.Duration
				var reqs, errs, items, bytes int64
				var samples []string
				for time.Now().Before(deadline) && ctx.Err() == nil {
					mu.Lock()
					i := int(next[k])
					next[k]++
					mu.Unlock()
					t0 := time.Now()
					it, by, err := w.do(ctx, client, i)
					lat = append(lat, time.Since(t0))
					reqs++
					if err != nil {
						errs++
						if len(samples) < 3 {
							samples = append(samples, err.Error())
						}
						continue
					}
					items += it
					bytes += by
				}
				mu.Lock()
				r := res[k]
				r.lat = append(r.lat, lat...)
				r.requests += reqs
				r.errors += errs
				r.items += items
				r.bytes += bytes
				r.errSamples = append(r.errSamples, samples...)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	var s sample
	m.stop(&s, -1)
	srvCPU1, rss := srv.cpu()
	for _, r := range res {
		r.wall, r.pgCPU, r.serverCPU, r.serverRSS = s.Wall, s.PGCPU, srvCPU1-srvCPU0, rss
		r.otherCPU = max(0, s.OtherCPU+s.ClientCPU-r.serverCPU) // machineBusy counts serve too
		b.step("HTTP %s load, %s: %d clients, %s requests in %s, %s requests/s, %d errors, p50 %s p99 %s",
			name, r.kind, n, thousands(float64(r.requests)), r.wall.Round(time.Millisecond), thousands(rate(r.requests, r.wall)),
			r.errors, pct(r.lat, 0.50), pct(r.lat, 0.99))
	}
	return res, ctx.Err()
}

// pct returns the p-quantile of the latencies (nearest rank).
func pct(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	c := slices.Clone(lat)
	slices.Sort(c)
	i := int(p*float64(len(c))+0.999999) - 1
	return c[min(max(i, 0), len(c)-1)]
}

func msec(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

// reportHTTP prints the loads' figures and the zero-error check.
func (b *bench) reportHTTP(h *httpResults) {
	out, res := b.out, h.loads
	fmt.Fprintf(out, "\nHTTP API under load (issue 4): strata serve --listen 127.0.0.1:0 --no-scheduler (a second process), %d clients per kind\n", b.httpClients)
	fmt.Fprintf(out, "in this process over loopback (keep-alive), %s per load after one untimed request of each kind; latency = request sent to body read.\n", b.httpDuration)
	fmt.Fprintf(out, "retrieval: GET one hour of one day (columns ts,device_id,value, jsonl), a different hour each request; each reads and verifies a whole day object\n")
	fmt.Fprintf(out, "ingest:    POST %d orders records of ~1 KB as JSON lines (one batch: Layer 3 + source archive object + transform + Layer 2 per request)\n", ingestBatch)
	fmt.Fprintf(out, "an error is a transport error, a status other than 200, a broken body, or a row/record count other than expected\n\n")
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "load\tkind\trequests\treq/s\trows or records/s\tMB/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\tserve CPU s\tPG CPU s\tother CPU s\tserve peak RSS\t")
	for _, r := range res {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.1f\t%s\t%s\t%s\t%s\t%d\t%.2f\t%.2f\t%.2f\t%s\t\n", r.load, r.kind, thousands(float64(r.requests)),
			thousands(rate(r.requests, r.wall)), thousands(rate(r.items, r.wall)), rate(r.bytes, r.wall)/1e6,
			msec(pct(r.lat, 0.5)), msec(pct(r.lat, 0.9)), msec(pct(r.lat, 0.99)), msec(pct(r.lat, 1)), r.errors,
			r.serverCPU.Seconds(), r.pgCPU.Seconds(), r.otherCPU.Seconds(), mib(r.serverRSS))
	}
	tw.Flush()
	var errs int64
	for _, r := range res {
		errs += r.errors
		for _, s := range r.errSamples {
			fmt.Fprintf(out, "  error (%s, %s): %s\n", r.load, r.kind, s)
		}
	}
	fmt.Fprintf(out, "  ingest check: source_orders holds %s processed records; the 200 answers counted %s\n", thousands(float64(h.stored)), thousands(float64(h.answered)))
	fmt.Fprintf(out, "  zero errors under load  %d errors  %s\n", errs, pass(errs == 0 && h.stored == h.answered))
}
