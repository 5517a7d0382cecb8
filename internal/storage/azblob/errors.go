package azblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/stratahq/strata/internal/storage"
)

// Error is the error every Backend method returns for a failed call to Azure.
// Its message names the operation, the container/key, the HTTP status and the
// Azure error code, and never a credential, a SAS signature or a response body.
//
// errors.Is matches the storage sentinel it was translated to (ErrNotExist,
// ErrExist, ErrImmutable), and errors.As still reaches the SDK's
// *azcore.ResponseError or the network error underneath. Retryable and
// RetryAfter let the storage retry layer classify it without knowing Azure.
type Error struct {
	// Op is the Backend operation: "put", "get", "stat", "list", "delete".
	Op string
	// Path is "container/key" (or the container alone).
	Path string
	// StatusCode is the HTTP status, 0 when no response arrived.
	StatusCode int
	// Code is Azure's error code (x-ms-error-code), e.g. "BlobNotFound".
	Code string

	sentinel   error
	retryable  bool
	retryAfter time.Duration
	err        error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "azblob %s %s: ", e.Op, e.Path)
	switch {
	case e.sentinel != nil && e.StatusCode != 0:
		fmt.Fprintf(&b, "%v (HTTP %d %s)", e.sentinel, e.StatusCode, e.Code)
	case e.StatusCode != 0:
		fmt.Fprintf(&b, "HTTP %d %s", e.StatusCode, e.Code)
		if hint := statusHint(e.StatusCode); hint != "" {
			b.WriteString(": " + hint)
		}
	default:
		b.WriteString(redact(e.err.Error()))
	}
	return b.String()
}

// Unwrap returns the storage sentinel (if any) and the underlying error.
func (e *Error) Unwrap() []error {
	if e.sentinel != nil {
		return []error{e.sentinel, e.err}
	}
	return []error{e.err}
}

// Retryable reports whether the same request may succeed if sent again:
// HTTP 408, 429, 5xx, a transactional MD5 mismatch (bytes damaged in
// transit), and network errors. A cancelled or expired context is not.
func (e *Error) Retryable() bool { return e.retryable }

// RetryAfter is the delay the service asked for (Retry-After or
// x-ms-retry-after-ms), or 0 when it named none.
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }

func statusHint(status int) string {
	switch status {
	case http.StatusForbidden, http.StatusUnauthorized:
		return "access denied: check AZURE_STORAGE_CONNECTION_STRING / AZURE_STORAGE_KEY / AZURE_STORAGE_SAS_TOKEN or the identity's role (Storage Blob Data Contributor)"
	}
	return ""
}

// translate turns an SDK error into an *Error. ctx errors pass through
// (wrapped with the operation) so errors.Is(err, context.Canceled) holds.
func translate(op, path string, err error) error {
	var done *Error
	if err == nil || errors.As(err, &done) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("azblob %s %s: %w", op, path, contextErr(err))
	}
	e := &Error{Op: op, Path: path, err: err}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		e.retryable = isNetworkError(err)
		return e
	}
	e.StatusCode, e.Code = re.StatusCode, re.ErrorCode
	e.sentinel = sentinelFor(op, re.StatusCode, bloberror.Code(re.ErrorCode))
	e.retryable = re.StatusCode == http.StatusRequestTimeout ||
		re.StatusCode == http.StatusTooManyRequests ||
		re.StatusCode >= 500 ||
		bloberror.Code(re.ErrorCode) == bloberror.MD5Mismatch
	if re.RawResponse != nil {
		e.retryAfter = retryAfter(re.RawResponse.Header, time.Now())
	}
	return e
}

// contextErr keeps the context error's identity while dropping the SDK's
// text around it, which may quote a request URL (with a SAS signature).
func contextErr(err error) error {
	if errors.Is(err, context.Canceled) {
		return context.Canceled
	}
	return context.DeadlineExceeded
}

func sentinelFor(op string, status int, code bloberror.Code) error {
	switch {
	case status == http.StatusNotFound:
		return storage.ErrNotExist
	case op == "put" && (code == bloberror.BlobAlreadyExists || status == http.StatusPreconditionFailed):
		return storage.ErrExist
	case status == http.StatusConflict && isImmutableCode(code):
		if op == "put" {
			return storage.ErrExist // the object exists and is locked
		}
		return storage.ErrImmutable
	}
	return nil
}

// isImmutableCode matches the codes Azure returns when a time-based retention
// policy or a legal hold (container or version level WORM) forbids a change.
func isImmutableCode(code bloberror.Code) bool {
	c := string(code)
	return code == bloberror.BlobImmutableDueToPolicy ||
		strings.Contains(c, "Immutab") || strings.Contains(c, "LegalHold")
}

// isNetworkError reports whether err happened on the wire (no response): a
// dial, TLS, reset or timeout. Anything else without a response, such as an
// invalid argument detected by the SDK, is permanent.
func isNetworkError(err error) bool {
	var ue *url.Error
	var ne interface{ Timeout() bool }
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "connection reset")
}

// retryAfter reads the delay a throttled or busy service asked for.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if ms := h.Get("x-ms-retry-after-ms"); ms != "" {
		if n, err := strconv.ParseInt(ms, 10, 64); err == nil && n > 0 {
			return time.Duration(n) * time.Millisecond
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > 0 {
			return time.Duration(n) * time.Second
		}
		return 0
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// redact removes query strings from URLs quoted in an error message, so a
// SAS token (sig=...) can never reach a log through a wrapped network error.
func redact(msg string) string {
	var b strings.Builder
	for {
		i := strings.Index(msg, "://")
		if i < 0 {
			break
		}
		end := strings.IndexAny(msg[i:], " \"'\n\t")
		if end < 0 {
			end = len(msg) - i
		}
		u := msg[i : i+end]
		if q := strings.IndexByte(u, '?'); q >= 0 {
			u = u[:q] + "?REDACTED"
		}
		b.WriteString(msg[:i])
		b.WriteString(u)
		msg = msg[i+end:]
	}
	b.WriteString(msg)
	s := b.String()
	// Belt and braces for messages that quote a query without its URL.
	if j := strings.Index(s, "sig="); j >= 0 {
		s = s[:j] + "sig=REDACTED"
	}
	return s
}
