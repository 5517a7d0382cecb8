package archive

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The answers to a record the transform cannot map (SourceSpec.OnTransformError).
const (
	// OnErrorReject refuses the batch: nothing of it is stored and the
	// call returns a *TransformError naming the failing records.
	OnErrorReject = "reject"
	// OnErrorQuarantine stores and archives the batch; the failing records
	// stay unprocessed in Layer 3 with their error in strata.quarantine.
	OnErrorQuarantine = "quarantine"
)

// DataError returns the PostgreSQL error in err when it is the data's
// fault: SQLSTATE class 22 (data exception: a failed cast, a value out of
// range) or 23 (integrity constraint violation: NOT NULL, CHECK, UNIQUE,
// FOREIGN KEY). Anything else (a connection lost, a server shutting down,
// an unknown column in the transform) is not, and fails the batch whatever
// the dataset's on_transform_error says.
func DataError(err error) (*pgconn.PgError, bool) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil, false
	}
	return pe, strings.HasPrefix(pe.Code, "22") || strings.HasPrefix(pe.Code, "23")
}

// RecordError is one record of a batch that the transform could not map.
type RecordError struct {
	// Index is the record's 0-based position in the batch (the order the
	// records were given in); Ingest reports it in the whole input.
	Index int
	// ID is the record's Layer 3 id (in a rejected batch, an id that was
	// rolled back with the batch).
	ID int64
	// Err is the database's error for the record alone (after the records
	// before it in the batch were transformed).
	Err *pgconn.PgError
}

// Message quotes the database's error: its message, detail and SQLSTATE.
func (r RecordError) Message() string {
	msg := r.Err.Message
	if r.Err.Detail != "" {
		msg += " (" + r.Err.Detail + ")"
	}
	return msg + " (SQLSTATE " + r.Err.Code + ")"
}

// TransformError is returned for a batch of a dataset with
// on_transform_error reject whose records the transform cannot all map:
// nothing of the batch was stored. Records lists the failing records, in
// batch order, at most maxReported of them (More says whether there may
// be others).
type TransformError struct {
	Dataset string
	Records []RecordError
	More    bool
}

func (e *TransformError) Error() string {
	r := e.Records[0]
	more := ""
	if n := len(e.Records); n > 1 || e.More {
		more = fmt.Sprintf(" (%d failing records", n)
		if e.More {
			more += " at least"
		}
		more += ", the first shown)"
	}
	return fmt.Sprintf("the transform of %s cannot map record %d%s: %s", e.Dataset, r.Index+1, more, r.Message())
}

// maxReported bounds the failing records a rejected batch names: past it
// the search stops (the batch is refused anyway).
const maxReported = 100

// diagnoseLeaf: a failing run of this many records or fewer is tried record
// by record rather than halved again.
const diagnoseLeaf = 8

// transformResult is what transforming a batch did.
type transformResult struct {
	Rows   int64         // Layer 2 rows written
	Failed []RecordError // records left out, in batch order
	More   bool          // reject mode stopped looking after maxReported
}

// transformBatch runs the dataset's transform over the Layer 3 rows ids
// (locked or inserted by tx, ids in batch order) and upserts the result
// into Layer 2, the latest record per key winning.
//
// The statement runs under a savepoint sent in the same round trip, so
// the happy path costs one statement as before. When it fails on the data
// (DataError), the failure path finds the records that fail: it halves the
// batch and applies each half under its own savepoint, in batch order,
// down to single records, so the records that can be mapped are applied
// (latest per key still winning) and each failing one is named with the
// database's error for it. That costs about 2·k·log2(n/k) statements for k
// failing records among n. In reject mode the search stops after
// maxReported failures. Any other error is returned, and tx must then be
// rolled back.
func (a *Archiver) transformBatch(ctx context.Context, tx pgx.Tx, st *sourceTable, ids []int64) (transformResult, error) {
	var res transformResult
	if st.upsertSQL == "" {
		return res, nil
	}
	n, err := tryUpsert(ctx, tx, st.upsertSQL, ids)
	if err == nil {
		res.Rows = n
		return res, nil
	}
	if _, ok := DataError(err); !ok {
		return res, fmt.Errorf("transform %s into %s: %w", st.spec.Dataset, st.spec.Transform.Table, err)
	}
	d := diagnosis{sql: st.upsertSQL, ids: ids, res: &res, reject: st.spec.OnTransformError != OnErrorQuarantine}
	if err := d.split(ctx, tx, 0, len(ids)); err != nil {
		return res, fmt.Errorf("transform %s into %s: find the records that fail: %w", st.spec.Dataset, st.spec.Transform.Table, err)
	}
	if len(res.Failed) > 0 { // none: every part applied, the batch is whole
		a.logger().Info("transform: records the transform cannot map", "dataset", st.spec.Dataset,
			"failed", len(res.Failed), "of", len(ids), "first", res.Failed[0].Message())
	}
	return res, nil
}

// savepoint is the name the transform statements run under.
const savepoint = "strata_transform"

