package archive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/pgsource"
)

// job is one snapshot's worth of archiving: every day of a partition or
// chunk that is then dropped, or every day of a table before the cutoff,
// read in one pass (days.go).
type job struct {
	parent pgsource.Relation
	rel    pgsource.Relation   // where rows are read and deleted
	day    time.Time           // the day being written, for a partition job
	part   *pgsource.Partition // non-nil for a partition job
	days   []time.Time         // the days planned, for a days job
	upto   time.Time           // a days job reads the rows before this (the cutoff)
}

func (j job) String() string {
	if j.part != nil {
		return "partition " + j.rel.String()
	}
	if len(j.days) > 0 {
		return "days " + j.days[0].Format(time.DateOnly) + " to " + j.days[len(j.days)-1].Format(time.DateOnly)
	}
	return "day " + j.day.Format(time.DateOnly)
}

func (a *Archiver) jobs(ctx context.Context, spec AnalyticsSpec, rel pgsource.Relation, cutoff time.Time) ([]job, error) {
	parts, err := pgsource.DroppablePartitions(ctx, a.Pool, rel, spec.TimeColumn, cutoff)
	if err != nil {
		return nil, err
	}
	var jobs []job
	for i := range parts {
		jobs = append(jobs, job{parent: rel, rel: parts[i].Rel, part: &parts[i]})
	}
	days, err := listDays(ctx, a.Pool, rel, spec.TimeColumn, cutoff)
	if err != nil {
		return nil, err
	}
	dj := job{parent: rel, rel: rel, upto: cutoff}
	for _, d := range days {
		if !coveredByParts(d, parts) {
			dj.days = append(dj.days, d)
		}
	}
	if len(dj.days) > 0 {
		jobs = append(jobs, dj)
	}
	return jobs, nil
}

// coveredByParts reports whether the whole day lies in droppable partitions,
// whose jobs archive its rows.
func coveredByParts(day time.Time, parts []pgsource.Partition) bool {
	for t := day; t.Before(day.AddDate(0, 0, 1)); {
		next := t
		for _, p := range parts {
			if !t.Before(p.From) && t.Before(p.Upto) {
				next = p.Upto
				break
			}
		}
		if !next.After(t) {
			return false
		}
		t = next
	}
	return true
}

