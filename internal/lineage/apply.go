package lineage

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
)

// ErrNoSupersede is returned by an apply that must correct archived rows
// when the Comparer has no Superseder; nothing was changed.
var ErrNoSupersede = errors.New("correcting archived analytics rows is not available in this build")

// apply writes the differences back in one transaction: expected rows of
// keys that are live and changed, or missing everywhere, are upserted into
// Layer 2 as ingest does; changed archived rows are corrected by new
// archive objects that supersede the old ones; a lineage record and the
// transform's text are kept. Unexpected rows are left alone (replay never
// deletes), as are keys with a later record. Nothing to do writes nothing.
func (s *session) apply(ctx context.Context) error {
	r := s.rep
	r.Applied = &Applied{Objects: []int64{}, Superseded: []int64{}}
	live := r.Changed - r.ChangedArchived + r.Missing
	if live == 0 && r.ChangedArchived == 0 && r.SourceRecords.Quarantined == 0 {
		s.log.Info("replay: nothing to apply")
		return nil
	}
	if r.ChangedArchived > 0 && s.c.Supersede == nil {
		return fmt.Errorf("%w: %d archived rows differ and were left as they are; nothing was changed", ErrNoSupersede, r.ChangedArchived)
	}
	if s.begin != nil {
		id, err := s.begin(ctx)
		if err != nil {
			return err
		}
		s.runID = &id
	}
	tx, err := s.conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("replay: begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	placed, err := s.placeMoved(ctx, tx)
	if err != nil {
		return err
	}
	if err := s.countMoved(ctx, tx); err != nil {
		return err
	}
	if live += r.Applied.MovedToLayer2; live > 0 {
		if err := s.upsert(ctx, tx, live); err != nil {
			return err
		}
	}
	if r.ChangedArchived > 0 {
		if err := s.supersede(ctx, tx, placed); err != nil {
			return err
		}
	}
	if err := s.resolveQuarantined(ctx, tx); err != nil {
		return err
	}
	if err := s.recordLineage(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("replay: commit: %w", err)
	}
	s.log.Info("replay applied", "inserted", r.Applied.Inserted, "updated", r.Applied.Updated,
		"skipped", r.Applied.Skipped, "archived_rows", r.Applied.ArchivedRows, "objects", len(r.Applied.Objects),
		"quarantined_processed", r.Applied.Quarantined)
	return nil
}

// upsert writes the expected rows of the missing keys and of the changed
// live keys into Layer 2 with ingest's INSERT ... ON CONFLICT (key) DO
// UPDATE, guarded: a row is updated only while it still holds what was
// compared, and a missing row that appeared meanwhile is left alone, so an
// ingest that ran after the compare is never undone.
func (s *session) upsert(ctx context.Context, tx pgx.Tx, planned int64) error {
	var sets []string
	for _, c := range s.out {
		if !slices.Contains(s.spec.Key, c) {
			sets = append(sets, qi(c)+" = EXCLUDED."+qi(c))
		}
	}
	conflict := "DO NOTHING"
	if len(sets) > 0 {
		conflict = `DO UPDATE SET ` + strings.Join(sets, ", ") + ` WHERE EXISTS (SELECT 1 FROM ` + tActual + ` a
			WHERE ` + s.joinOn("a", "__strata_l2") + ` AND a.` + colLive + ` AND ` + s.allSame("a", "__strata_l2") + `)`
	}
	sql := `WITH u AS (INSERT INTO ` + s.l2.Ident() + ` AS __strata_l2 (` + identList("", s.out) + `)
		SELECT ` + identList("e", s.out) + ` FROM ` + tDiff + ` d JOIN ` + tExpected + ` e ON ` + s.joinOn("d", "e") + `
		WHERE d.` + colKind + ` = '` + kindMissing + `' OR (d.` + colKind + ` = '` + kindChanged + `' AND d.` + colLive + `)` + s.movedToLayer2("d") + `
		ON CONFLICT (` + identList("", s.spec.Key) + `) ` + conflict + `
		RETURNING (xmax = 0) AS inserted)
		SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM u`
	a := s.rep.Applied
	if err := tx.QueryRow(ctx, sql).Scan(&a.Inserted, &a.Updated); err != nil {
		return fmt.Errorf("replay into %s: %w", s.l2, err)
	}
	a.Skipped = planned - a.Inserted - a.Updated
	if a.Skipped > 0 {
		s.log.Warn("replay: rows changed in Layer 2 since they were compared were left as they are; run the replay again",
			"rows", a.Skipped)
	}
	return nil
}

// supersede corrects the changed archived rows: strata_corrections holds
// their Layer 2 columns, the transform's columns from the expected row and
// the others as archived; the days are those of the archived rows.
func (s *session) supersede(ctx context.Context, tx pgx.Tx, placed []time.Time) error {
	if err := s.createTemp(ctx, tFix, s.l2Cols, qi(PlaceColumn)+" boolean NOT NULL DEFAULT false"); err != nil {
		return err
	}
	vals := make([]string, len(s.l2Cols))
	for i, c := range s.l2Cols {
		from := "a"
		if slices.Contains(s.out, c.Name) {
			from = "e"
		}
		vals[i] = qualify(from, c.Name)
	}
	archived := s.changedRows() + ` AND NOT d.` + colLive
	if _, err := tx.Exec(ctx, `INSERT INTO `+tFix+` (`+identList("", names(s.l2Cols))+`, `+qi(PlaceColumn)+`) SELECT `+
		strings.Join(vals, ", ")+`, `+s.placeInArchive("d")+archived); err != nil {
		return fmt.Errorf("replay: build the corrections: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT date_trunc('day', a.`+qi(s.spec.AnalyticsTime)+`::timestamptz, 'UTC')`+archived+` ORDER BY 1`)
	if err != nil {
		return fmt.Errorf("replay: days of the archived rows: %w", err)
	}
	days, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (time.Time, error) {
		var d time.Time
		err := r.Scan(&d)
		return d.UTC(), err
	})
	if err != nil {
		return fmt.Errorf("replay: days of the archived rows: %w", err)
	}
	res, err := s.c.Supersede(ctx, tx, tFix, append(days, placed...))
	if err != nil {
		return fmt.Errorf("replay: correct the archived rows: %w", err)
	}
	a := s.rep.Applied
	a.ArchivedRows, a.Objects, a.Superseded = res.Rows, append(a.Objects, res.Objects...), append(a.Superseded, res.Superseded...)
	return nil
}

// recordLineage records the replay and its transform's text in tx; a
// candidate transform is named in the record's detail ("candidate").
func (s *session) recordLineage(ctx context.Context, tx pgx.Tx) error {
	r, a := s.rep, s.rep.Applied
	from, to := s.from.Truncate(24*time.Hour), s.to.Truncate(24*time.Hour)
	objs, err := catalog.ListObjects(ctx, tx, catalog.Filter{Dataset: s.spec.Dataset, Type: catalog.TypeSource, From: &from, To: &to})
	if err != nil {
		return err
	}
	l := &catalog.Lineage{RunID: s.runID, Dataset: s.spec.Dataset, Kind: catalog.LineageReplay, From: &s.from, To: &s.to,
		TransformVersion: r.TransformVersion, Layer3Rows: r.SourceRecords.Layer3,
		AnalyticsRows: a.Inserted + a.Updated, AnalyticsObjects: a.Objects, Superseded: a.Superseded,
		SourceObjects: []int64{},
		Detail: map[string]any{"matched": r.Matched, "changed": r.Changed, "changed_archived": r.ChangedArchived,
			"missing": r.Missing, "unexpected": r.Unexpected, "later": r.Later, "columns": r.Columns,
			"inserted": a.Inserted, "updated": a.Updated, "skipped": a.Skipped, "archived_rows": a.ArchivedRows,
			"source_records": r.SourceRecords, "quarantined_processed": a.Quarantined}}
	if s.spec.Candidate != nil {
		l.Detail["candidate"] = s.spec.Candidate
	}
	if r.Moved > 0 {
		l.Detail["moved"] = MovedDetail{Rows: r.Moved, ToLayer2: a.MovedToLayer2, InArchive: a.MovedInArchive, Samples: r.Samples.Moved}
	}
	for _, o := range objs {
		if (o.MaxTime == nil || !o.MaxTime.Before(s.from)) && (o.MinTime == nil || !o.MinTime.After(s.to)) {
			l.SourceObjects = append(l.SourceObjects, o.ID)
		}
	}
	if err := catalog.RecordTransform(ctx, tx, s.spec.Dataset, r.TransformVersion, s.spec.Transform.Text()); err != nil {
		return err
	}
	if err := catalog.RecordLineage(ctx, tx, l); err != nil {
		return err
	}
	a.Lineage = l.ID
	return nil
}
