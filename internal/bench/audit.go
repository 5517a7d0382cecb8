package main

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"text/tabwriter"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/storage/local"
)

// targetAuditCost is issue 14's bound: auditing costs at most 5% of
// retrieval and ingest throughput.
const targetAuditCost = 0.05

// The audit section (issue 14) measures the same work with the strata
// binary (-strata, which records every action in strata.audit) and one
// built with -tags strata_noaudit (-strata-noaudit, which records
// nothing), interleaved so that both see the same machine: per round, each
// binary in turn (the order alternating) runs strata ingest of the
// -ingest-records file, an HTTP ingest load of 100-record requests and an
// HTTP retrieval load of one-hour retrievals (a record per request: the
// worst case for the trail), each for -audit-duration.
type auditResults struct {
	// rate[measure][binary] are the rounds' throughputs (records or rows
	// per second); binary 0 is without the trail, 1 with it.
	rate    map[string][2][]float64
	loadAvg [2]string
}

// auditDB is the database of the audit section's ingests (the readings
// archive's catalog stays in the benchmark's own).
const auditDB = "strata_bench_audit"

// auditEnv is the audit section's ingest database.
type auditEnv struct {
	pool *pgxpool.Pool
}

// auditMeasures name the measurements, in report order.
var auditMeasures = []string{"strata ingest (records/s)", "HTTP ingest x100 (records/s)", "HTTP retrieval 1 h (rows/s)", "HTTP retrieval 1 h (requests/s)"}

func (b *bench) auditAB(ctx context.Context, d *retrData) (*auditResults, error) {
	if b.strataNoAudit == "" {
		return nil, fmt.Errorf("the audit section needs -strata-noaudit (a strata built with -tags strata_noaudit; scripts/bench.sh builds bin/strata-noaudit)")
	}
	file := filepath.Join(b.state, "ingest-1k.jsonl")
	if _, err := writeRecords(file, b.ingestRecords); err != nil {
		return nil, err
	}
	if err := b.freshDB(ctx, auditDB); err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, b.pg.cl.URL(auditDB))
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	b.audit = &auditEnv{pool: pool}
	with := b.strata
	defer func() { b.strata, b.audit = with, nil }()
	bins := [2]string{b.strataNoAudit, with}
	res := &auditResults{rate: map[string][2][]float64{}, loadAvg: [2]string{loadAvg()}}
	for round := range b.reps {
		for k := range 2 {
			which := (k + round) % 2 // alternate which binary goes first
			b.strata = bins[which]
			b.step("audit round %d: %s", round+1, map[int]string{0: "without the trail", 1: "with the trail"}[which])
			rates, err := b.auditRound(ctx, d, file, 100+round*2+which)
			if err != nil {
				return nil, err
			}
			for i, m := range auditMeasures {
				r := res.rate[m]
				r[which] = append(r[which], rates[i])
				res.rate[m] = r
			}
		}
	}
	res.loadAvg[1] = loadAvg()
	return res, nil
}

// auditRound runs the measurements once with b.strata.
func (b *bench) auditRound(ctx context.Context, d *retrData, file string, n int) ([]float64, error) {
	s, err := b.ingestOnce(ctx, file, n)
	if err != nil {
		return nil, err
	}
	out := []float64{float64(s.Rows) / s.Wall.Seconds()}
	ing, err := b.auditIngestLoad(ctx, n)
	if err != nil {
		return nil, err
	}
	out = append(out, float64(ing.items)/ing.wall.Seconds())
	ret, err := b.auditRetrievalLoad(ctx, d)
	if err != nil {
		return nil, err
	}
	return append(out, float64(ret.items)/ret.wall.Seconds(), float64(ret.requests)/ret.wall.Seconds()), nil
}

// auditIngestLoad posts 100-record requests to a fresh orders dataset.
func (b *bench) auditIngestLoad(ctx context.Context, n int) (*loadResult, error) {
	if err := b.freshIngestTables(ctx); err != nil {
		return nil, err
	}
	dir := filepath.Join(b.state, "archive", fmt.Sprintf("audit-ingest-%d", n))
	if err := local.RemoveArchive(dir); err != nil {
		return nil, err
	}
	tr, err := filepath.Abs("transforms/orders.sql")
	if err != nil {
		return nil, err
	}
	cfg, err := b.writeOrdersConfig("strata-audit-ingest.yaml", b.pg.cl.URL(auditDB), dir, tr)
	if err != nil {
		return nil, err
	}
	return b.auditLoad(ctx, cfg, "audit ingest", func(url string) (worker, error) { return ingestWorker(url, ingestBatch), nil })
}

// auditRetrievalLoad retrieves one hour per request from the readings
// archive.
func (b *bench) auditRetrievalLoad(ctx context.Context, d *retrData) (*loadResult, error) {
	cfg, err := b.writeReadingsConfig("strata-audit-serve.yaml", d.dir, "server:\n  scheduler: \"off\"\n")
	if err != nil {
		return nil, err
	}
	return b.auditLoad(ctx, cfg, "audit retrieval", func(url string) (worker, error) { return b.retrievalWorker(ctx, d, url) })
}

// auditLoad runs the worker mk makes for serve's URL against a strata
// serve on cfg for -audit-duration.
func (b *bench) auditLoad(ctx context.Context, cfg, name string, mk func(url string) (worker, error)) (*loadResult, error) {
	srv, err := b.startServe(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	w, err := mk(srv.url)
	if err != nil {
		return nil, err
	}
	res, err := b.runLoad(ctx, srv, name, []worker{w}, b.httpClients, b.auditDuration)
	if err != nil {
		return nil, err
	}
	if res[0].errors > 0 {
		return nil, fmt.Errorf("%s: %d errors, e.g. %v", name, res[0].errors, res[0].errSamples)
	}
	return res[0], srv.stop()
}

// reportAudit prints each measurement's median with and without the trail
// and what the trail costs.
func (b *bench) reportAudit(r *auditResults) {
	fmt.Fprintf(b.out, "\nAudit trail (issue 14): the same work with bin/strata and with a build that records nothing (-tags strata_noaudit), interleaved, %d round(s); %d HTTP clients, %s per load; load average %s -> %s\n",
		b.reps, b.httpClients, b.auditDuration, r.loadAvg[0], r.loadAvg[1])
	tw := tabwriter.NewWriter(b.out, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measure\twithout (median)\twith (median)\tcost\trounds without\trounds with\t")
	for _, m := range auditMeasures {
		rr := r.rate[m]
		wo, wi := median(rr[0]), median(rr[1])
		cost := 1 - wi/wo
		verdict := "PASS"
		if cost > targetAuditCost {
			verdict = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%+.1f%% %s\t%s\t%s\t\n", m, thousands(wo), thousands(wi), 100*cost, verdict, rates(rr[0]), rates(rr[1]))
	}
	tw.Flush()
	fmt.Fprintln(b.out, "cost = 1 - with/without (negative: faster with the trail, i.e. within the noise); target <= 5%")
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func rates(xs []float64) string {
	out := ""
	for i, x := range xs {
		if i > 0 {
			out += " "
		}
		out += thousands(x)
	}
	return out
}
