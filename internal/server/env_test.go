package server_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	strata "github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/metrics"
	"github.com/stratahq/strata/internal/server"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

// env is a running API over a fresh database: the orders dataset with a
// Layer 3 table source_orders, the example transform and the Layer 2
// table orders, plus customers, a dataset with only an analytics table.
type env struct {
	t       *testing.T
	te      *testenv.Env
	pool    *pgxpool.Pool
	svc     *strata.Service
	srv     *server.Server
	url     string
	archive string
	logs    *testenv.SyncBuffer
}

// envOptions change what newEnv builds.
type envOptions struct {
	limits     func(*config.Server)
	failpoints string
	// archivedDays of orders rows are made and archived (analytics);
	// perDay rows each.
	archivedDays, perDay int
	jobs                 func() []server.JobStatus
	// kind is the archive's (testenv.Local when empty); storage replaces
	// it with a URL, getenv gives its credentials.
	kind    string
	storage string
	getenv  map[string]string
	// onTransformError sets the orders source.on_transform_error.
	onTransformError string
	// clock is the server's (access control's limit on failures).
	clock func() time.Time
	// tls makes the server answer HTTPS (serve it with Serve, not newEnv).
	tls *tls.Config
}

// newEnv builds an env and serves it with httptest.
func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := buildEnv(t, o)
	ts := httptest.NewServer(e.srv.Handler())
	t.Cleanup(ts.Close)
	e.url = ts.URL
	return e
}

// buildEnv builds an env without serving it.
func buildEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	te := testenv.New(t, envSetup(o))
	maps.Copy(te.Vars, o.getenv)
	e := &env{t: t, te: te, pool: te.Pool, archive: te.ArchiveDir, logs: &testenv.SyncBuffer{}}
	cfg := te.Config()
	if o.limits != nil {
		o.limits(&cfg.Server)
	}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.svc = testsvc.Open(t, te, strata.Options{Config: cfg, Logger: log, Failpoints: o.failpoints})
	if o.archivedDays > 0 {
		if _, err := e.svc.ArchiveAnalytics(context.Background(), "orders", archive.Options{}); err != nil {
			t.Fatalf("archive orders: %v", err)
		}
	}
	reg := prometheus.NewRegistry()
	e.srv = server.New(e.svc, server.Options{Logger: log, Metrics: metrics.New(reg), Registry: reg,
		Limits: cfg.Server, Jobs: o.jobs, Clock: o.clock, TLS: o.tls})
	return e
}

// envSetup is the environment of o: orders (with archivedDays+90 days of
// rows, the oldest archivedDays past the 90-day retention), source_orders,
// the example transform, and customers.
func envSetup(o envOptions) testenv.Options {
	orders := testenv.Dataset{Name: "orders", PerDay: max(o.perDay, 1), Source: true,
		Transform: "orders.sql", OnTransformError: o.onTransformError,
		Extra: "subject:\n  columns: [customer_id]\n  source_path: customer_id"}
	if orders.OnTransformError == "" {
		orders.OnTransformError = "reject"
	}
	if o.archivedDays > 0 {
		orders.Days = o.archivedDays + 91 // 90 days kept, today's partial day
	}
	return testenv.Options{Storage: o.kind, StorageURL: o.storage, Prefix: "svc", Extra: "erasure:\n  key_file: erasure.key",
		Datasets: []testenv.Dataset{orders, {Name: "customers"}}}
}

// backends are the archives the tests that try each run against: local
// disk always, Azurite when it runs.
func backends(t *testing.T) map[string]envOptions {
	t.Helper()
	out := map[string]envOptions{}
	for _, k := range testenv.Kinds(t) {
		out[k] = envOptions{kind: k}
	}
	return out
}

// records returns n raw order records, order ids from first, as sent.
func records(first, n int) []string {
	out := make([]string, n)
	now := time.Now().UTC().Format(time.RFC3339)
	for i := range out {
		out[i] = fmt.Sprintf(`{"order_id": %d, "customer_id": %d, "status": "PAID", "total": "%d.50", "currency": "eur", "items": %d, "ordered_at": "%s", "rec": %d}`,
			first+i, 1000+i%7, i%300, 1+i%5, now, i)
	}
	return out
}

// jsonl joins records as JSON lines.
func jsonl(recs []string) string { return strings.Join(recs, "\n") + "\n" }

// response is a finished request.
type response struct {
	code   int
	header http.Header
	body   []byte
	err    error // reading the body
}

// do sends a request and reads the whole answer.
func (e *env) do(method, path string, body io.Reader, header ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{code: resp.StatusCode, header: resp.Header, body: b, err: err}
}

func (e *env) get(path string) response { e.t.Helper(); return e.do("GET", path, nil) }

func (e *env) ingest(dataset, body string) response {
	e.t.Helper()
	return e.do("POST", "/v1/datasets/"+dataset+"/records", strings.NewReader(body), "Content-Type", "application/x-ndjson")
}

// errorOf decodes a JSON error body, failing when it is not one.
func errorOf(t *testing.T, r response) (msg string, detail any, id string) {
	t.Helper()
	var b struct {
		Error     string `json:"error"`
		Detail    any    `json:"detail"`
		RequestID string `json:"request_id"`
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("status %d with Content-Type %q, want a JSON error: %s", r.code, ct, r.body)
	}
	if err := json.Unmarshal(r.body, &b); err != nil || b.Error == "" {
		t.Fatalf("status %d: body is not a JSON error (%v): %s", r.code, err, r.body)
	}
	return b.Error, b.Detail, b.RequestID
}

// count returns a query's single number.
func (e *env) count(sql string) int64 {
	e.t.Helper()
	return e.te.Count(sql)
}

// state sums up the database: Layer 3 and Layer 2 rows, catalog objects
// in any state, and the tables there are.
func (e *env) state() string {
	e.t.Helper()
	return fmt.Sprintf("source_orders=%d orders=%d customers=%d catalog=%d tables=%d",
		e.count(`SELECT count(*) FROM source_orders`), e.count(`SELECT count(*) FROM orders`),
		e.count(`SELECT count(*) FROM customers`), e.count(`SELECT count(*) FROM strata.objects`),
		e.count(`SELECT count(*) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`))
}

// wide is a range over every archived day of the tests, within
// server.max_span.
var wide = "from=" + time.Now().UTC().AddDate(-1, 0, 0).Format(time.DateOnly) + "&to=" + today()

// today is the UTC date, for ranges over what was just ingested.
func today() string { return time.Now().UTC().Format(time.DateOnly) }
