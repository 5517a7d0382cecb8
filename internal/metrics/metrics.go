// Package metrics holds Strata's Prometheus metrics. A Metrics registers
// its collectors on the registry it is given (never the global default),
// and every method is safe on a nil *Metrics, so code paths that run
// without a server (the CLI, the Go API) need no checks.
package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Job outcomes, the outcome label of strata_job_runs_total.
const (
	OutcomeOK      = "ok"
	OutcomeError   = "error"
	OutcomeSkipped = "skipped"
)

// Metrics are the collectors Strata updates as it works.
type Metrics struct {
	archivedRows    *prometheus.CounterVec
	archivedBytes   *prometheus.CounterVec
	archivedObjects *prometheus.CounterVec
	ingestedRecords *prometheus.CounterVec
	ingestedBytes   *prometheus.CounterVec
	transformFailed *prometheus.CounterVec
	retrievedRows   *prometheus.CounterVec
	retrieval       *prometheus.HistogramVec
	httpRequests    *prometheus.HistogramVec
	jobRuns         *prometheus.CounterVec
	jobDuration     *prometheus.HistogramVec
	jobLastSuccess  *prometheus.GaugeVec
	errors          *prometheus.CounterVec
	authFailures    *prometheus.CounterVec
	tableFailures   *prometheus.CounterVec
}

// New creates the collectors and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "strata", Name: name, Help: help}, labels)
		reg.MustRegister(c)
		return c
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "strata", Name: name, Help: help, Buckets: buckets}, labels)
		reg.MustRegister(h)
		return h
	}
	latency := prometheus.ExponentialBuckets(0.001, 2.5, 14) // 1 ms .. ~2 h
	m := &Metrics{
		archivedRows:    counter("archived_rows_total", "Rows written to committed archive objects.", "dataset", "type"),
		archivedBytes:   counter("archived_bytes_total", "Bytes of committed archive objects.", "dataset", "type"),
		archivedObjects: counter("archived_objects_total", "Archive objects committed.", "dataset", "type"),
		ingestedRecords: counter("ingested_records_total", "Raw records ingested (stored, archived and transformed).", "dataset"),
		ingestedBytes:   counter("ingested_bytes_total", "Bytes of raw records ingested.", "dataset"),
		transformFailed: counter("transform_failed_records_total",
			"Raw records the transform could not map, by outcome: rejected (refused, not stored) or quarantined (stored unprocessed).",
			"dataset", "outcome"),
		retrievedRows: counter("retrieved_rows_total", "Rows returned by retrievals.", "dataset", "type"),
		retrieval:     histogram("retrieval_duration_seconds", "Time to stream a whole retrieval.", latency, "dataset", "type"),
		httpRequests:  histogram("http_request_duration_seconds", "HTTP requests by route and status code.", latency, "route", "method", "code"),
		jobRuns:       counter("job_runs_total", "Lifecycle job runs by outcome (ok, error, skipped).", "dataset", "job", "outcome"),
		jobDuration:   histogram("job_duration_seconds", "Lifecycle job run time.", latency, "dataset", "job"),
		errors:        counter("errors_total", "Errors by component.", "component"),
		authFailures: counter("auth_failures_total",
			"HTTP requests refused by access control, by reason: missing (no token), unknown (no such token), scope, dataset, rate_limited.",
			"reason"),
		tableFailures: counter("table_publish_failures_total",
			"Lakehouse table publishes that failed (the next publish repairs them), by dataset and format.",
			"dataset", "format"),
	}
	m.jobLastSuccess = prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "strata", Name: "job_last_success_timestamp_seconds",
		Help: "Unix time of the last successful run of a lifecycle job."}, []string{"dataset", "job"})
	reg.MustRegister(m.jobLastSuccess)
	return m
}

// Archived counts committed archive objects.
func (m *Metrics) Archived(dataset, typ string, rows, bytes, objects int64) {
	if m == nil {
		return
	}
	m.archivedRows.WithLabelValues(dataset, typ).Add(float64(rows))
	m.archivedBytes.WithLabelValues(dataset, typ).Add(float64(bytes))
	m.archivedObjects.WithLabelValues(dataset, typ).Add(float64(objects))
}

// ArchivedShare counts a share of committed archive objects: an ingest
// request whose records went into objects shared with other requests
// (group commit) counts its part of their bytes and of their number.
func (m *Metrics) ArchivedShare(dataset, typ string, rows int64, bytes, objects float64) {
	if m == nil {
		return
	}
	m.archivedRows.WithLabelValues(dataset, typ).Add(float64(rows))
	m.archivedBytes.WithLabelValues(dataset, typ).Add(bytes)
	m.archivedObjects.WithLabelValues(dataset, typ).Add(objects)
}

// Ingested counts ingested records.
func (m *Metrics) Ingested(dataset string, records, bytes int64) {
	if m == nil {
		return
	}
	m.ingestedRecords.WithLabelValues(dataset).Add(float64(records))
	m.ingestedBytes.WithLabelValues(dataset).Add(float64(bytes))
}

// TransformFailed counts records the transform could not map; outcome is
// rejected or quarantined. Zero counts are not recorded.
func (m *Metrics) TransformFailed(dataset, outcome string, records int64) {
	if m == nil || records == 0 {
		return
	}
	m.transformFailed.WithLabelValues(dataset, outcome).Add(float64(records))
}

// Retrieved records one finished retrieval.
func (m *Metrics) Retrieved(dataset, typ string, rows int64, d time.Duration) {
	if m == nil {
		return
	}
	m.retrievedRows.WithLabelValues(dataset, typ).Add(float64(rows))
	m.retrieval.WithLabelValues(dataset, typ).Observe(d.Seconds())
}

// ObserveHTTP records one HTTP request. route is the pattern, never the
// raw path, so label values stay bounded.
func (m *Metrics) ObserveHTTP(route, method string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.httpRequests.WithLabelValues(route, method, strconv.Itoa(code)).Observe(d.Seconds())
}

// JobRun records one lifecycle job run; an ok run also sets its last
// success time.
func (m *Metrics) JobRun(dataset, job, outcome string, d time.Duration, end time.Time) {
	if m == nil {
		return
	}
	m.jobRuns.WithLabelValues(dataset, job, outcome).Inc()
	m.jobDuration.WithLabelValues(dataset, job).Observe(d.Seconds())
	if outcome == OutcomeOK {
		m.jobLastSuccess.WithLabelValues(dataset, job).Set(float64(end.Unix()))
	}
}

// Error counts an error of a component (http, scheduler, ingest, retrieve).
func (m *Metrics) Error(component string) {
	if m == nil {
		return
	}
	m.errors.WithLabelValues(component).Inc()
}

// Auth failure reasons, the reason label of strata_auth_failures_total.
const (
	AuthMissing     = "missing"
	AuthUnknown     = "unknown"
	AuthScope       = "scope"
	AuthDataset     = "dataset"
	AuthRateLimited = "rate_limited"
)

// AuthFailure counts one request refused by access control.
func (m *Metrics) AuthFailure(reason string) {
	if m == nil {
		return
	}
	m.authFailures.WithLabelValues(reason).Inc()
}

// TablePublishFailed counts one failed publish of a dataset's lakehouse
// table in a format ("all" when the catalog could not be read).
func (m *Metrics) TablePublishFailed(dataset, format string) {
	if m == nil {
		return
	}
	m.tableFailures.WithLabelValues(dataset, format).Inc()
}
