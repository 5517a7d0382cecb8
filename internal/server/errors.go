package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	strata "github.com/stratahq/strata"
)

// errorBody is the JSON of every answer that is not a success.
type errorBody struct {
	// Error says what is wrong and, for bad input, how to fix it.
	Error string `json:"error"`
	// Detail holds machine-readable facts: the limit hit, the allowed
	// methods, the records stored before a failure.
	Detail any `json:"detail,omitempty"`
	// RequestID matches the X-Request-Id header and the server's log.
	RequestID string `json:"request_id,omitempty"`
}

// apiError is an answer with a status other than 2xx.
type apiError struct {
	code   int
	msg    string
	detail any
	// cause is the error behind a 5xx answer, for the log only.
	cause error
	// retryAfter, in seconds, is sent as Retry-After when positive.
	retryAfter int
	// challenge is sent as WWW-Authenticate (401 and 403 of access control).
	challenge string
}

func (e *apiError) Error() string { return e.msg }

// withCause records the error behind e, for the log.
func withCause(e *apiError, cause error) *apiError {
	e.cause = cause
	return e
}

// badRequest is a 400 answer.
func badRequest(format string, args ...any) *apiError {
	return &apiError{code: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

// fail answers err: bad input with 4xx and its message, anything else with
// a generic 5xx message while the real error goes to the log.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := s.classify(r, err)
	if e.code >= 500 {
		if e.cause != nil {
			err = e.cause
		}
		s.log.Error("request failed", "request_id", requestID(r.Context()), "method", safeMethod(r.Method),
			"path", truncate(r.URL.Path, 200), "status", e.code, "err", err)
		s.metrics.Error("http")
	}
	writeError(w, r, e)
}

// classify maps an error to a status and a message for the client.
func (s *Server) classify(r *http.Request, err error) *apiError {
	var ae *apiError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &mbe):
		return &apiError{code: http.StatusRequestEntityTooLarge,
			msg:    fmt.Sprintf("the request body is over %d bytes (server.max_body_bytes); nothing was stored: send fewer records per request", mbe.Limit),
			detail: map[string]any{"limit_bytes": mbe.Limit, "config_key": "server.max_body_bytes"}}
	case errors.As(err, new(*strata.RejectedError)):
		return rejected(err)
	case errors.Is(err, strata.ErrTooManyRows):
		return s.tooManyRows()
	case errors.Is(err, strata.ErrNotFound):
		return &apiError{code: http.StatusNotFound, msg: clientMessage(err)}
	case errors.Is(err, strata.ErrInvalid):
		return &apiError{code: http.StatusBadRequest, msg: clientMessage(err)}
	case errors.As(err, new(*strata.HeldError)):
		var he *strata.HeldError
		errors.As(err, &he)
		return held(he)
	case errors.Is(err, strata.ErrConflict):
		return &apiError{code: http.StatusConflict, msg: clientMessage(err)}
	case errors.Is(r.Context().Err(), context.DeadlineExceeded):
		return &apiError{code: http.StatusServiceUnavailable,
			msg: fmt.Sprintf("the request took longer than server.request_timeout (%s) and was stopped", s.limits.RequestTimeout)}
	case r.Context().Err() != nil:
		return &apiError{code: http.StatusServiceUnavailable, msg: "the request was cancelled (the client went away or the server is shutting down)"}
	case errors.Is(err, strata.ErrUnavailable):
		return &apiError{code: http.StatusServiceUnavailable, retryAfter: unavailableRetryAfter,
			msg: fmt.Sprintf("the database or the archive storage is unavailable (see /healthz): retry after %d s with the same Idempotency-Key, which never stores a request twice", unavailableRetryAfter)}
	}
	return &apiError{code: http.StatusInternalServerError, msg: internalMsg(requestID(r.Context()))}
}

// rejected is the answer to an ingest whose records the transform cannot
// map: 422, the client's data is at fault, with the records by line.
func rejected(err error) *apiError {
	var re *strata.RejectedError
	errors.As(err, &re)
	return &apiError{code: http.StatusUnprocessableEntity, msg: clientMessage(re),
		detail: map[string]any{"records": re.Records, "more": re.More, "records_stored": re.Stored,
			"config_key": "source.on_transform_error"}}
}

// unavailableRetryAfter is the Retry-After, in seconds, of a 503 for an
// outage of the database or the storage.
const unavailableRetryAfter = 5

// tooManyRows is the answer to a retrieval over server.max_result_rows.
func (s *Server) tooManyRows() *apiError {
	n := s.limits.MaxResultRows
	return &apiError{code: http.StatusRequestEntityTooLarge,
		msg:    fmt.Sprintf("the result has more than %d rows (server.max_result_rows): ask for a shorter range or fewer rows with where", n),
		detail: map[string]any{"limit_rows": n, "config_key": "server.max_result_rows"}}
}

func internalMsg(id string) string {
	return fmt.Sprintf("internal error: the server log has the details under request id %s", id)
}

// clientMessage is an error's message without the sentinels' prefixes,
// on one line.
func clientMessage(err error) string {
	msg := err.Error()
	for _, p := range []string{strata.ErrInvalid.Error(), strata.ErrNotFound.Error(), "bad request"} {
		for _, sep := range []string{": ", "\n"} {
			msg = strings.TrimPrefix(msg, p+sep)
		}
	}
	return strings.ReplaceAll(msg, "\n", ": ")
}

// writeError writes e as the JSON error body.
func writeError(w http.ResponseWriter, r *http.Request, e *apiError) {
	w.Header().Del("Content-Disposition")
	if e.retryAfter > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(e.retryAfter))
	}
	if e.challenge != "" {
		w.Header().Set("WWW-Authenticate", e.challenge)
	}
	writeJSON(w, e.code, errorBody{Error: e.msg, Detail: e.detail, RequestID: requestID(r.Context())})
}

// writeJSON writes v with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// truncate cuts s to at most n bytes.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// quoteShort quotes s, escaped and cut short, for a message.
func quoteShort(s string) string {
	if len(s) > 64 {
		return fmt.Sprintf("%q... (%d bytes)", s[:64], len(s))
	}
	return fmt.Sprintf("%q", s)
}