// tryUpsert runs the upsert over ids under a savepoint, in one round trip.
// On any error the savepoint is rolled back, so tx stays usable; the
// error is returned as the upsert's.
func tryUpsert(ctx context.Context, tx pgx.Tx, sql string, ids []int64) (int64, error) {
	b := &pgx.Batch{}
	b.Queue(`SAVEPOINT ` + savepoint)
	up := b.Queue(sql, ids)
	b.Queue(`RELEASE SAVEPOINT ` + savepoint)
	var n int64
	up.Exec(func(tag pgconn.CommandTag) error {
		n = tag.RowsAffected()
		return nil
	})
	err := tx.SendBatch(ctx, b).Close()
	if err == nil {
		return n, nil
	}
	if _, rerr := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT `+savepoint); rerr != nil {
		return 0, fmt.Errorf("%w (and rolling back to the savepoint failed: %v)", err, rerr)
	}
	if _, rerr := tx.Exec(ctx, `RELEASE SAVEPOINT `+savepoint); rerr != nil {
		return 0, fmt.Errorf("%w (and releasing the savepoint failed: %v)", err, rerr)
	}
	return 0, err
}

// diagnosis searches a failing batch for the records that fail.
type diagnosis struct {
	sql    string
	ids    []int64
	res    *transformResult
	reject bool
}

// split applies ids[lo:hi], known to fail as a whole, part by part.
func (d *diagnosis) split(ctx context.Context, tx pgx.Tx, lo, hi int) error {
	if hi-lo <= diagnoseLeaf {
		for i := lo; i < hi; i++ {
			if err := d.apply(ctx, tx, i, i+1); err != nil {
				return err
			}
		}
		return nil
	}
	mid := lo + (hi-lo)/2
	if err := d.apply(ctx, tx, lo, mid); err != nil {
		return err
	}
	return d.apply(ctx, tx, mid, hi)
}

// apply upserts ids[lo:hi]; if that fails on the data, it records the
// failing record or splits the run further.
func (d *diagnosis) apply(ctx context.Context, tx pgx.Tx, lo, hi int) error {
	if d.reject && len(d.res.Failed) >= maxReported {
		d.res.More = true
		return nil
	}
	n, err := tryUpsert(ctx, tx, d.sql, d.ids[lo:hi])
	if err == nil {
		d.res.Rows += n
		return nil
	}
	pe, ok := DataError(err)
	switch {
	case !ok:
		return err
	case hi-lo == 1:
		d.res.Failed = append(d.res.Failed, RecordError{Index: lo, ID: d.ids[lo], Err: pe})
		return nil
	}
	return d.split(ctx, tx, lo, hi)
}

// quarantine keeps the failed records of a batch unprocessed in Layer 3
// and records each one's error in strata.quarantine, in tx.
func quarantine(ctx context.Context, tx pgx.Tx, st *sourceTable, failed []RecordError, runID int64) error {
	codes, msgs := make([]string, len(failed)), make([]string, len(failed))
	for i, f := range failed {
		codes[i], msgs[i] = f.Err.Code, f.Message()
	}
	idc := pgx.Identifier{st.spec.IDColumn}.Sanitize()
	_, err := tx.Exec(ctx, `WITH f AS (UPDATE `+st.rel.Ident()+` s SET `+pgx.Identifier{st.spec.ProcessedColumn}.Sanitize()+` = false
			FROM unnest($2::bigint[], $3::text[], $4::text[]) AS f(id, code, msg) WHERE s.`+idc+` = f.id
			RETURNING f.id, s.`+pgx.Identifier{st.spec.TimeColumn}.Sanitize()+`::timestamptz AS ingested_at, f.code, f.msg)
		INSERT INTO strata.quarantine (dataset, id, ingested_at, run_id, transform_version, sqlstate, error)
		SELECT $1, id, ingested_at, $5, $6, code, msg FROM f
		ON CONFLICT (dataset, id) DO UPDATE SET ingested_at = EXCLUDED.ingested_at, run_id = EXCLUDED.run_id, at = now(),
			transform_version = EXCLUDED.transform_version, sqlstate = EXCLUDED.sqlstate, error = EXCLUDED.error,
			resolved_at = NULL, resolved_run = NULL`,
		st.spec.Dataset, failedIDs(failed), codes, msgs, runID, st.spec.Transform.SQL.Version())
	if err != nil {
		return fmt.Errorf("quarantine %d record(s) of %s: %w", len(failed), st.spec.Dataset, err)
	}
	return nil
}

// markProcessed marks the rows ids processed, but for the failed ones.
func markProcessed(ctx context.Context, tx pgx.Tx, st *sourceTable, ids []int64, failed []RecordError) error {
	pc, idc := pgx.Identifier{st.spec.ProcessedColumn}.Sanitize(), pgx.Identifier{st.spec.IDColumn}.Sanitize()
	if _, err := tx.Exec(ctx, `UPDATE `+st.rel.Ident()+` SET `+pc+` = true WHERE `+idc+` = ANY($1) AND NOT `+pc+
		` AND NOT `+idc+` = ANY($2)`, ids, failedIDs(failed)); err != nil {
		return fmt.Errorf("mark rows processed: %w", err)
	}
	return nil
}

// failedIDs returns the Layer 3 ids of failed records (never nil).
func failedIDs(failed []RecordError) []int64 {
	out := make([]int64, len(failed))
	for i, f := range failed {
		out[i] = f.ID
	}
	return out
}
