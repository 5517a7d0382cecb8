package strata

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratahq/strata/internal/storage"
)

func TestOutagesOfTheDatabaseOrTheStorageAreUnavailableAndBugsAreNot(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		outage bool
	}{
		{"the connection was lost (class 08)", &pgconn.PgError{Code: "08006"}, true},
		{"the server is shutting down", &pgconn.PgError{Code: "57P01"}, true},
		{"too many connections (class 53)", &pgconn.PgError{Code: "53300"}, true},
		{"a serialization failure", &pgconn.PgError{Code: "40001"}, true},
		{"connection refused, wrapped", fmt.Errorf("ingest orders: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}), true},
		{"storage retries ran out", fmt.Errorf("upload: %w", &storage.RetryableError{Err: errors.New("503 Service Unavailable")}), true},
		{"a unique violation (a bug or a race)", &pgconn.PgError{Code: "23505"}, false},
		{"an undefined column (a bug)", &pgconn.PgError{Code: "42703"}, false},
		{"anything else", errors.New("something broke"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := unavailable(tc.err)
			if got := errors.Is(err, ErrUnavailable); got != tc.outage {
				t.Fatalf("errors.Is(unavailable(%v), ErrUnavailable) = %v, want %v", tc.err, got, tc.outage)
			}
			if !errors.Is(err, tc.err) || err.Error() != tc.err.Error() {
				t.Fatalf("unavailable changed the error: %v", err)
			}
		})
	}
	if unavailable(nil) != nil {
		t.Fatal("unavailable(nil) is not nil")
	}
}
