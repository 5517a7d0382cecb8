package archive

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/pgsource"
)

// SourceOptions modify a source archiving run.
type SourceOptions struct {
	DryRun bool
	// Flush archives every pending row now instead of waiting for a full
	// batch or for the oldest row to have waited BatchMaxWait.
	Flush bool
}

// pending describes the Layer 3 rows not yet in a committed source batch.
type pending struct {
	Rows   int64
	Bytes  int64
	Oldest *time.Time
	// Due is true when a batch should be written now.
	Due bool
}

// Source archives the rows of a Layer 3 table that are not yet in a
// committed source batch, whoever wrote them, in batches of at most
// BatchMaxRows rows claimed with FOR UPDATE SKIP LOCKED, so several strata
// processes share the work. With a transform, each batch is also
// transformed into Layer 2 and marked processed in the same transaction.
func (a *Archiver) Source(ctx context.Context, spec SourceSpec, opts SourceOptions) (Report, error) {
	rep := Report{Dataset: spec.Dataset, Type: catalog.TypeSource}
	p, err := a.pending(ctx, spec)
	if err != nil {
		return rep, err
	}
	if opts.DryRun {
		if p.Rows > 0 {
			rep.Days = append(rep.Days, DayReport{Dataset: spec.Dataset, Rows: p.Rows, Bytes: p.Bytes / 10})
		}
		rep.Skipped = waitReason(p, spec, opts)
		return rep, nil
	}
	if !p.Due && !opts.Flush {
		rep.Skipped = waitReason(p, spec, opts)
		return rep, nil
	}
	if rep.Orphaned, err = a.Catalog.SettleDeadRuns(ctx, spec.Dataset, catalog.TypeSource); err != nil {
		return rep, err
	}
	runID, end, err := a.Catalog.BeginRun(ctx, "archive", spec.Dataset, catalog.TypeSource)
	if err != nil {
		return rep, err
	}
	defer end()
	done := a.ObserveRun(ctx, RunInfo{ID: runID, Kind: catalog.LineageSourceArchive, Dataset: spec.Dataset})
	err = a.sourceLoop(ctx, spec, opts, runID, &rep)
	if ferr := a.Catalog.FinishRun(context.WithoutCancel(ctx), runID,
		catalog.RunTotals{Rows: rep.Rows(), Objects: len(rep.Days), Bytes: rep.Bytes()}, err); ferr != nil && err == nil {
		err = ferr
	}
	done(runResult(rep.Days, err))
	return rep, err
}

func (a *Archiver) sourceLoop(ctx context.Context, spec SourceSpec, opts SourceOptions, runID int64, rep *Report) error {
	for {
		res, n, err := a.claimBatch(ctx, spec, runID)
		rep.Days = append(rep.Days, res.Days...)
		rep.Quarantined += int64(len(res.Quarantined))
		if te := (*TransformError)(nil); errors.As(err, &te) {
			return fmt.Errorf("archive source %s: Layer 3 row %s = %d: %w; nothing of the batch was committed: correct the row or the transform, or set source.on_transform_error: quarantine to archive such rows unprocessed",
				spec.Dataset, spec.IDColumn, te.Records[0].ID, err)
		}
		if err != nil {
			return fmt.Errorf("archive source %s: %w", spec.Dataset, err)
		}
		if n < spec.BatchMaxRows {
			return nil // the last, partial batch: nothing more was pending
		}
		if !opts.Flush {
			p, err := a.pending(ctx, spec)
			if err != nil || !p.Due {
				return err
			}
		}
	}
}

func waitReason(p pending, spec SourceSpec, opts SourceOptions) string {
	switch {
	case p.Rows == 0:
		return "no rows waiting to be archived"
	case p.Due || opts.Flush:
		return ""
	}
	return fmt.Sprintf("%d rows wait for a fuller batch (batch_max_rows %d, or the oldest waiting %s); --flush archives them now",
		p.Rows, spec.BatchMaxRows, spec.BatchMaxWait)
}

// pendingWhere selects the rows of s not yet archived and old enough.
func pendingWhere(spec SourceSpec) string {
	return ` WHERE s.` + pgx.Identifier{spec.TimeColumn}.Sanitize() + ` <= now() - $2::interval
	  AND NOT EXISTS (SELECT 1 FROM strata.source_archived a WHERE a.dataset = $1 AND a.id = s.` +
		pgx.Identifier{spec.IDColumn}.Sanitize() + `)`
}

