package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strings"
	"time"
)

// writeGrace is how long after its deadline a request may still write:
// time to send the error answer of a request that timed out.
const writeGrace = 10 * time.Second

// requestIDHeader carries the request id both ways.
const requestIDHeader = "X-Request-Id"

// safeRequestID is what an incoming request id must look like to be kept:
// short, and nothing that could forge a log line or a header.
var safeRequestID = regexp.MustCompile(`^[A-Za-z0-9._:-]+$`) // and at most 64 bytes

type ctxKey struct{}

// requestID returns the id of the request ctx belongs to.
func requestID(ctx context.Context) string {
	id, _ := ctx.Value(ctxKey{}).(string)
	return id
}

// newRequestID keeps a safe incoming id, else makes a random one.
func newRequestID(incoming string) string {
	if len(incoming) <= 64 && safeRequestID.MatchString(incoming) {
		return incoming
	}
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// serveHTTP wraps every request: request id, time limit, panic recovery,
// the access log and metrics, and JSON answers when no route matches.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	done := s.track.add()
	defer done()
	id := newRequestID(r.Header.Get(requestIDHeader))
	w.Header().Set(requestIDHeader, id)
	sw := &statusWriter{ResponseWriter: w}
	ctx, cancel := s.requestContext(r)
	defer cancel()
	r = r.WithContext(context.WithValue(ctx, ctxKey{}, id))
	route := routeNone
	defer func() { s.recovered(recover(), r, sw, route, start) }()
	// The request's deadline also bounds blocked reads and writes of a
	// slow client (streaming routes have no server-wide write timeout);
	// writes get a grace period to send the answer saying it timed out.
	rc := http.NewResponseController(sw)
	deadline, _ := ctx.Deadline()
	_ = rc.SetReadDeadline(deadline)
	_ = rc.SetWriteDeadline(deadline.Add(writeGrace))
	if err := checkPath(r.URL.Path); err != nil {
		writeError(sw, r, err)
		return
	}
	h, pattern := s.mux.Handler(r)
	if pattern == "" {
		s.noRoute(sw, r, h)
		return
	}
	route = pattern
	s.mux.ServeHTTP(sw, r)
}

// recovered ends every request: it answers a panic (a 500 when nothing
// was sent yet, else a broken response), then logs and counts the request.
// http.ErrAbortHandler, a handler's deliberate abort, is passed on.
func (s *Server) recovered(v any, r *http.Request, sw *statusWriter, route string, start time.Time) {
	if v != nil && v != http.ErrAbortHandler {
		id := requestID(r.Context())
		s.log.Error("panic", "request_id", id, "route", route, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		s.metrics.Error("http")
		if !sw.wroteHeader {
			writeError(sw, r, &apiError{code: http.StatusInternalServerError, msg: internalMsg(id)})
			v = nil
		}
	}
	s.finish(r, route, sw, start, v != nil)
	if v != nil {
		panic(http.ErrAbortHandler) // the client must see a broken response, not a short one
	}
}

// noRoute answers a request that matches no route: the mux's own 404 or
// 405 status (and Allow header), with a JSON body.
func (s *Server) noRoute(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := &headerRecorder{header: http.Header{}}
	h.ServeHTTP(rec, r)
	switch rec.code {
	case http.StatusMethodNotAllowed:
		allow := rec.header.Get("Allow")
		w.Header().Set("Allow", allow)
		writeError(w, r, &apiError{code: rec.code, msg: fmt.Sprintf("method %s is not allowed here (use %s)", safeMethod(r.Method), allow),
			detail: map[string]any{"allow": strings.Split(allow, ", ")}})
	default:
		writeError(w, r, &apiError{code: http.StatusNotFound,
			msg: "no such route (see docs/HTTP.md: /v1/datasets/{dataset}/records, /v1/datasets/{dataset}/archive/{type}, /v1/catalog, /healthz, /metrics)"})
	}
}

// checkPath refuses paths with dot or empty segments, however they were
// encoded, instead of redirecting them somewhere else.
func checkPath(p string) *apiError {
	bad := !strings.HasPrefix(p, "/") || strings.Contains(p, "//") || strings.ContainsAny(p, "\x00\\")
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "." || seg == ".." {
			bad = true
		}
	}
	if bad {
		return badRequest("path %s is not canonical (no ., .. or empty segments, NUL or backslash)", quoteShort(p))
	}
	return nil
}

// finish writes the access log line and the request metrics.
func (s *Server) finish(r *http.Request, route string, sw *statusWriter, start time.Time, aborted bool) {
	d := time.Since(start)
	code := sw.status()
	s.metrics.ObserveHTTP(route, safeMethod(r.Method), code, d)
	attrs := []slog.Attr{
		slog.String("request_id", requestID(r.Context())),
		slog.String("method", safeMethod(r.Method)),
		slog.String("route", route),
		slog.String("path", truncate(r.URL.Path, 200)),
		slog.Int("status", code),
		slog.Int64("bytes", sw.bytes),
		slog.Duration("duration", d),
		slog.String("remote", r.RemoteAddr),
	}
	if aborted {
		attrs = append(attrs, slog.Bool("aborted", true))
	}
	s.log.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelInfo, "http request", attrs...)
}

// safeMethod keeps the method label of the metrics bounded: a client may
// send any token as a method.
func safeMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}

// statusWriter records the status and the bytes of a response.
type statusWriter struct {
	http.ResponseWriter
	code        int
	bytes       int64
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wroteHeader {
		w.code, w.wroteHeader = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) status() int {
	if w.code == 0 {
		return http.StatusOK
	}
	return w.code
}

// headerRecorder catches the status and headers the mux's 404 and 405
// handlers would send, and drops their plain-text body.
type headerRecorder struct {
	header http.Header
	code   int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) WriteHeader(code int) {
	if h.code == 0 {
		h.code = code
	}
}
func (h *headerRecorder) Write(b []byte) (int, error) {
	h.WriteHeader(http.StatusOK)
	return len(b), nil
}
