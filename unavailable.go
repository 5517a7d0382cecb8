package strata

import (
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratahq/strata/internal/storage"
)

// ErrUnavailable matches an error caused by an outage of the database or
// the storage (unreachable, restarting, out of connections, timing out): the
// request did nothing that a retry could duplicate and may be retried later
// (HTTP 503 with Retry-After). Errors caused by the request match ErrInvalid,
// ErrNotFound or ErrConflict; anything else is a bug.
var ErrUnavailable = errors.New("unavailable")

// unavailable marks err as ErrUnavailable when it is an outage.
func unavailable(err error) error {
	if err == nil || !isOutage(err) {
		return err
	}
	return &kindError{ErrUnavailable, err}
}

// isOutage reports whether err comes from a database or storage that could
// not be reached or answer, rather than from the request or a bug.
func isOutage(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) { // whatever the server said: it could not be reached
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case len(pe.Code) >= 2 && (pe.Code[:2] == "08" || pe.Code[:2] == "53"): // connection, resources
			return true
		case pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03" || pe.Code == "40001" || pe.Code == "40P01":
			return true // shutting down, starting up, serialization, deadlock
		}
		return false
	}
	var ne net.Error
	switch {
	case errors.As(err, &ne), pgconn.Timeout(err), storage.IsRetryable(err):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF):
		return true
	}
	var se interface{ SafeToRetry() bool }
	return errors.As(err, &se) && se.SafeToRetry()
}
