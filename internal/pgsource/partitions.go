package pgsource

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Partition is a leaf partition (or TimescaleDB chunk) whose whole range lies
// before a cutoff, so it can be archived and then dropped instead of deleted
// row by row.
type Partition struct {
	Rel        Relation
	From, Upto time.Time // range bounds [From, Upto), UTC
	// Chunk is true for a TimescaleDB chunk, false for a native partition.
	Chunk bool
}

// DroppablePartitions lists the leaf range partitions of parent whose upper
// bound is at or before cutoff, partitioned on timeColumn alone. A default
// partition and partitions bounded by MINVALUE are never listed.
func DroppablePartitions(ctx context.Context, q Querier, parent Relation, timeColumn string, cutoff time.Time) ([]Partition, error) {
	if parent.Hypertable {
		return droppableChunks(ctx, q, parent, timeColumn, cutoff)
	}
	if parent.Kind != 'p' {
		return nil, nil
	}
	rows, err := q.Query(ctx, `
		WITH RECURSIVE tree AS (
			SELECT inhrelid AS oid FROM pg_inherits WHERE inhparent = $1
			UNION ALL
			SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid)
		SELECT c.oid, n.nspname, c.relname,
		       (regexp_match(pg_get_expr(c.relpartbound, c.oid), $$FROM \('([^']+)'\) TO \('([^']+)'\)$$))[1],
		       (regexp_match(pg_get_expr(c.relpartbound, c.oid), $$FROM \('([^']+)'\) TO \('([^']+)'\)$$))[2]
		FROM tree JOIN pg_class c ON c.oid = tree.oid JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_class p ON p.oid = (SELECT inhparent FROM pg_inherits WHERE inhrelid = c.oid)
		JOIN pg_partitioned_table pt ON pt.partrelid = p.oid
		WHERE c.relkind = 'r' AND pt.partstrat = 'r' AND pt.partnatts = 1
		  AND pt.partattrs[0] = (SELECT attnum FROM pg_attribute WHERE attrelid = p.oid AND attname = $2)`,
		parent.OID, timeColumn)
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", parent, err)
	}
	type part struct {
		rel      Relation
		from, to *string
	}
	parts, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (part, error) {
		var p part
		p.rel.Kind = 'r'
		err := r.Scan(&p.rel.OID, &p.rel.Schema, &p.rel.Name, &p.from, &p.to)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("list partitions of %s: %w", parent, err)
	}
	var out []Partition
	for _, p := range parts {
		if p.from == nil || p.to == nil {
			continue // MINVALUE/MAXVALUE or not a plain range bound
		}
		var from, to time.Time
		// Let PostgreSQL parse its own literals (timestamptz, timestamp or date).
		if err := q.QueryRow(ctx, `SELECT $1::timestamptz, $2::timestamptz`, *p.from, *p.to).Scan(&from, &to); err != nil {
			continue
		}
		if !to.After(cutoff) {
			out = append(out, Partition{Rel: p.rel, From: from.UTC(), Upto: to.UTC()})
		}
	}
	return out, nil
}

func droppableChunks(ctx context.Context, q Querier, parent Relation, timeColumn string, cutoff time.Time) ([]Partition, error) {
	rows, err := q.Query(ctx, `SELECT c.oid, ch.chunk_schema, ch.chunk_name, ch.range_start, ch.range_end
		FROM timescaledb_information.chunks ch
		JOIN pg_namespace n ON n.nspname = ch.chunk_schema
		JOIN pg_class c ON c.relname = ch.chunk_name AND c.relnamespace = n.oid
		JOIN timescaledb_information.dimensions d
		  ON d.hypertable_schema = ch.hypertable_schema AND d.hypertable_name = ch.hypertable_name
		 AND d.column_name = $3 AND d.dimension_number = 1
		WHERE ch.hypertable_schema = $1 AND ch.hypertable_name = $2
		  AND ch.range_end <= $4 AND NOT ch.is_compressed
		ORDER BY ch.range_start`, parent.Schema, parent.Name, timeColumn, cutoff)
	if err != nil {
		return nil, fmt.Errorf("list TimescaleDB chunks of %s: %w", parent, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Partition, error) {
		p := Partition{Chunk: true}
		p.Rel.Kind = 'r'
		err := r.Scan(&p.Rel.OID, &p.Rel.Schema, &p.Rel.Name, &p.From, &p.Upto)
		p.From, p.Upto = p.From.UTC(), p.Upto.UTC()
		return p, err
	})
}
