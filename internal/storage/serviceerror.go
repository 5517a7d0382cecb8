package storage

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ServiceError is the error a cloud backend (Azure Blob, S3) returns for a
// failed call. Its message names the service, the operation, the
// container-or-bucket/key, the HTTP status and the service's error code, and
// never a credential, a signed URL's query or a response body.
//
// errors.Is matches the storage sentinel it was translated to (ErrNotExist,
// ErrExist, ErrImmutable), and errors.As still reaches the SDK's error
// underneath. Retryable and RetryAfter let the retry layer classify it
// without knowing the service.
type ServiceError struct {
	// Service names the backend in messages: "azblob", "s3".
	Service string
	// Op is the Backend operation: "put", "get", "stat", "list", "delete".
	Op string
	// Path is "container/key" or "bucket/key" (or the container alone).
	Path string
	// StatusCode is the HTTP status, 0 when no response arrived.
	StatusCode int
	// Code is the service's error code, e.g. "BlobNotFound", "NoSuchKey".
	Code string
	// Hint says how to fix a status the backend knows (access denied, a
	// missing bucket); shown when no sentinel applies.
	Hint string
	// Sentinel is the storage sentinel the call translates to, or nil.
	Sentinel error
	// Transient says the same request may succeed if sent again.
	Transient bool
	// After is the delay the service asked for, or 0.
	After time.Duration
	// Err is the SDK's or the network's error.
	Err error
}

// Error implements error.
func (e *ServiceError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s: ", e.Service, e.Op, e.Path)
	switch {
	case e.Sentinel != nil && e.StatusCode != 0:
		fmt.Fprintf(&b, "%v (HTTP %d %s)", e.Sentinel, e.StatusCode, e.Code)
	case e.StatusCode != 0:
		fmt.Fprintf(&b, "HTTP %d %s", e.StatusCode, e.Code)
		if e.Hint != "" {
			b.WriteString(": " + e.Hint)
		}
	default:
		b.WriteString(RedactURLs(e.Err.Error()))
	}
	return b.String()
}

// Unwrap returns the storage sentinel (if any) and the underlying error.
func (e *ServiceError) Unwrap() []error {
	if e.Sentinel != nil {
		return []error{e.Sentinel, e.Err}
	}
	return []error{e.Err}
}

// Retryable reports whether the same request may succeed if sent again.
func (e *ServiceError) Retryable() bool { return e.Transient }

// RetryAfter is the delay the service asked for, or 0 when it named none.
func (e *ServiceError) RetryAfter() time.Duration { return e.After }

// IsNetworkError reports whether err happened on the wire (no response): a
// dial, TLS, reset or timeout. Anything else without a response, such as an
// invalid argument detected by an SDK, is permanent.
func IsNetworkError(err error) bool {
	var ue *url.Error
	var ne interface{ Timeout() bool }
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "connection reset")
}

// ParseRetryAfter reads a Retry-After header value given in seconds or as an
// HTTP date (relative to now); 0 when it is empty, invalid or past.
func ParseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.Duration(max(n, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// RedactURLs removes query strings from URLs quoted in an error message, so
// a SAS token or a presigned signature can never reach a log through a
// wrapped network error.
func RedactURLs(msg string) string {
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
