package lineage

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// transformClasses are the SQLSTATE classes of errors that the transform's
// own SQL causes: feature not supported (0A), cardinality (21), data (22),
// integrity (23), routines (2F, 38, 39), syntax and access (42), check
// option (44), program limits (54), PL/pgSQL (P0). Connection, resource
// and operator errors (08, 53, 57, ...) are not the transform's fault.
var transformClasses = map[string]bool{"0A": true, "21": true, "22": true, "23": true, "2F": true,
	"38": true, "39": true, "42": true, "44": true, "54": true, "P0": true}

// readOnlyTx is the SQLSTATE of a write refused in a read-only transaction.
const readOnlyTx = "25006"

// transformFault wraps err, an error running the transform, with
// ErrTransform when PostgreSQL refused the transform's SQL or its result,
// keeping the database's message; other errors (a lost connection) stay
// failures.
func transformFault(what string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (transformClasses[pe.Code[:min(2, len(pe.Code))]] || pe.Code == readOnlyTx) {
		return fmt.Errorf("%w: %s: %w", ErrTransform, what, err)
	}
	return fmt.Errorf("run the transform: %s: %w", what, err)
}

// runTransform runs sql, a statement that runs the transform and inserts
// its rows into a temporary table, in a READ ONLY transaction: whatever
// the transform's SQL calls, it writes nothing but the session's temporary
// tables (a function that writes fails, SQLSTATE 25006). It returns the
// rows inserted.
func (s *session) runTransform(ctx context.Context, what, sql string) (int64, error) {
	tx, err := s.conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return 0, fmt.Errorf("run the transform: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	tag, err := tx.Exec(ctx, sql)
	if err != nil {
		return 0, transformFault(what, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("run the transform: %s: commit: %w", what, err)
	}
	return tag.RowsAffected(), nil
}
