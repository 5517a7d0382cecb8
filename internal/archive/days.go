package archive

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratahq/strata/internal/pgsource"
)

// runDays archives every day of a days job from one pass over the table,
// however its rows lie in the heap:
//
//  1. BEGIN REPEATABLE READ and export its snapshot; one SELECT of every row
//     before the cutoff, each row routed to its day's Parquet object
//     (route.go);
//  2. each day in order: intent, create-only upload, read back (stage);
//     then, in a transaction that imports the snapshot, one DELETE of the
//     day's rows, which deletes exactly the rows read (a row changed since
//     fails it with a serialization error; a row inserted since is not in
//     the snapshot and stays), the object, the lineage record; COMMIT.
//
// Each day commits on its own, as the state machine requires (a crash or
// an error keeps the days committed before it); the snapshot transaction
// stays open until the last day has committed.
func (a *Archiver) runDays(ctx context.Context, spec AnalyticsSpec, j job, runID int64) ([]DayReport, error) {
	tx, release, err := a.beginRepeatableRead(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var snap string
	if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snap); err != nil {
		return nil, fmt.Errorf("export snapshot: %w", err)
	}
	if !snapshotID.MatchString(snap) {
		return nil, fmt.Errorf("exported snapshot %q has an unexpected form", snap)
	}
	if _, err := tx.Exec(ctx, `SET LOCAL synchronize_seqscans = off`); err != nil {
		return nil, err
	}
	ex, err := newExtractor(ctx, tx, spec, j)
	if err != nil {
		return nil, err
	}
	written, err := a.extractDays(ctx, tx, ex, spec, j)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, s := range written {
			s.cleanup()
		}
	}()
	var reps []DayReport
	for _, s := range written {
		if err := a.stage(ctx, s, runID); err != nil {
			return reps, err
		}
		rep, err := a.commitDay(ctx, spec, j, snap, s)
		if err != nil {
			return reps, err
		}
		reps = append(reps, rep...)
	}
	return reps, nil
}

// extractDays reads the job's rows in one pass and writes one object per
// day, oldest first.
func (a *Archiver) extractDays(ctx context.Context, tx pgx.Tx, ex *extractor, spec AnalyticsSpec, j job) ([]*staged, error) {
	r := a.newDayRouter(ex, spec, j.parent.String())
	rows, err := tx.Query(ctx, ex.scanSQL, pgx.QueryExecModeDescribeExec, ex.resultFmt, j.upto)
	if err != nil {
		r.abort()
		return nil, fmt.Errorf("read rows: %w", err)
	}
	for rows.Next() {
		if err := r.route(rows.RawValues()); err != nil {
			rows.Close()
			r.abort()
			return nil, err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		r.abort()
		return nil, fmt.Errorf("read rows: %w", err)
	}
	return r.finish(spec.parallelism())
}

// parallelism is archive.parallelism, or the number of cores up to 4.
func (spec AnalyticsSpec) parallelism() int {
	if spec.Parallelism > 0 {
		return spec.Parallelism
	}
	return min(runtime.NumCPU(), 4)
}

// snapshotID is the form of pg_export_snapshot()'s answer, checked before
// it is quoted into SET TRANSACTION SNAPSHOT (which takes no parameter).
var snapshotID = regexp.MustCompile(`^[0-9A-F]+(-[0-9A-F]+)+$`)

// commitDay deletes the staged day's rows and commits its object, in a
// transaction that imports the snapshot the rows were read in.
func (a *Archiver) commitDay(ctx context.Context, spec AnalyticsSpec, j job, snap string, s *staged) ([]DayReport, error) {
	staged := []*staged{s}
	tx, release, err := a.beginRepeatableRead(ctx)
	if err != nil {
		a.orphan(context.WithoutCancel(ctx), staged)
		return nil, err
	}
	defer release()
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			a.orphan(context.WithoutCancel(ctx), staged)
		}
	}()
	if _, err := tx.Exec(ctx, `SET TRANSACTION SNAPSHOT '`+snap+`'`); err != nil {
		return nil, fmt.Errorf("import the snapshot: %w", err)
	}
	if err := a.commitJob(ctx, tx, spec, j, staged); err != nil {
		return nil, err
	}
	committed = true
	if err := a.Catalog.MarkCommitted(ctx, []int64{s.obj.ID}); err != nil {
		a.logger().Warn("objects committed; recording it in strata.uploads failed (the next run settles it)", "err", err)
	}
	return a.confirm(ctx, staged, j)
}

// deleteDay deletes the day's rows (in a days job's snapshot: the rows
// read) and checks that they are exactly the rows archived.
func deleteDay(ctx context.Context, tx pgx.Tx, rel pgsource.Relation, timeCol string, s *staged) error {
	col := pgx.Identifier{timeCol}.Sanitize()
	day := s.day.Format(time.DateOnly)
	tag, err := tx.Exec(ctx, `DELETE FROM `+rel.Ident()+` WHERE `+col+` >= $1 AND `+col+` < $2`, s.day, s.day.AddDate(0, 0, 1))
	if err != nil {
		if isSerialization(err) {
			return fmt.Errorf("rows of day %s changed while archiving; nothing was deleted, the next run archives them again: %w", day, err)
		}
		return fmt.Errorf("delete archived rows of day %s: %w", day, err)
	}
	if tag.RowsAffected() != s.rows {
		return fmt.Errorf("delete archived rows of day %s: would delete %d rows but archived %d; rolled back", day, tag.RowsAffected(), s.rows)
	}
	return nil
}

func isSerialization(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "40001"
}
