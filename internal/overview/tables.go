package overview

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
)

// layer2 counts the dataset's Layer 2 rows per UTC day of its time column
// (all of them are live: archiving deletes what it archives) into live.
func layer2(ctx context.Context, tx pgx.Tx, ds *config.Dataset, live map[dayKey]int64, maxCount int64) (*Table, error) {
	a := ds.Analytics
	t := &Table{Name: a.Table.String()}
	if err := tableSize(ctx, tx, a.Table, t, maxCount); err != nil || t.Bytes < 0 || t.Estimated {
		return t, err
	}
	col := pgx.Identifier{a.TimeColumn}.Sanitize()
	q := fmt.Sprintf(`SELECT (%s AT TIME ZONE 'UTC')::date, count(*) FROM %s GROUP BY 1`, col, a.Table.Sanitize())
	err := perDay(ctx, tx, q, func(day time.Time, n, _ int64) {
		t.Rows += n
		if !day.IsZero() {
			live[dayKey{ds.Name, catalog.TypeAnalytics, day}] += n
		}
	})
	return t, err
}

// layer3 counts the dataset's Layer 3 rows, and per UTC day of ingestion
// those not yet in a committed source batch (the live ones) into live.
func layer3(ctx context.Context, tx pgx.Tx, ds *config.Dataset, live map[dayKey]int64, maxCount int64) (*Table, error) {
	s := ds.Source
	t := &Table{Name: s.Table.String()}
	if err := tableSize(ctx, tx, s.Table, t, maxCount); err != nil || t.Bytes < 0 || t.Estimated {
		return t, err
	}
	q := fmt.Sprintf(`SELECT (t.%s AT TIME ZONE 'UTC')::date, count(*),
			count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM strata.source_archived a WHERE a.dataset = $1 AND a.id = t.%s))
		FROM %s t GROUP BY 1`,
		pgx.Identifier{s.TimeColumn}.Sanitize(), pgx.Identifier{s.IDColumn}.Sanitize(), s.Table.Sanitize())
	err := perDay(ctx, tx, q, func(day time.Time, n, pending int64) {
		t.Rows += n
		t.Pending += pending
		if pending > 0 && !day.IsZero() {
			live[dayKey{ds.Name, catalog.TypeSource, day}] += pending
		}
	}, ds.Name)
	return t, err
}

// tableSize reads the table's total size, with its partitions' (-1 when the table does not
// exist: the figures then stay empty rather than failing the page) and,
// when the planner estimates more than maxCount rows, takes that estimate
// as its rows (Estimated; Pending unknown) instead of counting them.
func tableSize(ctx context.Context, tx pgx.Tx, table config.TableName, t *Table, maxCount int64) error {
	var est float64
	// pg_partition_tree lists a partitioned table's partitions (the parent
	// holds nothing) and nothing for a plain table, which is then its own.
	err := tx.QueryRow(ctx, `WITH r AS (SELECT to_regclass($1) AS oid),
		t AS (SELECT relid, isleaf FROM pg_partition_tree((SELECT oid FROM r))
			UNION ALL SELECT oid, true FROM r WHERE oid IS NOT NULL AND NOT EXISTS (SELECT FROM pg_partition_tree((SELECT oid FROM r))))
		SELECT coalesce(sum(pg_total_relation_size(t.relid)), -1)::bigint,
			coalesce(sum(greatest(c.reltuples, 0)) FILTER (WHERE t.isleaf), -1)::float8
		FROM t JOIN pg_class c ON c.oid = t.relid`, table.Sanitize()).Scan(&t.Bytes, &est)
	if err != nil {
		return fmt.Errorf("size of %s: %w", table, err)
	}
	if est > float64(maxCount) {
		t.Rows, t.Pending, t.Estimated = int64(est), -1, true
	}
	return nil
}

// perDay runs a query yielding (day, count[, count]) rows.
func perDay(ctx context.Context, tx pgx.Tx, q string, each func(day time.Time, n, m int64), args ...any) error {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("count rows per day: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var day *time.Time
		var n, m int64
		dest := []any{&day, &n}
		if len(rows.FieldDescriptions()) > 2 {
			dest = append(dest, &m)
		}
		if err := rows.Scan(dest...); err != nil {
			return fmt.Errorf("count rows per day: %w", err)
		}
		var d time.Time // zero: a NULL time; counted, on no day
		if day != nil {
			d = day.UTC()
		}
		each(d, n, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("count rows per day: %w", err)
	}
	return nil
}
