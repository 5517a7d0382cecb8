package server_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/config"
)

// serveForShutdown runs e's server on a real listener with Serve and
// returns its base URL, a cancel for Serve's context and a channel with
// Serve's result.
func serveForShutdown(t *testing.T, e *env) (string, context.CancelFunc, chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- e.srv.Serve(ctx, ln) }()
	return "http://" + ln.Addr().String(), cancel, done
}

// slowIngest posts n records in the background; the failpoint makes each
// batch sleep inside its transaction, after the records are stored.
func slowIngest(base string, n int) chan error {
	res := make(chan error, 1)
	go func() {
		resp, err := http.Post(base+"/v1/datasets/orders/records", "application/x-ndjson", strings.NewReader(jsonl(records(1, n))))
		if err == nil {
			b, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr != nil || resp.StatusCode != http.StatusOK {
				err = &statusError{resp.StatusCode, string(b)}
			}
		}
		res <- err
	}()
	return res
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return http.StatusText(e.code) + ": " + e.body }

// waitInFlight waits until the failpoint holds the batch transaction.
func waitInFlight(t *testing.T, e *env) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if e.count(`SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' AND datname = current_database()`) > 0 {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("the ingest never started its transaction")
}

func TestShutdownLetsAnIngestInFlightFinish(t *testing.T) {
	e := buildEnv(t, envOptions{failpoints: "after-plan=sleep:1500ms", limits: func(l *config.Server) {
		l.ShutdownTimeout = config.DurationOf(30 * time.Second)
	}})
	base, stop, served := serveForShutdown(t, e)
	res := slowIngest(base, 50)
	waitInFlight(t, e)
	stop()
	if err := <-res; err != nil {
		t.Fatalf("the ingest in flight during the shutdown failed: %v", err)
	}
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if n := e.count(`SELECT count(*) FROM source_orders`); n != 50 {
		t.Fatalf("Layer 3 has %d of 50 records after the shutdown", n)
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("the server still answers after Serve returned")
	}
}

func TestShutdownPastItsTimeoutAbandonsAnIngestWhole(t *testing.T) {
	e := buildEnv(t, envOptions{failpoints: "after-plan=sleep:2s", limits: func(l *config.Server) {
		l.ShutdownTimeout = config.DurationOf(200 * time.Millisecond)
	}})
	base, stop, served := serveForShutdown(t, e)
	res := slowIngest(base, 50)
	waitInFlight(t, e)
	start := time.Now()
	stop()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if err := <-res; err == nil {
		t.Fatal("the abandoned ingest answered 200")
	}
	t.Logf("Serve returned %s after the cancel", time.Since(start).Round(time.Millisecond))
	stored := e.count(`SELECT count(*) FROM source_orders`)
	committed := e.count(`SELECT count(*) FROM strata.objects WHERE state = 'committed'`)
	l2 := e.count(`SELECT count(*) FROM orders`)
	if stored != 0 || committed != 0 || l2 != 0 {
		t.Fatalf("an abandoned ingest left %d Layer 3 rows, %d Layer 2 rows, %d committed objects; want all or nothing (nothing)", stored, l2, committed)
	}
}

func TestAnIngestOverTheRequestTimeoutIs503AndStoresNothing(t *testing.T) {
	e := newEnv(t, envOptions{failpoints: "after-plan=sleep:1s", limits: func(l *config.Server) {
		l.RequestTimeout = config.DurationOf(300 * time.Millisecond)
	}})
	r := e.ingest("orders", jsonl(records(1, 20)))
	if msg, _, _ := errorOf(t, r); r.code != http.StatusServiceUnavailable || !strings.Contains(msg, "server.request_timeout") {
		t.Fatalf("an ingest past the request timeout: %d %q", r.code, msg)
	}
	if s := e.state(); !strings.HasPrefix(s, "source_orders=0 orders=0 customers=0 catalog=0") {
		t.Fatalf("a timed-out ingest left %s", s)
	}
}
