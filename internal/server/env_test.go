package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	strata "github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/demo"
	"github.com/stratahq/strata/internal/metrics"
	"github.com/stratahq/strata/internal/pgtest"
	"github.com/stratahq/strata/internal/server"
	"github.com/stratahq/strata/transforms"
)

// env is a running API over a fresh database: the orders dataset with a
// Layer 3 table source_orders, the example transform and the Layer 2
// table orders, plus customers, a dataset with only an analytics table.
type env struct {
	t       *testing.T
	pool    *pgxpool.Pool
	svc     *strata.Service
	srv     *server.Server
	url     string
	archive string
	logs    *syncBuffer
}

// envOptions change what newEnv builds.
type envOptions struct {
	limits     func(*config.Server)
	failpoints string
	// archivedDays of orders rows are made and archived (analytics);
	// perDay rows each.
	archivedDays, perDay int
	jobs                 func() []server.JobStatus
	// storage replaces the file:// archive; getenv gives its credentials.
	storage string
	getenv  map[string]string
	// onTransformError sets the orders source.on_transform_error.
	onTransformError string
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dbURL, pool := pgtest.NewDB(t)
	e := &env{t: t, pool: pool, logs: &syncBuffer{}}
	e.makeTables(ctx, o)
	cfg := e.writeConfig(dbURL, o.storage, o.onTransformError)
	if o.limits != nil {
		o.limits(&cfg.Server)
	}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	svc, err := strata.Open(ctx, strata.Options{Config: cfg, Logger: log, Failpoints: o.failpoints,
		Getenv: func(k string) string { return o.getenv[k] }, SpoolDir: filepath.Join(t.TempDir(), "spool")})
	if err != nil {
		t.Fatalf("open the service: %v", err)
	}
	t.Cleanup(svc.Close)
	e.svc = svc
	if o.archivedDays > 0 {
		if _, err := svc.ArchiveAnalytics(ctx, "orders", archive.Options{}); err != nil {
			t.Fatalf("archive orders: %v", err)
		}
	}
	reg := prometheus.NewRegistry()
	e.srv = server.New(svc, server.Options{Logger: log, Metrics: metrics.New(reg), Registry: reg,
		Limits: cfg.Server, Jobs: o.jobs})
	return e
}

// makeTables creates orders (with archivedDays+90 days of rows, the oldest
// archivedDays past the 90-day retention), source_orders and customers.
func (e *env) makeTables(ctx context.Context, o envOptions) {
	e.t.Helper()
	orders := demo.Datasets[2]
	orders.PerDay = max(o.perDay, 1)
	days := 0
	if o.archivedDays > 0 {
		days = o.archivedDays + 91 // 90 days kept, today's partial day
	}
	if err := demo.Create(ctx, e.pool, orders, days); err != nil {
		e.t.Fatal(err)
	}
	if err := demo.CreateSource(ctx, e.pool, orders); err != nil {
		e.t.Fatal(err)
	}
	if err := demo.Create(ctx, e.pool, demo.Datasets[0], 0); err != nil {
		e.t.Fatal(err)
	}
}

// writeConfig writes strata.yaml and the orders transform and loads them.
func (e *env) writeConfig(dbURL, storage, onTransformError string) *config.Config {
	e.t.Helper()
	if onTransformError == "" {
		onTransformError = "reject"
	}
	dir := e.t.TempDir()
	e.archive = filepath.Join(dir, "archive")
	if storage == "" {
		storage = "file://" + e.archive
	}
	sql, err := transforms.FS.ReadFile("orders.sql")
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "orders.sql"), sql, 0o644); err != nil {
		e.t.Fatal(err)
	}
	yaml := fmt.Sprintf(`database:
  url: %s
storage:
  url: %s
  prefix: svc
datasets:
  - name: orders
    source:
      table: source_orders
      id_column: raw_id
      time_column: ingested_at
      on_transform_error: %s
    analytics:
      table: orders
      key: [order_id]
      time_column: ordered_at
      retention: 90d
    transform: orders.sql
  - name: customers
    analytics:
      table: customers
      key: [customer_id]
      time_column: updated_at
`, dbURL, storage, onTransformError)
	path := filepath.Join(dir, "strata.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		e.t.Fatal(err)
	}
	cfg, err := config.Load(path, func(string) string { return "" })
	if err != nil {
		e.t.Fatal(err)
	}
	return cfg
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
	var n int64
	if err := e.pool.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return n
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

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// wide is a range over every archived day of the tests, within
// server.max_span.
var wide = "from=" + time.Now().UTC().AddDate(-1, 0, 0).Format(time.DateOnly) + "&to=" + today()

// today is the UTC date, for ranges over what was just ingested.
func today() string { return time.Now().UTC().Format(time.DateOnly) }
