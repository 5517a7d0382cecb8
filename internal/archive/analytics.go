package archive

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/pgsource"
)

// Analytics archives every whole UTC day of spec's table whose rows are all
// older than spec.Retention, one object per day per run. Rows that arrive
// late for a day already archived become a new object of that day next run.
// When another process holds the dataset's lock, the run is skipped.
func (a *Archiver) Analytics(ctx context.Context, spec AnalyticsSpec, opts Options) (Report, error) {
	rep := Report{Dataset: spec.Dataset, Type: catalog.TypeAnalytics}
	rel, err := pgsource.Resolve(ctx, a.Pool, spec.Table)
	if err != nil {
		return rep, fmt.Errorf("archive %s: %w", spec.Dataset, err)
	}
	if err := a.Pool.QueryRow(ctx, `SELECT date_trunc('day', now() - $1::interval, 'UTC'),
		pg_total_relation_size($2)`, spec.Retention, rel.OID).Scan(&rep.Cutoff, &rep.DBBytes); err != nil {
		return rep, fmt.Errorf("archive %s: compute cutoff: %w", spec.Dataset, err)
	}
	rep.Cutoff = rep.Cutoff.UTC()
	if opts.DryRun {
		return a.plan(ctx, spec, rel, rep)
	}
	lock, err := a.Catalog.TryLock(ctx, "strata:archive:analytics:"+spec.Dataset)
	if err != nil {
		return rep, err
	}
	if lock == nil {
		rep.Skipped = "another strata process is archiving this dataset now"
		a.logger().Info("skipped: dataset locked by another process", "dataset", spec.Dataset)
		return rep, nil
	}
	defer lock.Unlock(context.WithoutCancel(ctx))
	if rep.Orphaned, err = a.Catalog.SettleDeadRuns(ctx, spec.Dataset, catalog.TypeAnalytics); err != nil {
		return rep, err
	}
	if rep.Orphaned > 0 {
		a.logger().Warn("found uncommitted objects of an interrupted run; marked orphaned",
			"dataset", spec.Dataset, "objects", rep.Orphaned)
	}
	runID, end, err := a.Catalog.BeginRun(ctx, "archive", spec.Dataset, catalog.TypeAnalytics)
	if err != nil {
		return rep, err
	}
	defer end()
	done := a.ObserveRun(ctx, RunInfo{ID: runID, Kind: catalog.LineageAnalyticsArchive, Dataset: spec.Dataset})
	err = a.archiveAll(ctx, spec, rel, runID, &rep)
	if ferr := a.Catalog.FinishRun(context.WithoutCancel(ctx), runID,
		catalog.RunTotals{Rows: rep.Rows(), Objects: len(rep.Days), Bytes: rep.Bytes()}, err); ferr != nil && err == nil {
		err = ferr
	}
	done(runResult(rep.Days, err))
	return rep, err
}

func (a *Archiver) archiveAll(ctx context.Context, spec AnalyticsSpec, rel pgsource.Relation, runID int64, rep *Report) error {
	jobs, err := a.jobs(ctx, spec, rel, rep.Cutoff)
	if err != nil {
		return err
	}
	if err := a.Failpoints.Hit("after-plan"); err != nil {
		return err
	}
	for _, j := range jobs {
		days, err := a.runJob(ctx, spec, j, runID)
		rep.Days = append(rep.Days, days...)
		if err != nil {
			return fmt.Errorf("archive %s %s: %w", spec.Dataset, j, err)
		}
	}
	return nil
}

// dayCount is one day's rows.
type dayCount struct {
	Day  time.Time
	Rows int64
}

// countDays returns the days before cutoff that have rows in rel, oldest first.
func countDays(ctx context.Context, q pgsource.Querier, rel pgsource.Relation, timeCol string, cutoff time.Time) ([]dayCount, error) {
	col := pgx.Identifier{timeCol}.Sanitize()
	rows, err := q.Query(ctx, `SELECT date_trunc('day', `+col+`::timestamptz, 'UTC') AS d, count(*)
		FROM `+rel.Ident()+` WHERE `+col+` < $1 GROUP BY 1 ORDER BY 1`, cutoff)
	if err != nil {
		return nil, fmt.Errorf("count rows per day in %s: %w", rel, err)
	}
	days, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (dayCount, error) {
		var d dayCount
		err := r.Scan(&d.Day, &d.Rows)
		d.Day = d.Day.UTC()
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("count rows per day in %s: %w", rel, err)
	}
	return days, nil
}

