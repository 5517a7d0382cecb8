// Package server is Strata's HTTP API (docs/HTTP.md): ingest raw records,
// retrieve archived rows, list the catalog, health, Prometheus metrics and a
// web console (console.go). It validates requests and maps errors to status codes;
// everything else is done by the *strata.Service it is given, so the API
// does exactly what the command line and the Go API do.
//
// Bad input always gets a 4xx answer with a JSON body
// {"error": "...", "detail": ..., "request_id": "..."} and changes nothing.
//
// Every route declares the scope it needs where it is registered (handle);
// with server.tokens configured, a request needs a bearer token holding that
// scope and, on a route naming a {dataset}, allowed that dataset (access.go).
// With no token configured every route is open: serve then listens on
// loopback only.
package server

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	strata "github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/auth"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/metrics"
	"github.com/stratahq/strata/internal/scheduler"
)

// Options configure a Server. Every field may be left zero.
type Options struct {
	// Logger receives the access log and the errors behind 5xx answers;
	// nothing is logged when nil.
	Logger *slog.Logger
	// Metrics are updated per request, ingest and retrieval; may be nil.
	Metrics *metrics.Metrics
	// Registry is served on /metrics; /metrics answers 404 when nil.
	Registry prometheus.Gatherer
	// Limits is the server section of the configuration: the bounds on
	// request bodies, results, spans and request time (zero fields take
	// the defaults), and the access control: tokens and metrics_open
	// (Listen, Scheduler and the TLS files are not used here).
	Limits config.Server
	// Jobs reports the scheduler's jobs for the console; nil when serve
	// runs without a scheduler.
	Jobs func() []JobStatus
	// TLS, when set, makes Serve answer HTTPS.
	TLS *tls.Config
	// Clock is the time of the limit on failed attempts; time.Now when nil.
	Clock func() time.Time
}

// JobStatus is one scheduled lifecycle job as the console shows it.
type JobStatus = scheduler.JobStatus

// Server answers Strata's HTTP API. Build one with New; it is safe for
// concurrent use.
type Server struct {
	svc     *strata.Service
	log     *slog.Logger
	metrics *metrics.Metrics
	reg     prometheus.Gatherer
	limits  config.Server
	jobs    func() []JobStatus
	mux     *http.ServeMux
	track   *inflight
	tls     *tls.Config
	// tokens, failures and crossOrigin are the access control (access.go).
	tokens      auth.Tokens
	failures    *auth.Limiter
	crossOrigin *http.CrossOriginProtection
	// routeList is every route with its scope, in registration order.
	routeList []Route
	// pages are the console's templates.
	pages consoleTemplates
}

// New returns a Server answering for svc.
func New(svc *strata.Service, opts Options) *Server {
	s := &Server{svc: svc, log: opts.Logger, metrics: opts.Metrics, reg: opts.Registry,
		limits: withDefaults(opts.Limits), jobs: opts.Jobs, mux: http.NewServeMux(), track: newInflight(),
		tls: opts.TLS, tokens: auth.NewTokens(opts.Limits.Tokens), failures: auth.NewLimiter(opts.Clock),
		crossOrigin: http.NewCrossOriginProtection(), pages: newConsoleTemplates()}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.routes()
	return s
}

// withDefaults fills the zero limits with the configuration defaults.
func withDefaults(l config.Server) config.Server {
	d := config.Default().Server
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxResultRows <= 0 {
		l.MaxResultRows = d.MaxResultRows
	}
	if l.MaxSpan.Duration() <= 0 {
		l.MaxSpan = d.MaxSpan
	}
	if l.RequestTimeout.Duration() <= 0 {
		l.RequestTimeout = d.RequestTimeout
	}
	if l.ShutdownTimeout.Duration() <= 0 {
		l.ShutdownTimeout = d.ShutdownTimeout
	}
	return l
}

// Route patterns; they are also the route label of the HTTP metrics.
const (
	routeIngest   = "POST /v1/datasets/{dataset}/records"
	routeRetrieve = "GET /v1/datasets/{dataset}/archive/{type}"
	routeCatalog  = "GET /v1/catalog"
	routeHealth   = "GET /healthz"
	routeMetrics  = "GET /metrics"
	// routeNone labels requests that match no route (404, 405).
	routeNone = "unmatched"
)

func (s *Server) routes() {
	s.handle(routeIngest, auth.Ingest, s.handleIngest)
	s.handle(routeRetrieve, auth.Read, s.handleRetrieve)
	s.handle(routeCatalog, auth.Read, s.handleCatalog)
	s.handle(routeLineage, auth.Read, s.handleLineage)
	s.handle(routeCompare, auth.Read, s.handleCompare)
	s.handle(routeReplay, auth.Replay, s.handleReplay)
	s.handle(routeAudit, auth.Admin, s.handleAudit)
	s.handle(routeHoldAdd, auth.Admin, s.handleHoldAdd)
	s.handle(routeHoldList, auth.Admin, s.handleHoldList)
	s.handle(routeHoldRelease, auth.Admin, s.handleHoldRelease)
	s.handle(routeErase, auth.Admin, s.handleErase)
	s.handle(routeEraseList, auth.Admin, s.handleEraseList)
	s.handle(routeEraseShow, auth.Admin, s.handleEraseShow)
	s.handle(routeHealth, auth.Public, s.handleHealth)
	s.handlePage(routeOverview, auth.Read, s.handleOverview)
	s.handlePage(routeDay, auth.Read, s.handleDay)
	s.handlePage(routeLineageP, auth.Read, s.handleLineagePage)
	s.handlePage(routeJobs, auth.Read, s.handleJobs)
	s.handle(routeScript, auth.Read, s.handleScript)
	s.handle(routeLogin, auth.Public, s.handleLogin)
	s.handle(routeLogout, auth.Public, s.handleLogout)
	if s.reg != nil {
		scope := auth.Read
		if s.limits.MetricsOpen {
			scope = auth.Public
		}
		s.handle(routeMetrics, scope, promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{
			ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelError), ErrorHandling: promhttp.ContinueOnError}).ServeHTTP)
	}
}

// Handler returns the API with its middleware: request ids, the access
// log, metrics, panic recovery, the request time limit and JSON answers for
// unknown paths (404) and methods (405).
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(s.serveHTTP)
}

// Limits returns the limits the server applies, defaults filled in.
func (s *Server) Limits() config.Server { return s.limits }

// requestContext bounds a request by server.request_timeout.
func (s *Server) requestContext(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), s.limits.RequestTimeout.Duration())
}