func (a *Archiver) pending(ctx context.Context, spec SourceSpec) (pending, error) {
	var p pending
	rel, err := pgsource.Resolve(ctx, a.Pool, spec.Table)
	if err != nil {
		return p, err
	}
	err = a.Pool.QueryRow(ctx, `SELECT count(*), coalesce(sum(pg_column_size(s.`+pgx.Identifier{spec.PayloadColumn}.Sanitize()+`)), 0),
		min(s.`+pgx.Identifier{spec.TimeColumn}.Sanitize()+`::timestamptz),
		coalesce(min(s.`+pgx.Identifier{spec.TimeColumn}.Sanitize()+`::timestamptz) <= now() - $2::interval - $3::interval, false)
		FROM `+rel.Ident()+` s`+pendingWhere(spec), spec.Dataset, spec.ArchiveAfter, spec.BatchMaxWait).
		Scan(&p.Rows, &p.Bytes, &p.Oldest, &p.Due)
	if err != nil {
		return p, fmt.Errorf("count rows waiting in %s: %w", spec.Table, err)
	}
	p.Due = p.Due || p.Rows >= int64(spec.BatchMaxRows) || p.Bytes >= spec.BatchMaxBytes
	return p, nil
}

// claimBatch locks up to BatchMaxRows pending rows (skipping rows another
// process holds), archives them and commits. It returns the rows claimed.
func (a *Archiver) claimBatch(ctx context.Context, spec SourceSpec, runID int64) (BatchResult, int, error) {
	var res BatchResult
	tx, st, release, err := a.beginSource(ctx, spec)
	if err != nil {
		return res, 0, err
	}
	defer release()
	ids, err := claim(ctx, tx, st)
	if errors.Is(err, errRaced) {
		return res, st.spec.BatchMaxRows, nil // claim again: more rows may wait
	}
	if err != nil || len(ids) == 0 {
		return res, len(ids), err
	}
	if err := a.Failpoints.Hit("after-plan"); err != nil {
		return res, len(ids), err
	}
	res, err = a.archiveBatch(ctx, tx, st, ids, runID, false, nil)
	return res, len(ids), err
}

