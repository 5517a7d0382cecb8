package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	strata "github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/metrics"
	"github.com/stratahq/strata/internal/scheduler"
	"github.com/stratahq/strata/internal/server"
)

type serveFlags struct {
	listen      string
	noScheduler bool
}

func newServeCmd(env Env, g *globalFlags) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve [--listen 127.0.0.1:8080] [--no-scheduler]",
		Short: "Serve the HTTP API, the lifecycle scheduler, Prometheus metrics and a web console",
		Long: `Serve answers Strata's HTTP API (docs/HTTP.md) until it receives SIGINT or
SIGTERM, and runs each dataset's lifecycle jobs on their schedule (archive
the source and analytics layers, purge) unless --no-scheduler is given or
server.scheduler is off. When it starts it also publishes, in the
background, every lakehouse table (tables.delta, tables.iceberg) that is
behind the catalog: the commits of a process killed before its publish.

  POST /v1/datasets/{dataset}/records          ingest raw records (JSON lines or a JSON array)
  GET  /v1/datasets/{dataset}/archive/{type}   retrieve archived rows (type analytics or source)
  GET  /v1/catalog                             list archive objects
  POST /v1/datasets/{dataset}/compare          {"from","to"}: source vs analytics (strata compare)
  POST /v1/datasets/{dataset}/replay           {"from","to","apply"}: re-run the transform (strata replay)
                                               either takes "transform": a candidate's SQL (--transform)
  GET  /v1/datasets/{dataset}/lineage          the evidence chain of a period (strata lineage)
  GET  /healthz                                200 when the database and the storage answer
  GET  /metrics                                Prometheus metrics
  GET  /                                       the web console: overview of every dataset (HTML)
  GET  /console/day, /console/lineage, /console/jobs   its day, lineage and jobs views
                                               (POST /login, /logout: its sign-in)

Every error is JSON, {"error": "...", "detail": ..., "request_id": "..."},
with a 4xx status for bad input; bad input never changes data. Limits come
from the server section of strata.yaml: max_body_bytes (an ingest body),
max_result_rows (one retrieval), max_span (its time range),
request_timeout and shutdown_timeout (how long requests in flight may
finish after SIGTERM; an ingest cut off then is rolled back whole).

Access: with server.tokens configured, every route but /healthz needs
"Authorization: Bearer TOKEN" with the route's scope (read, ingest,
replay, admin) and, for a dataset's route, a token allowed that dataset:
401 without a valid token, 403 without the scope or the dataset, 429 after
10 failed attempts from one address (one more every 6 s); tokens are made
by strata token create. The console has a sign-in form (the token goes in
an HttpOnly cookie). /metrics needs a read token unless server.metrics_open
is true. With no token configured every route is open, so serve refuses
to listen on anything but loopback. server.tls_cert and server.tls_key
make serve answer HTTPS (TLS 1.2 or later).

With port 0 the system picks a free port; serve prints the address it
listens on as its first line of output.`,
		Example: `  strata serve --config strata.yaml
  strata serve --listen 127.0.0.1:0 --no-scheduler

  # with server.tokens configured, add to every curl below:
  curl -H "Authorization: Bearer $STRATA_TOKEN" ...

  curl -sS --data-binary @records.jsonl -H 'Content-Type: application/x-ndjson' \
      http://127.0.0.1:8080/v1/datasets/orders/records
  curl -sS 'http://127.0.0.1:8080/v1/datasets/orders/archive/analytics?from=2024-11-01&to=2024-11-30&columns=order_id,total&format=csv'
  curl -sS 'http://127.0.0.1:8080/v1/datasets/orders/archive/source?from=2024-11-01T00:00:00Z&to=2024-11-01T12:00:00Z&format=parquet' -o orders.parquet
  curl -sS --get --data-urlencode "where=status = 'shipped'" \
      'http://127.0.0.1:8080/v1/datasets/orders/archive/analytics?from=2024-11-01&to=2024-11-30'
  curl -sS 'http://127.0.0.1:8080/v1/catalog?dataset=orders&type=source&from=2024-11-01'
  curl -sS -d '{"from":"2024-11-01","to":"2024-11-07"}' http://127.0.0.1:8080/v1/datasets/orders/compare
  curl -sS -d '{"from":"2024-11-01","to":"2024-11-07","apply":true}' http://127.0.0.1:8080/v1/datasets/orders/replay
  curl -sS http://127.0.0.1:8080/healthz
  curl -sS http://127.0.0.1:8080/metrics | grep ^strata_`,
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usageErr("serve takes no arguments, got %q (see 'strata serve --help')", args[0])
			}
			return nil
		},
		RunE: func(c *cobra.Command, _ []string) error {
			return runServe(c.Context(), env, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "", "address to listen on, host:port (default: server.listen, 127.0.0.1:8080)")
	fl.BoolVar(&f.noScheduler, "no-scheduler", false, "do not run the lifecycle jobs (another process runs them)")
	return cmd
}

