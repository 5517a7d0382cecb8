package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/stratahq/strata/internal/storage"
)

// Error is the error every Backend method returns for a failed call to S3.
// Its message names the operation, the bucket/key, the HTTP status and the S3
// error code, and never a credential or a response body.
//
// errors.Is matches the storage sentinel it was translated to (ErrNotExist,
// ErrExist, ErrImmutable), and errors.As still reaches the SDK's error
// underneath. Retryable and RetryAfter let the storage retry layer classify
// it without knowing S3.
type Error struct {
	// Op is the Backend operation: "put", "get", "stat", "list", "delete".
	Op string
	// Path is "bucket/key" (or the bucket alone).
	Path string
	// StatusCode is the HTTP status, 0 when no response arrived.
	StatusCode int
	// Code is the S3 error code, e.g. "NoSuchKey", "PreconditionFailed".
	Code string

	sentinel   error
	retryable  bool
	retryAfter time.Duration
	err        error
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "s3 %s %s: ", e.Op, e.Path)
	switch {
	case e.sentinel != nil && e.StatusCode != 0:
		fmt.Fprintf(&b, "%v (HTTP %d %s)", e.sentinel, e.StatusCode, e.Code)
	case e.StatusCode != 0:
		fmt.Fprintf(&b, "HTTP %d %s", e.StatusCode, e.Code)
		if hint := hintFor(e.StatusCode, e.Code); hint != "" {
			b.WriteString(": " + hint)
		}
	default:
		b.WriteString(e.err.Error())
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
// HTTP 408, 429, 5xx, S3's throttling and transit-damage codes, a conflicting
// conditional write in flight, and network errors.
func (e *Error) Retryable() bool { return e.retryable }

// RetryAfter is the delay the service asked for (Retry-After), or 0.
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }

func hintFor(status int, code string) string {
	switch {
	case code == "NoSuchBucket":
		return "the bucket does not exist: create it (with versioning; Object Lock if retention is wanted) or fix the storage URL"
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return "access denied: check the AWS credentials (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profile or role) and their bucket policy"
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
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("s3 %s %s: %w", op, path, context.Canceled)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("s3 %s %s: %w", op, path, context.DeadlineExceeded)
	}
	e := &Error{Op: op, Path: path, err: err}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		e.retryable = isNetworkError(err)
		return e
	}
	e.StatusCode = re.HTTPStatusCode()
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.Code = ae.ErrorCode()
	}
	e.sentinel = sentinelFor(op, e.StatusCode, e.Code)
	e.retryable = retryableStatus(e.StatusCode, e.Code)
	if re.Response != nil {
		e.retryAfter = retryAfter(re.Response.Header.Get("Retry-After"))
	}
	return e
}

func sentinelFor(op string, status int, code string) error {
	switch {
	case code == "NoSuchBucket":
		return nil // a configuration error, not a missing object
	case status == http.StatusNotFound:
		return storage.ErrNotExist
	case op == "put" && (status == http.StatusPreconditionFailed || code == "PreconditionFailed"):
		return storage.ErrExist
	case op == "delete" && (code == "ObjectLocked" || code == "InvalidRetentionPeriod"):
		return storage.ErrImmutable
	}
	return nil
}

func retryableStatus(status int, code string) bool {
	switch code {
	case "SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable",
		"BadDigest", "XAmzContentSHA256Mismatch", "ConditionalRequestConflict":
		return true
	}
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// isNetworkError reports whether err happened on the wire (no response): a
// dial, TLS, reset or timeout. Anything else without a response, such as an
// invalid argument detected by the SDK, is permanent.
func isNetworkError(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.As(err, &ue) || errors.As(err, &ne) ||
		errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "connection reset")
}

// retryAfter reads a Retry-After header given in seconds or as a date.
func retryAfter(v string) time.Duration {
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