// claim locks up to BatchMaxRows pending rows, skipping rows another
// process holds. A row another process committed between this statement's
// snapshot and its lock can still be returned, so the claim is checked again
// with a fresh snapshot (a new statement, in READ COMMITTED) and such rows
// are dropped: they are archived already.
func claim(ctx context.Context, tx pgx.Tx, st *sourceTable) ([]int64, error) {
	idc := pgx.Identifier{st.spec.IDColumn}.Sanitize()
	rows, err := tx.Query(ctx, `SELECT s.`+idc+`::bigint FROM `+st.rel.Ident()+` s`+pendingWhere(st.spec)+
		` ORDER BY s.`+idc+` LIMIT $3 FOR UPDATE SKIP LOCKED`, st.spec.Dataset, st.spec.ArchiveAfter, st.spec.BatchMaxRows)
	if err != nil {
		return nil, fmt.Errorf("claim rows of %s: %w", st.rel, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil || len(ids) == 0 {
		return ids, err
	}
	rows, err = tx.Query(ctx, `SELECT c.id FROM unnest($2::bigint[]) AS c(id)
		WHERE NOT EXISTS (SELECT 1 FROM strata.source_archived a WHERE a.dataset = $1 AND a.id = c.id) ORDER BY c.id`,
		st.spec.Dataset, ids)
	if err != nil {
		return nil, fmt.Errorf("re-check claimed rows of %s: %w", st.rel, err)
	}
	fresh, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err == nil && len(fresh) == 0 {
		return nil, errRaced
	}
	return fresh, err
}

// errRaced: every claimed row had just been archived by another process.
var errRaced = errors.New("claimed rows were archived by another process meanwhile")

// beginSource opens a READ COMMITTED transaction on its own connection and
// reads the table's shape in it. release rolls back unless committed.
//
// Batches that transform commit one at a time per dataset, and take their
// rows (numbered or claimed, lowest ids first) under the dataset's transform
// lock, so a later record for a key always lands in Layer 2 after an
// earlier one, whichever process handles them. The lock is waited for on a
// lock session before a connection is taken from the pool: a waiter holds
// no pool connection, which the holder may need to finish (its catalog
// writes); release unlocks it after the transaction has ended.
func (a *Archiver) beginSource(ctx context.Context, spec SourceSpec) (pgx.Tx, *sourceTable, func(), error) {
	unlock := func() {}
	if spec.Transform != nil {
		l, err := a.Catalog.Lock(ctx, TransformLockKey(spec.Dataset))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("wait for the transform lock of %s: %w", spec.Dataset, err)
		}
		unlock = func() { _ = l.Unlock(context.WithoutCancel(ctx)) }
	}
	conn, err := a.Pool.Acquire(ctx)
	if err != nil {
		unlock()
		return nil, nil, nil, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		conn.Release()
		unlock()
		return nil, nil, nil, err
	}
	release := func() {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		conn.Release()
		unlock()
	}
	st, err := a.openSource(ctx, tx, spec)
	if err != nil {
		release()
		return nil, nil, nil, err
	}
	return tx, st, release, nil
}

// TransformLockKey names the advisory lock under which a dataset's batches
// are numbered, transformed and committed, one at a time.
func TransformLockKey(dataset string) string { return "strata:transform:" + dataset }

// transformRows runs the transform over the rows with ids and, with
// on_transform_error quarantine, quarantines the records it cannot map.
func (a *Archiver) transformRows(ctx context.Context, tx pgx.Tx, st *sourceTable, ids []int64, runID int64) (BatchResult, transformResult, error) {
	var res BatchResult
	tr, err := a.transformBatch(ctx, tx, st, ids)
	if err != nil {
		return res, tr, err
	}
	if len(tr.Failed) > 0 {
		if st.spec.OnTransformError != OnErrorQuarantine {
			return res, tr, &TransformError{Dataset: st.spec.Dataset, Records: tr.Failed, More: tr.More}
		}
		if err := quarantine(ctx, tx, st, tr.Failed, runID); err != nil {
			return res, tr, err
		}
		res.Quarantined = tr.Failed
	}
	return res, tr, nil
}

// startWrite starts writing the batch's objects and returns the function
// that waits for them. Rows an ingest has just inserted are written from
// memory on a goroutine of their own, while the database runs the
// transform; other rows are read back from tx once it is free.
func (a *Archiver) startWrite(ctx context.Context, tx pgx.Tx, st *sourceTable, ids []int64) func() ([]batchObject, error) {
	if st.rows == nil || st.fresh == nil || !slices.IsSorted(ids) {
		return func() ([]batchObject, error) { return a.writeBatch(ctx, tx, st, ids) }
	}
	type written struct {
		objs []batchObject
		err  error
	}
	done := make(chan written, 1)
	go func() {
		objs, err := a.writeFresh(st, st.rows)
		done <- written{objs, err}
	}()
	return func() ([]batchObject, error) {
		w := <-done
		return w.objs, w.err
	}
}

// BatchResult is what storing or archiving one batch did.
type BatchResult struct {
	Days []DayReport
	// Quarantined are the records the transform could not map, stored
	// unprocessed (on_transform_error quarantine).
	Quarantined []RecordError
}

// archiveBatch transforms the rows with ids, which tx has locked or
// inserted, into Layer 2, then writes, stages and commits their objects.
// The transform runs first, so a batch it rejects has uploaded nothing.
// Nothing is committed unless everything is. hook, when set, runs in tx
// just before the commit, with the batch's objects.
func (a *Archiver) archiveBatch(ctx context.Context, tx pgx.Tx, st *sourceTable, ids []int64, runID int64, inserted bool, hook BatchHook) (BatchResult, error) {
	write := a.startWrite(ctx, tx, st, ids)
	res, tr, err := a.transformRows(ctx, tx, st, ids, runID)
	objs, werr := write()
	var staged []*staged
	defer func() {
		for _, o := range objs {
			o.cleanup()
		}
	}()
	if err != nil {
		return res, err
	}
	if werr != nil {
		return res, werr
	}
	for _, o := range objs {
		if err := a.stage(ctx, o.staged, runID); err != nil {
			a.orphan(context.WithoutCancel(ctx), staged)
			return res, err
		}
		staged = append(staged, o.staged)
	}
	if err := a.commitBatch(ctx, tx, st, objs, ids, inserted, tr, hook); err != nil {
		a.orphan(context.WithoutCancel(ctx), staged)
		return res, err
	}
	ids2 := make([]int64, len(staged))
	for i, s := range staged {
		ids2[i] = s.obj.ID
	}
	if err := a.Catalog.MarkCommitted(ctx, ids2); err != nil {
		a.logger().Warn("batch committed; recording it in strata.uploads failed (the next run settles it)", "err", err)
	}
	res.Days, err = a.confirm(ctx, staged, job{})
	return res, err
}