func runServe(ctx context.Context, env Env, g *globalFlags, f serveFlags) error {
	cfg, err := loadConfig(env, g)
	if err != nil {
		return err
	}
	if f.listen != "" {
		if err := checkListen(f.listen); err != nil {
			return err
		}
		cfg.Server.Listen = f.listen
	}
	if err := checkExposure(cfg.Server); err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if cert, key := cfg.TLSFiles(); cert != "" {
		if tlsConfig, err = server.LoadTLS(cert, key); err != nil {
			return &ExitError{Code: ExitUsage, Err: err}
		}
	}
	log := newLogger(env.Stderr, g.logLevel, cfg.Log)
	svc, err := strata.Open(ctx, strata.Options{Config: cfg, Logger: log, Getenv: env.Getenv,
		Failpoints: env.Getenv("STRATA_FAILPOINTS")})
	if err != nil {
		if errors.Is(err, strata.ErrInvalid) {
			return &ExitError{Code: ExitUsage, Err: err}
		}
		return err
	}
	defer svc.Close()
	if err := svc.CheckImmutability(ctx); err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	svc.OnTablesFailed(m.TablePublishFailed)
	svc.CatchUpTables(ctx) // what a process killed before its publish left behind
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return listenErr(cfg.Server.Listen, err)
	}
	if err := checkListener(cfg.Server, ln.Addr()); err != nil {
		ln.Close()
		return err
	}
	warnExposure(log, cfg.Server, ln.Addr())
	schedCtx, stopScheduler := context.WithCancel(ctx)
	defer stopScheduler()
	var jobs func() []server.JobStatus
	wait := func() {}
	if cfg.Server.Scheduler == "on" && !f.noScheduler {
		jobs, wait = startScheduler(schedCtx, svc, m, log)
	}
	srv := server.New(svc, server.Options{Logger: log, Metrics: m, Registry: reg, Limits: cfg.Server, Jobs: jobs, TLS: tlsConfig})
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	fmt.Fprintf(env.Stdout, "strata: serving on %s://%s\n", scheme, ln.Addr())
	log.Info("listening", "addr", ln.Addr().String(), "scheduler", jobs != nil)
	err = srv.Serve(ctx, ln)
	stopScheduler()
	wait()
	return err
}

// checkListen refuses a --listen that is not host:port.
func checkListen(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return usageErr("--listen %q is not host:port (use 127.0.0.1:8080, or :8080 for every interface)", addr)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return usageErr("--listen %q has an invalid port (use a number from 0 to 65535)", addr)
	}
	return nil
}

// listenErr says why the address could not be listened on.
func listenErr(addr string, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return fmt.Errorf("listen on %s: the address is in use (another strata serve or program listens there; choose another with --listen or server.listen)", addr)
	case errors.Is(err, syscall.EACCES):
		return fmt.Errorf("listen on %s: permission denied (ports below 1024 need privileges; use a higher port)", addr)
	}
	return fmt.Errorf("listen on %s: %w", addr, err)
}

// startScheduler starts the lifecycle jobs and returns their status for
// the console and a function that waits, at most the shutdown timeout,
// until they have stopped after ctx is cancelled. A job cancelled at
// shutdown rolls back its open transaction: nothing is lost, and the next
// run (of this or another process) continues it.
func startScheduler(ctx context.Context, svc *strata.Service, m *metrics.Metrics, log *slog.Logger) (status func() []server.JobStatus, wait func()) {
	cfg := svc.Config()
	sched := scheduler.New(svc, cfg, scheduler.Options{Logger: log, Metrics: m})
	go func() {
		if err := sched.Run(ctx); err != nil {
			log.Error("scheduler stopped", "error", err)
		}
	}()
	status = sched.Status
	wait = func() {
		select {
		case <-sched.Done():
		case <-time.After(cfg.Server.ShutdownTimeout.Duration()):
			log.Warn("lifecycle jobs did not stop within server.shutdown_timeout; exiting anyway (their transactions roll back)")
		}
	}
	return status, wait
}