// runJob runs the state machine for one job and returns the days it
// committed. On any error nothing of the job is committed: rows stay, and the
// job's uploaded objects are marked orphaned.
func (a *Archiver) runJob(ctx context.Context, spec AnalyticsSpec, j job, runID int64) ([]DayReport, error) {
	if j.part == nil {
		return a.runDays(ctx, spec, j, runID)
	}
	tx, release, err := a.beginRepeatableRead(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var staged []*staged
	committed := false
	defer func() {
		for _, s := range staged {
			s.cleanup()
		}
		if !committed {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			a.orphan(context.WithoutCancel(ctx), staged)
		}
	}()
	if j.part != nil {
		// Block writes to the partition before the snapshot is taken, so the
		// rows read are all the rows it will ever have until it is dropped.
		if _, err := tx.Exec(ctx, `LOCK TABLE `+j.rel.Ident()+` IN SHARE MODE`); err != nil {
			return nil, fmt.Errorf("lock %s: %w", j.rel, err)
		}
	}
	if _, err := tx.Exec(ctx, `SET LOCAL synchronize_seqscans = off`); err != nil {
		return nil, err
	}
	ex, err := newExtractor(ctx, tx, spec, j)
	if err != nil {
		return nil, err
	}
	days, err := listDays(ctx, tx, j.rel, spec.TimeColumn, j.part.Upto)
	if err != nil {
		return nil, err
	}
	for _, day := range days {
		s, err := a.stageDay(ctx, tx, ex, spec, j, day, runID)
		if err != nil {
			return nil, err
		}
		if s != nil {
			staged = append(staged, s)
		}
	}
	if err := a.commitJob(ctx, tx, spec, j, staged); err != nil {
		return nil, err
	}
	committed = true
	a.markCommitted(ctx, staged)
	return a.confirm(ctx, staged, j)
}

// markCommitted records in strata.uploads that the objects committed; a
// failure is only logged (the next run settles it from strata.objects).
func (a *Archiver) markCommitted(ctx context.Context, staged []*staged) {
	ids := make([]int64, len(staged))
	for i, s := range staged {
		ids[i] = s.obj.ID
	}
	if err := a.Catalog.MarkCommitted(ctx, ids); err != nil {
		a.logger().Warn("objects committed; recording it in strata.uploads failed (the next run settles it)", "err", err)
	}
}

// commitJob deletes exactly the rows that were archived (or drops the
// partition) and marks the objects committed, in the snapshot transaction.
func (a *Archiver) commitJob(ctx context.Context, tx pgx.Tx, spec AnalyticsSpec, j job, staged []*staged) error {
	if err := a.Failpoints.Hit("in-commit-before-delete"); err != nil {
		return err
	}
	if j.part != nil {
		if err := dropPartition(ctx, tx, j, staged); err != nil {
			return err
		}
	} else {
		if err := deleteDays(ctx, tx, j, spec.TimeColumn, staged); err != nil {
			return err
		}
	}
	if err := a.Failpoints.Hit("after-delete"); err != nil {
		return err
	}
	l := &catalog.Lineage{Dataset: spec.Dataset, Kind: catalog.LineageAnalyticsArchive}
	for _, s := range staged {
		if err := catalog.Commit(ctx, tx, &s.obj); err != nil {
			return err
		}
		l.RunID = s.obj.RunID
		l.AnalyticsObjects = append(l.AnalyticsObjects, s.obj.ID)
		l.AnalyticsRows += s.rows
	}
	if err := catalog.RecordLineage(ctx, tx, l); err != nil {
		return err
	}
	return a.commitTx(ctx, tx, staged)
}

// commitTx commits and, when the outcome is unknown (connection lost during
// COMMIT), reads the objects' state back instead of assuming either way.
func (a *Archiver) commitTx(ctx context.Context, tx pgx.Tx, staged []*staged) error {
	err := tx.Commit(ctx)
	if err == nil {
		a.holdNew(ctx, staged)
	}
	if err == nil || len(staged) == 0 {
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Errorf("commit: %w", err) // the server answered: it did not commit
	}
	ok, gerr := a.Catalog.IsCommitted(context.WithoutCancel(ctx), staged[0].obj.ID)
	if gerr == nil && ok {
		a.logger().Warn("commit reported an error but the catalog shows it committed", "err", err)
		a.holdNew(ctx, staged)
		return nil
	}
	return fmt.Errorf("commit (outcome read back: not committed): %w", err)
}

// dropPartition checks that the partition holds exactly the archived rows and
// drops it: DETACH + DROP for a native partition, drop_chunks for a chunk.
func dropPartition(ctx context.Context, tx pgx.Tx, j job, staged []*staged) error {
	var want, have int64
	for _, s := range staged {
		want += s.rows
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+j.rel.Ident()).Scan(&have); err != nil {
		return fmt.Errorf("count rows of %s: %w", j.rel, err)
	}
	if have != want {
		return fmt.Errorf("%s holds %d rows but %d were archived (rows without a time?); not dropped", j.rel, have, want)
	}
	if j.part.Chunk {
		rows, err := tx.Query(ctx, `SELECT drop_chunks($1::regclass, older_than => $2::timestamptz, newer_than => $3::timestamptz)`,
			j.parent.Ident(), j.part.Upto, j.part.From)
		if err != nil {
			return fmt.Errorf("drop chunk %s: %w", j.rel, err)
		}
		dropped, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("drop chunk %s: %w", j.rel, err)
		}
		if len(dropped) != 1 {
			return fmt.Errorf("drop chunk %s: drop_chunks dropped %v, want exactly that chunk; rolled back", j.rel, dropped)
		}
		return nil
	}
	if _, err := tx.Exec(ctx, `ALTER TABLE `+j.parent.Ident()+` DETACH PARTITION `+j.rel.Ident()); err != nil {
		return fmt.Errorf("detach partition %s: %w", j.rel, err)
	}
	if _, err := tx.Exec(ctx, `DROP TABLE `+j.rel.Ident()); err != nil {
		return fmt.Errorf("drop partition %s: %w", j.rel, err)
	}
	return nil
}

// confirm runs the after-commit failpoint and builds the job's day reports.
func (a *Archiver) confirm(ctx context.Context, staged []*staged, j job) ([]DayReport, error) {
	var out []DayReport
	for _, s := range staged {
		d := DayReport{Dataset: s.obj.Dataset, Day: s.day, Rows: s.rows, Bytes: s.bytes, Key: s.obj.Key, Adopted: s.adopted}
		if j.part != nil {
			d.Dropped = j.rel.String()
		}
		a.logger().Info("archived", "dataset", d.Dataset, "day", d.Day.Format(time.DateOnly),
			"rows", d.Rows, "bytes", d.Bytes, "key", d.Key, "adopted", d.Adopted, "dropped", d.Dropped)
		if a.Progress != nil {
			a.Progress(d)
		}
		out = append(out, d)
	}
	return out, a.Failpoints.Hit("after-commit")
}

// orphan marks the staged objects of a job that did not commit.
func (a *Archiver) orphan(ctx context.Context, staged []*staged) {
	for _, s := range staged {
		for _, from := range []string{catalog.StateUploaded, catalog.StateIntent} {
			if catalog.SetState(ctx, a.Catalog.Pool(), s.obj.ID, from, catalog.StateOrphaned) == nil {
				break
			}
		}
	}
}

// beginRepeatableRead takes a pool connection and begins a REPEATABLE READ
// transaction on it; release gives the connection back (after the
// transaction has ended).
func (a *Archiver) beginRepeatableRead(ctx context.Context) (pgx.Tx, func(), error) {
	conn, err := a.Pool.Acquire(ctx)
	if err != nil {
		return nil, nil, err
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		conn.Release()
		return nil, nil, err
	}
	return tx, conn.Release, nil
}
