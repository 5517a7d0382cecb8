package main

import (
	"context"
	"fmt"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/stratahq/strata/internal/storage/local"
)

// Issue 10's figures for HTTP ingest of 100-record requests.
const (
	targetHTTPIngest = 20_000 // records/s
	goalHTTPIngest   = 50_000
	targetHTTPP99    = 500 * time.Millisecond
)

// ingestLoad is one HTTP ingest load and what it left in the catalog.
type ingestLoad struct {
	*loadResult
	perRequest int
	objects    int64 // source objects committed during the load
	loadAvg    [2]string
}

// ingestLoads starts strata serve on the orders example (fresh tables)
// and drives it with -ingest-clients clients posting -ingest-duration of
// 100-record requests, then of 1-record requests. It checks that Layer 3
// holds exactly the records the 200 answers counted.
func (b *bench) ingestLoads(ctx context.Context) ([]ingestLoad, error) {
	if err := b.freshIngestTables(ctx); err != nil {
		return nil, err
	}
	dir := filepath.Join(b.state, "archive", "ingest-http")
	if err := local.RemoveArchive(dir); err != nil {
		return nil, err
	}
	tr, err := filepath.Abs("transforms/orders.sql")
	if err != nil {
		return nil, err
	}
	cfg, err := b.writeOrdersConfig("strata-ingest-http.yaml", b.pg.cl.URL(dbName), dir, tr)
	if err != nil {
		return nil, err
	}
	srv, err := b.startServe(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	var out []ingestLoad
	answered := int64(ingestBatch + 1) // the two warm-up requests
	for _, n := range []int{ingestBatch, 1} {
		before, err := b.sourceObjects(ctx)
		if err != nil {
			return nil, err
		}
		l := ingestLoad{perRequest: n, loadAvg: [2]string{loadAvg()}}
		res, err := b.runLoad(ctx, srv, fmt.Sprintf("ingest x%d", n), []worker{ingestWorker(srv.url, n)}, b.ingestClients, b.ingestDuration)
		if err != nil {
			return nil, err
		}
		l.loadResult, l.loadAvg[1] = res[0], loadAvg()
		after, err := b.sourceObjects(ctx)
		if err != nil {
			return nil, err
		}
		l.objects = after - before - 1 // the warm-up request's batch
		answered += l.items
		out = append(out, l)
	}
	if err := srv.stop(); err != nil {
		return nil, err
	}
	var stored int64
	if err := b.pg.pool.QueryRow(ctx, `SELECT count(*) FROM source_orders WHERE processed`).Scan(&stored); err != nil {
		return nil, err
	}
	if stored != answered {
		return nil, fmt.Errorf("HTTP ingest: Layer 3 holds %d processed records, the 200 answers counted %d", stored, answered)
	}
	return out, nil
}

// sourceObjects counts the committed source objects of orders.
func (b *bench) sourceObjects(ctx context.Context) (int64, error) {
	var n int64
	err := b.pg.pool.QueryRow(ctx, `SELECT count(*) FROM strata.objects WHERE dataset = 'orders' AND archive_type = 'source'`).Scan(&n)
	return n, err
}

// reportIngestLoads prints the HTTP ingest figures and issue 10's checks.
func (b *bench) reportIngestLoads(loads []ingestLoad) {
	if len(loads) == 0 {
		return
	}
	out := b.out
	fmt.Fprintf(out, "\nHTTP ingest under load (issue 10): strata serve --no-scheduler (a second process), %d clients in this process over loopback,\n", b.ingestClients)
	fmt.Fprintf(out, "%s per load after one untimed request; each client posts ~1 KB orders records as JSON lines as fast as it is answered;\n", b.ingestDuration)
	fmt.Fprintf(out, "concurrent requests are coalesced (group commit, source.group_wait 20ms); objects = source objects committed during the load\n\n")
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "records/request\trequests\treq/s\trecords/s\tp50 ms\tp99 ms\tmax ms\terrors\tobjects\trecords/object\tserve CPU s\tPG CPU s\tother CPU s\tserve peak RSS\tload avg before/after\t")
	for _, l := range loads {
		perObj := 0.0
		if l.objects > 0 {
			perObj = float64(l.items) / float64(l.objects)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%.2f\t%.2f\t%.2f\t%s\t%s / %s\t\n", l.perRequest, thousands(float64(l.requests)),
			thousands(rate(l.requests, l.wall)), thousands(rate(l.items, l.wall)), msec(pct(l.lat, 0.5)), msec(pct(l.lat, 0.99)),
			msec(pct(l.lat, 1)), l.errors, l.objects, thousands(perObj), l.serverCPU.Seconds(), l.pgCPU.Seconds(), l.otherCPU.Seconds(),
			mib(l.serverRSS), l.loadAvg[0], l.loadAvg[1])
	}
	tw.Flush()
	l := loads[0]
	got := rate(l.items, l.wall)
	tw = tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  HTTP ingest, %d clients x %d records\t>= %s records/s (goal %s)\t%s\t%s\n", b.ingestClients, ingestBatch,
		thousands(targetHTTPIngest), thousands(goalHTTPIngest), thousands(got), pass(got >= targetHTTPIngest))
	fmt.Fprintf(tw, "  HTTP ingest p99\t< %s ms\t%s\t%s\n", msec(targetHTTPP99), msec(pct(l.lat, 0.99)), pass(pct(l.lat, 0.99) < targetHTTPP99))
	fmt.Fprintf(tw, "  HTTP ingest errors\t0\t%d\t%s\n", l.errors+loads[1].errors, pass(l.errors+loads[1].errors == 0))
	tw.Flush()
}
