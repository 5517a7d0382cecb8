package s3

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/stratahq/strata/internal/storage"
)

// Error is the error every Backend method returns for a failed call to S3
// (storage.ServiceError, with the S3 error code as Code, e.g. "NoSuchKey").
// errors.As still reaches the SDK's error underneath. Retryable: HTTP 408,
// 429, 5xx, S3's throttling and transit-damage codes, a conflicting
// conditional write in flight, and network errors.
type Error = storage.ServiceError

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
	e := &Error{Service: "s3", Op: op, Path: path, Err: err}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		e.Transient = storage.IsNetworkError(err)
		return e
	}
	e.StatusCode = re.HTTPStatusCode()
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.Code = ae.ErrorCode()
	}
	var msg string
	if ae != nil {
		msg = ae.ErrorMessage()
	}
	e.Hint = hintFor(e.StatusCode, e.Code)
	e.Sentinel = sentinelFor(op, e.StatusCode, e.Code, msg)
	if errors.Is(e.Sentinel, storage.ErrUnsupported) {
		e.Hint = "the bucket has no Object Lock: enable it (aws s3api put-object-lock-configuration) or set archive.immutability: off"
	}
	e.Transient = retryableStatus(e.StatusCode, e.Code)
	if re.Response != nil {
		e.After = storage.ParseRetryAfter(re.Response.Header.Get("Retry-After"), time.Now())
	}
	return e
}

func sentinelFor(op string, status int, code, msg string) error {
	lockMsg := strings.Contains(strings.ToLower(msg), "lock")
	switch {
	case code == "NoSuchBucket":
		return nil // a configuration error, not a missing object
	case status == http.StatusNotFound && code != "ObjectLockConfigurationNotFoundError":
		return storage.ErrNotExist
	case strings.HasSuffix(op, " version") && code == "InvalidArgument":
		return storage.ErrNotExist // "Invalid version id specified"
	case op == "put" && (status == http.StatusPreconditionFailed || code == "PreconditionFailed"):
		return storage.ErrExist
	case op == "delete" && (code == "ObjectLocked" || code == "InvalidRetentionPeriod" || (code == "AccessDenied" && lockMsg)):
		// AWS and versitygw answer a delete of a locked version with
		// 403 AccessDenied "... protected by object lock".
		return storage.ErrImmutable
	case code == "InvalidRequest" && lockMsg, code == "ObjectLockConfigurationNotFoundError":
		// "Bucket is missing ObjectLockConfiguration"
		return storage.ErrUnsupported
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
