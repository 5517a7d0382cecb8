// Package pgsource knows the PostgreSQL side of archiving: it resolves a
// configured table name through pg_catalog (never by splicing strings), reads
// its columns and types, finds native partitions and TimescaleDB chunks that
// lie wholly before a cutoff, and takes the per-table advisory lock that keeps
// two strata processes from archiving the same table at once.
package pgsource

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Querier is a connection, pool or transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Relation is a resolved table.
type Relation struct {
	OID    uint32
	Schema string
	Name   string
	// Kind is pg_class.relkind: 'r' table, 'p' partitioned table.
	Kind byte
	// Hypertable is true when TimescaleDB manages the table.
	Hypertable bool
}

// Ident returns the quoted, schema-qualified name for SQL.
func (r Relation) Ident() string { return pgx.Identifier{r.Schema, r.Name}.Sanitize() }

// String returns schema.name for messages.
func (r Relation) String() string { return r.Schema + "." + r.Name }

// ErrNoTable is returned by Resolve when the table does not exist.
var ErrNoTable = errors.New("table does not exist")

// Resolve finds table (optionally schema-qualified, "schema.name") through
// pg_catalog, using the connection's search_path when no schema is given.
func Resolve(ctx context.Context, q Querier, table string) (Relation, error) {
	parts := strings.Split(table, ".")
	if len(parts) > 2 {
		return Relation{}, fmt.Errorf("table %q: use name or schema.name", table)
	}
	var r Relation
	var kind string
	err := q.QueryRow(ctx, `SELECT c.oid, n.nspname, c.relname, c.relkind::text
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = to_regclass($1)`, pgx.Identifier(parts).Sanitize()).Scan(&r.OID, &r.Schema, &r.Name, &kind)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, fmt.Errorf("table %s: %w (check datasets[].*.table in strata.yaml and the database in database.url)", table, ErrNoTable)
	}
	if err != nil {
		return r, fmt.Errorf("resolve table %s: %w", table, err)
	}
	r.Kind = kind[0]
	if r.Kind != 'r' && r.Kind != 'p' {
		return r, fmt.Errorf("%s is not a table (relkind %q): Strata archives tables and partitioned tables", r, kind)
	}
	r.Hypertable, err = isHypertable(ctx, q, r)
	return r, err
}

func isHypertable(ctx context.Context, q Querier, r Relation) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')`).Scan(&ok)
	if err != nil || !ok {
		return false, err
	}
	err = q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM timescaledb_information.hypertables
		WHERE hypertable_schema = $1 AND hypertable_name = $2)`, r.Schema, r.Name).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check whether %s is a hypertable: %w", r, err)
	}
	return ok, nil
}