// listDays returns the days before cutoff that have rows in rel, oldest
// first, without counting their rows (a run needs only the days; the rows
// it archives are counted as they are written). When timeCol leads a btree
// index of rel, it makes one index probe per day (a loose index scan:
// the first time at or after the previous day's end); otherwise it falls
// back to countDays' pass over the rows before cutoff.
func listDays(ctx context.Context, q pgsource.Querier, rel pgsource.Relation, timeCol string, cutoff time.Time) ([]time.Time, error) {
	indexed, err := leadsBtreeIndex(ctx, q, rel, timeCol)
	if err != nil {
		return nil, err
	}
	if !indexed {
		counts, err := countDays(ctx, q, rel, timeCol, cutoff)
		if err != nil {
			return nil, err
		}
		days := make([]time.Time, len(counts))
		for i, c := range counts {
			days[i] = c.Day
		}
		return days, nil
	}
	// The same days as countDays: a row at t belongs to the UTC day of
	// t::timestamptz, and t >= d + 24 hours (a UTC day is always 24 hours)
	// exactly when that day is after d. Each probe is an ORDER BY ... LIMIT 1
	// on the index.
	col := pgx.Identifier{timeCol}.Sanitize()
	first := `SELECT date_trunc('day', ` + col + `::timestamptz, 'UTC') FROM ` + rel.Ident() + ` WHERE `
	rows, err := q.Query(ctx, `WITH RECURSIVE days(d) AS (
			SELECT (`+first+col+` < $1 ORDER BY `+col+` LIMIT 1)
			UNION ALL
			SELECT (`+first+col+` >= days.d + interval '24 hours' AND `+col+` < $1 ORDER BY `+col+` LIMIT 1)
			FROM days WHERE days.d IS NOT NULL)
		SELECT d FROM days WHERE d IS NOT NULL`, cutoff)
	if err != nil {
		return nil, fmt.Errorf("list days in %s: %w", rel, err)
	}
	days, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (time.Time, error) {
		var d time.Time
		err := r.Scan(&d)
		return d.UTC(), err
	})
	if err != nil {
		return nil, fmt.Errorf("list days in %s: %w", rel, err)
	}
	return days, nil
}

// leadsBtreeIndex reports whether timeCol is the leading column of a valid,
// non-partial btree index of rel with the type's default operator class,
// which the planner uses for ORDER BY timeCol LIMIT 1. (For a partitioned
// table the index is valid only when every partition has it.)
func leadsBtreeIndex(ctx context.Context, q pgsource.Querier, rel pgsource.Relation, timeCol string) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_index i
		JOIN pg_class ic ON ic.oid = i.indexrelid
		JOIN pg_am am ON am.oid = ic.relam
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		JOIN pg_opclass opc ON opc.oid = i.indclass[0]
		WHERE i.indrelid = $1 AND a.attname = $2 AND am.amname = 'btree'
		  AND i.indisvalid AND i.indisready AND i.indpred IS NULL
		  AND opc.opcdefault AND opc.opcintype = a.atttypid)`, rel.OID, timeCol).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("look for an index on %s(%s): %w", rel, timeCol, err)
	}
	return ok, nil
}

// plan fills rep with what a run would archive, changing nothing.
func (a *Archiver) plan(ctx context.Context, spec AnalyticsSpec, rel pgsource.Relation, rep Report) (Report, error) {
	days, err := countDays(ctx, a.Pool, rel, spec.TimeColumn, rep.Cutoff)
	if err != nil {
		return rep, err
	}
	var tuples float64
	if err := a.Pool.QueryRow(ctx, `SELECT greatest(sum(c.reltuples), 0)::float8 FROM pg_class c
		WHERE c.oid = $1 OR c.oid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = $1)`, rel.OID).Scan(&tuples); err != nil {
		return rep, fmt.Errorf("estimate size of %s: %w", rel, err)
	}
	if tuples <= 0 { // never analyzed: count instead of guessing
		if err := a.Pool.QueryRow(ctx, `SELECT count(*)::float8 FROM `+rel.Ident()).Scan(&tuples); err != nil {
			return rep, fmt.Errorf("count rows of %s: %w", rel, err)
		}
	}
	perRow := 0.0
	if tuples > 0 {
		perRow = float64(rep.DBBytes) / tuples
	}
	for _, d := range days {
		share := int64(perRow * float64(d.Rows))
		rep.EstimatedRowBytes += share
		// Snappy Parquet of typical tables comes to about a tenth of their
		// heap and index bytes; the real figure is printed after a run.
		rep.Days = append(rep.Days, DayReport{Dataset: spec.Dataset, Day: d.Day, Rows: d.Rows, Bytes: share / 10})
	}
	return rep, nil
}
