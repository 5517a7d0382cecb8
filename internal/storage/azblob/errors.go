package azblob

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"

	"github.com/stratahq/strata/internal/storage"
)

// Error is the error every Backend method returns for a failed call to Azure
// (storage.ServiceError, with Azure's x-ms-error-code as Code). errors.As
// still reaches the SDK's *azcore.ResponseError or the network error
// underneath. Retryable: HTTP 408, 429, 5xx, a transactional MD5 mismatch
// (bytes damaged in transit), and network errors; a cancelled or expired
// context is not an *Error. RetryAfter: Retry-After or x-ms-retry-after-ms.
type Error = storage.ServiceError

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
	e := &Error{Service: "azblob", Op: op, Path: path, Err: err}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		e.Transient = storage.IsNetworkError(err)
		return e
	}
	e.StatusCode, e.Code, e.Hint = re.StatusCode, re.ErrorCode, statusHint(re.StatusCode)
	e.Sentinel = sentinelFor(op, re.StatusCode, bloberror.Code(re.ErrorCode))
	e.Transient = re.StatusCode == http.StatusRequestTimeout ||
		re.StatusCode == http.StatusTooManyRequests ||
		(re.StatusCode >= 500 && re.StatusCode != http.StatusNotImplemented) ||
		bloberror.Code(re.ErrorCode) == bloberror.MD5Mismatch
	if re.RawResponse != nil {
		e.After = retryAfter(re.RawResponse.Header, time.Now())
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
	case status == http.StatusNotImplemented || code == "APINotImplemented":
		// Azurite answers the immutability and legal-hold calls so.
		return storage.ErrUnsupported
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

// retryAfter reads the delay a throttled or busy service asked for:
// Azure's x-ms-retry-after-ms first, then Retry-After.
func retryAfter(h http.Header, now time.Time) time.Duration {
	if ms := h.Get("x-ms-retry-after-ms"); ms != "" {
		if n, err := strconv.ParseInt(ms, 10, 64); err == nil && n > 0 {
			return time.Duration(n) * time.Millisecond
		}
	}
	return storage.ParseRetryAfter(h.Get("Retry-After"), now)
}
