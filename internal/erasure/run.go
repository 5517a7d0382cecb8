package erasure

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgsource"
)

// run is one erasure in its transaction.
type run struct {
	e    *Eraser
	ds   *config.Dataset
	req  Request
	cert *Certificate
	tx   pgx.Tx
	rw   *archive.Rewrite
	// l2 are the Layer 2 subject columns the value can be in.
	l2 []subjectCol
	// old objects to delete from storage; the objects written.
	deletions           []catalog.ErasureDeletion
	newSource, newAnaly []int64
	superseded          []int64
}

// heldError is a legal hold that stops the erasure.
type heldError struct{ err error }

func (h *heldError) Error() string {
	return "a legal hold covers the subject's records: " + h.err.Error()
}
func (h *heldError) Unwrap() error { return h.err }

// do runs the erasure in one transaction: committed unless a dry run,
// refused or failed.
func (r *run) do(ctx context.Context) (err error) {
	tx, err := r.e.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	r.tx = tx
	committed := false
	defer func() {
		if !committed {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	r.rw = r.e.Arch.NewRewrite(tx, r.ds.Name, archive.RewriteOptions{Compression: string(r.ds.Archive.Compression),
		RowGroupRows: r.ds.Archive.RowGroupRows, AnalyticsKey: analyticsKey(r.ds)})
	defer func() { err = r.rw.Finish(ctx, err) }()
	if err := r.find(ctx); err != nil {
		return err
	}
	if err := r.e.Arch.Failpoints.Hit("after-plan"); err != nil {
		return err
	}
	if r.req.DryRun {
		return nil
	}
	if err := r.record(ctx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed = true
	return nil
}

func analyticsKey(ds *config.Dataset) []string {
	if ds.Analytics == nil {
		return nil
	}
	return ds.Analytics.Key
}

// find deletes (in the transaction) the subject's rows from Layer 3 and
// Layer 2, and replaces the archived objects holding it.
func (r *run) find(ctx context.Context) error {
	if r.ds.Source != nil {
		if err := r.layer3(ctx); err != nil {
			return err
		}
	}
	if r.ds.Analytics != nil {
		if err := r.layer2(ctx); err != nil {
			return err
		}
	}
	for _, typ := range []string{catalog.TypeSource, catalog.TypeAnalytics} {
		if err := r.archive(ctx, typ); err != nil {
			return err
		}
	}
	return nil
}

// held asks the hold check about records of typ in [from, to].
func (r *run) held(ctx context.Context, typ string, from, to *time.Time) error {
	if r.e.Holds == nil || from == nil || to == nil {
		return nil
	}
	refusal, err := r.e.Holds(ctx, r.ds.Name, typ, *from, *to)
	if err != nil {
		return fmt.Errorf("check legal holds: %w", err)
	}
	if refusal != nil {
		return &heldError{refusal}
	}
	return nil
}

// layer3 deletes the subject's raw records from Layer 3, with their
// archived marks and quarantine entries.
func (r *run) layer3(ctx context.Context) error {
	src := r.ds.Source
	rel, err := pgsource.Resolve(ctx, r.tx, src.Table.String())
	if err != nil {
		return err
	}
	cols, err := parquetio.LoadColumns(ctx, r.tx, rel.Ident())
	if err != nil {
		return err
	}
	ptype := ""
	for _, c := range cols {
		if c.Name == src.PayloadColumn {
			ptype = c.TypeName
		}
	}
	idc, tc := pgx.Identifier{src.IDColumn}.Sanitize(), pgx.Identifier{src.TimeColumn}.Sanitize()
	args := append(sourceArgs(r.ds.Subject, r.req.Subject), r.ds.Name)
	n := len(args)
	p := &r.cert.Layer3
	p.Table = rel.String()
	err = r.tx.QueryRow(ctx, fmt.Sprintf(`WITH d AS (DELETE FROM %s WHERE %s RETURNING %s AS id, %s::timestamptz AS t),
		a AS (DELETE FROM strata.source_archived s USING d WHERE s.dataset = $%d AND s.id = d.id RETURNING 1),
		q AS (DELETE FROM strata.quarantine s USING d WHERE s.dataset = $%d AND s.id = d.id RETURNING 1)
		SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM a), (SELECT min(t) FROM d), (SELECT max(t) FROM d)`,
		rel.Ident(), sourcePred(r.ds.Subject, src.PayloadColumn, ptype), idc, tc, n, n), args...).Scan(&p.Rows, &p.Archived, &p.From, &p.To)
	if err != nil {
		return fmt.Errorf("delete the subject's records from %s (check subject.source_path / source_sql): %w", rel, err)
	}
	return r.held(ctx, catalog.TypeSource, p.From, p.To)
}

// layer2 deletes the subject's rows from Layer 2.
func (r *run) layer2(ctx context.Context) error {
	an := r.ds.Analytics
	rel, err := pgsource.Resolve(ctx, r.tx, an.Table.String())
	if err != nil {
		return err
	}
	cols, err := parquetio.LoadColumns(ctx, r.tx, rel.Ident())
	if err != nil {
		return err
	}
	if r.l2, err = analyticsColumns(ctx, r.e.Pool, cols, r.ds.Subject.Columns, r.req.Subject, &r.cert.Notes); err != nil {
		return err
	}
	tc := pgx.Identifier{an.TimeColumn}.Sanitize()
	p := &r.cert.Layer2
	p.Table = rel.String()
	if len(r.l2) == 0 {
		return nil
	}
	err = r.tx.QueryRow(ctx, `WITH d AS (DELETE FROM `+rel.Ident()+` WHERE `+layer2Pred(r.l2)+` RETURNING `+tc+`::timestamptz AS t)
		SELECT count(*), min(t), max(t) FROM d`, r.req.Subject).Scan(&p.Rows, &p.From, &p.To)
	if err != nil {
		return fmt.Errorf("delete the subject's rows from %s: %w", rel, err)
	}
	return r.held(ctx, catalog.TypeAnalytics, p.From, p.To)
}
