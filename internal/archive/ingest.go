package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
)

// IngestReport is the outcome of an ingest.
type IngestReport struct {
	Records int64
	Batches int
	Bytes   int64 // payload bytes received
	// Objects are the source batch objects written, one per batch and day.
	Objects []DayReport
	// Quarantined are the records the transform could not map, stored
	// unprocessed (on_transform_error quarantine); Index counts records
	// from the start of the input.
	Quarantined []RecordError
}

// Ingest runs the spec's process_source_data for raw records: per batch, in
// one transaction, it stores them in the Layer 3 table as received, archives
// them to the source archive (the object is uploaded before the transaction
// commits and committed with it), transforms them into Layer 2 and marks
// them processed. A batch is in all of those places or in none of them.
//
// next returns the records one by one (io.EOF at the end); the caller has
// validated them. A record's bytes are stored exactly as given.
//
// A batch with records the transform cannot map is refused whole with a
// *TransformError (on_transform_error reject; the batches before it stay
// stored) or stored with them quarantined (quarantine). Record positions
// in both count from the start of the input.
func (a *Archiver) Ingest(ctx context.Context, spec SourceSpec, next func() ([]byte, error)) (IngestReport, error) {
	return a.IngestRun(ctx, spec, func(runID int64, rep *IngestReport) error {
		return a.ingestAll(ctx, spec, next, runID, rep)
	})
}

// IngestRun runs body as one ingest run of the dataset: recorded in
// strata.runs (with body's totals in rep), alive under its run lock, and
// announced to the run observer. Uploads left by dead runs are settled
// first.
func (a *Archiver) IngestRun(ctx context.Context, spec SourceSpec, body func(runID int64, rep *IngestReport) error) (IngestReport, error) {
	var rep IngestReport
	if _, err := a.Catalog.SettleDeadRuns(ctx, spec.Dataset, catalog.TypeSource); err != nil {
		return rep, err
	}
	runID, end, err := a.Catalog.BeginRun(ctx, "ingest", spec.Dataset, catalog.TypeSource)
	if err != nil {
		return rep, err
	}
	defer end()
	done := a.ObserveRun(ctx, RunInfo{ID: runID, Kind: catalog.LineageIngest, Dataset: spec.Dataset})
	err = body(runID, &rep)
	var objBytes int64
	for _, o := range rep.Objects {
		objBytes += o.Bytes
	}
	if ferr := a.Catalog.FinishRun(context.WithoutCancel(ctx), runID,
		catalog.RunTotals{Rows: rep.Records, Objects: len(rep.Objects), Bytes: objBytes}, err); ferr != nil && err == nil {
		err = ferr
	}
	done(runResult(rep.Objects, err))
	return rep, err
}

