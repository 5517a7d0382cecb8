package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// HTTP server settings. There is no write timeout: retrievals stream for
// as long as they need, each request bounded by server.request_timeout.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
	// abandonWait bounds the wait for handlers whose requests were
	// cancelled at the end of a shutdown (an ingest rolling back).
	abandonWait = 30 * time.Second
)

// Serve answers requests on ln (HTTPS when Options.TLS is set) until ctx
// is cancelled, then shuts down
// gracefully: it stops accepting, lets requests in flight finish for up to
// server.shutdown_timeout, then cancels those left (an ingest transaction
// rolls back: its records are stored whole or not at all) and waits for
// their handlers to return. It returns nil after a shutdown, or the error
// that stopped the listener.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	base, cancelAll := context.WithCancel(context.Background())
	defer cancelAll()
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// Requests do not inherit ctx: a shutdown lets them finish.
		BaseContext: func(net.Listener) context.Context { return base },
	}
	errc := make(chan error, 1)
	go func() {
		if s.tls != nil {
			srv.TLSConfig = s.tls
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down: waiting for requests in flight", "timeout", s.limits.ShutdownTimeout.Duration())
	sctx, cancel := context.WithTimeout(context.Background(), s.limits.ShutdownTimeout.Duration())
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		s.log.Warn("shutdown timeout reached: cancelling the requests still running", "err", err)
		cancelAll()
		srv.Close()
	}
	wctx, wcancel := context.WithTimeout(context.Background(), abandonWait)
	defer wcancel()
	if !s.track.wait(wctx) {
		s.log.Error("handlers still running after shutdown", "waited", abandonWait)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	s.log.Info("stopped")
	return nil
}

// inflight counts the handlers running, so that a shutdown can wait for
// them after the connections are gone.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0
}

func newInflight() *inflight {
	c := make(chan struct{})
	close(c)
	return &inflight{idle: c}
}

// add counts one handler; the function it returns uncounts it.
func (f *inflight) add() func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.idle = make(chan struct{})
	}
	f.n++
	return func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.n--; f.n == 0 {
			close(f.idle)
		}
	}
}

// wait returns true once no handler runs, false when ctx ends first.
func (f *inflight) wait(ctx context.Context) bool {
	f.mu.Lock()
	idle := f.n == 0
	ch := f.idle
	f.mu.Unlock()
	if idle {
		return true
	}
	select {
	case <-ch:
		return true
	case <-ctx.Done():
		return false
	}
}
