package openlineage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTimeout bounds one HTTP POST of an event.
const DefaultTimeout = 5 * time.Second

// defaultQueue is how many events may wait for the HTTP endpoint; more are
// dropped (and counted) rather than held in memory or made to wait.
const defaultQueue = 1024

// Options configure an Emitter. With neither URL nor File set, New returns
// nil, an Emitter that emits nothing.
type Options struct {
	// URL receives each event as a JSON POST (e.g. Marquez's
	// http://marquez:5000/api/v1/lineage).
	URL string
	// File gets each event appended as one JSON line.
	File string
	// Timeout bounds one POST; DefaultTimeout when zero.
	Timeout time.Duration
	// Transport sends the POSTs; http.DefaultTransport when nil (tests
	// inject faults here).
	Transport http.RoundTripper
	// Logger receives a warning for each event that could not be
	// delivered; nothing is logged when nil.
	Logger *slog.Logger
	// QueueSize is how many events may wait for the endpoint; 1024 when zero.
	QueueSize int
}

// Stats count what happened to the events given to Emit.
type Stats struct {
	Emitted uint64 // events given to Emit
	Written uint64 // lines appended to the file
	Sent    uint64 // events the endpoint accepted (2xx)
	Failed  uint64 // file appends and POSTs that failed
	Dropped uint64 // events never sent: queue full, or still queued at Close
}

// Emitter delivers events to a file and an HTTP endpoint. Emit never fails
// and never waits for the network: file appends happen at once, POSTs on a
// goroutine of their own, one at a time in emission order (so a run's START
// reaches the endpoint before its COMPLETE). Failures are logged and
// counted (Stats), never returned. Close delivers what is queued. An
// Emitter is safe for concurrent use; a nil *Emitter emits nothing.
type Emitter struct {
	url, file string
	client    *http.Client
	log       *slog.Logger
	queue     chan []byte
	done      chan struct{}
	ctx       context.Context
	cancel    context.CancelFunc

	mu     sync.Mutex // orders file appends; guards closed and sends on queue
	closed bool

	emitted, written, sent, failed, dropped atomic.Uint64
}

// New returns an Emitter for opts, or nil when opts name no destination.
func New(opts Options) *Emitter {
	if opts.URL == "" && opts.File == "" {
		return nil
	}
	e := &Emitter{url: opts.URL, file: opts.File, log: opts.Logger}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if e.url == "" {
		return e
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	e.client = &http.Client{Timeout: timeout, Transport: opts.Transport}
	size := opts.QueueSize
	if size <= 0 {
		size = defaultQueue
	}
	e.queue, e.done = make(chan []byte, size), make(chan struct{})
	e.ctx, e.cancel = context.WithCancel(context.Background())
	go e.sendLoop()
	return e
}

// Emit writes ev to the file and queues it for the endpoint. It returns
// once the file line is written; it never blocks on the network.
func (e *Emitter) Emit(ev *RunEvent) {
	if e == nil {
		return
	}
	e.emitted.Add(1)
	line, err := json.Marshal(ev)
	if err != nil { // cannot happen with Strata's facet types
		e.failed.Add(1)
		e.log.Warn("openlineage: encode event", "err", err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.file != "" {
		e.appendLine(line, ev)
	}
	if e.url == "" {
		return
	}
	if e.closed {
		e.dropped.Add(1)
		return
	}
	select {
	case e.queue <- line:
	default:
		e.dropped.Add(1)
		e.log.Warn("openlineage: endpoint is behind; event dropped", "event", ev.EventType, "job", ev.Job.Name, "run_id", ev.Run.RunID)
	}
}

// appendLine appends one line with one write. The file is opened for each
// event, so a rotated log file is followed without a restart.
func (e *Emitter) appendLine(line []byte, ev *RunEvent) {
	f, err := os.OpenFile(e.file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err == nil {
		_, err = f.Write(append(line, '\n'))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		e.failed.Add(1)
		e.log.Warn("openlineage: append event to file", "file", e.file, "event", ev.EventType, "job", ev.Job.Name, "err", err)
		return
	}
	e.written.Add(1)
}

func (e *Emitter) sendLoop() {
	defer close(e.done)
	for line := range e.queue {
		if e.ctx.Err() != nil {
			e.dropped.Add(1)
			continue
		}
		if err := e.post(line); err != nil {
			e.failed.Add(1)
			e.log.Warn("openlineage: send event", "url", redacted(e.url), "err", err)
			continue
		}
		e.sent.Add(1)
	}
}

func (e *Emitter) post(line []byte) error {
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.url, bytes.NewReader(line))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// Close stops taking events and waits until the queued ones are sent or
// ctx ends, when the send in flight is abandoned and the rest are dropped
// (counted). It is safe to call more than once.
func (e *Emitter) Close(ctx context.Context) {
	if e == nil || e.url == "" {
		return
	}
	e.mu.Lock()
	if !e.closed {
		e.closed = true
		close(e.queue)
	}
	e.mu.Unlock()
	select {
	case <-e.done:
	case <-ctx.Done():
		e.cancel()
		<-e.done
	}
	e.cancel()
}

// Stats returns the counts so far.
func (e *Emitter) Stats() Stats {
	if e == nil {
		return Stats{}
	}
	return Stats{Emitted: e.emitted.Load(), Written: e.written.Load(), Sent: e.sent.Load(),
		Failed: e.failed.Load(), Dropped: e.dropped.Load()}
}

// redacted masks a password in the endpoint URL for logs.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