func (a *Archiver) ingestAll(ctx context.Context, spec SourceSpec, next func() ([]byte, error), runID int64, rep *IngestReport) error {
	var batch [][]byte
	var size int64
	var offset int // records in the batches before this one
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		res, err := a.ingestBatch(ctx, spec, batch, runID)
		if te := (*TransformError)(nil); errors.As(err, &te) {
			te.Records = shiftRecords(te.Records, offset)
		}
		if err != nil {
			return fmt.Errorf("ingest %s batch %d (%d records; the batches before it are stored): %w", spec.Dataset, rep.Batches+1, len(batch), err)
		}
		rep.Batches++
		rep.Records += int64(len(batch))
		rep.Bytes += size
		rep.Objects = append(rep.Objects, res.Days...)
		rep.Quarantined = append(rep.Quarantined, shiftRecords(res.Quarantined, offset)...)
		offset += len(batch)
		batch, size = batch[:0], 0
		return nil
	}
	for {
		rec, err := next()
		if errors.Is(err, io.EOF) {
			return flush()
		}
		if err != nil {
			return err
		}
		batch = append(batch, rec)
		size += int64(len(rec))
		if len(batch) >= spec.BatchMaxRows || size >= spec.BatchMaxBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// BatchHook runs inside a batch's transaction, after its records are
// stored, archived and transformed and just before the commit, with what
// the batch did (its objects, its quarantined records): its writes commit
// with the batch or not at all.
type BatchHook func(ctx context.Context, tx pgx.Tx, res BatchResult) error

// BatchPlan decides, inside a batch's transaction and under the dataset's
// transform lock (so no other batch of the dataset commits meanwhile), which
// records the batch stores: none means nothing is stored and no object is
// written. The hook it returns, if any, runs before the commit.
type BatchPlan func(ctx context.Context, tx pgx.Tx) ([][]byte, BatchHook, error)

// IngestBatch stores the records plan chooses in one transaction, all of
// them or nothing: one COPY into Layer 3, the batch's source objects, the
// transform into Layer 2 and the commit, as run runID. Positions in a
// *TransformError or in the result's Quarantined are indexes into the
// records plan returned, so a caller that gathers several requests into one
// batch can tell which request sent each failing record (and, in reject
// mode, call again without it).
func (a *Archiver) IngestBatch(ctx context.Context, spec SourceSpec, runID int64, plan BatchPlan) (BatchResult, error) {
	tx, st, release, err := a.beginSource(ctx, spec)
	if err != nil {
		return BatchResult{}, err
	}
	defer release()
	recs, hook, err := plan(ctx, tx)
	if err != nil || len(recs) == 0 {
		if err == nil && hook != nil {
			if err = hook(ctx, tx, BatchResult{}); err == nil {
				err = tx.Commit(ctx)
			}
		}
		return BatchResult{}, err
	}
	return a.storeBatch(ctx, tx, st, recs, runID, hook)
}

// ingestBatch stores, archives and transforms one batch in one
// transaction: all of it or nothing.
func (a *Archiver) ingestBatch(ctx context.Context, spec SourceSpec, recs [][]byte, runID int64) (BatchResult, error) {
	return a.IngestBatch(ctx, spec, runID, func(context.Context, pgx.Tx) ([][]byte, BatchHook, error) {
		return recs, nil, nil
	})
}

// storeBatch numbers recs, COPYs them into Layer 3 and archives them.
func (a *Archiver) storeBatch(ctx context.Context, tx pgx.Tx, st *sourceTable, recs [][]byte, runID int64, hook BatchHook) (BatchResult, error) {
	var res BatchResult
	spec := st.spec
	if st.sequence == "" {
		return res, fmt.Errorf("source.id_column %q of %s has no sequence: ingest needs a bigserial or identity column to number records", spec.IDColumn, st.rel)
	}
	var now time.Time
	if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&now); err != nil {
		return res, err
	}
	rows, err := tx.Query(ctx, `SELECT nextval($1::regclass) FROM generate_series(1, $2)`, st.sequence, len(recs))
	if err != nil {
		return res, fmt.Errorf("number records: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return res, fmt.Errorf("number records: %w", err)
	}
	// With a transform, the rows are transformed and committed in this same
	// transaction, so they are stored already marked processed: the same
	// outcome as the spec's final UPDATE, without writing every row twice.
	cols := []string{spec.IDColumn, spec.PayloadColumn, spec.TimeColumn}
	processed := st.upsertSQL != ""
	if processed {
		cols = append(cols, spec.ProcessedColumn)
	}
	src := make([][]any, len(recs))
	for i, r := range recs {
		// []byte goes to json, text and bytea columns as is, without a
		// copy: json and text take the bytes as their text.
		src[i] = []any{ids[i], r, now}
		if processed {
			src[i] = append(src[i], true)
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{st.rel.Schema, st.rel.Name}, cols, pgx.CopyFromRows(src)); err != nil {
		return res, fmt.Errorf("store records in %s: %w", st.rel, err)
	}
	if err := a.Failpoints.Hit("after-plan"); err != nil {
		return res, err
	}
	st.rows = &freshRows{recs: recs, ids: ids, now: now}
	return a.archiveBatch(ctx, tx, st, ids, runID, true, hook)
}

// shiftRecords adds offset to the records' positions.
func shiftRecords(recs []RecordError, offset int) []RecordError {
	for i := range recs {
		recs[i].Index += offset
	}
	return recs
}
