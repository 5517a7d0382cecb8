package lineage

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// countQuarantined counts the period's records held in quarantine: stored
// and archived, but refused by the transform at ingest
// (source.on_transform_error quarantine) and not processed since.
func (s *session) countQuarantined(ctx context.Context) error {
	n, err := s.count(ctx, `SELECT count(*) FROM strata.quarantine q
		WHERE q.dataset = $1 AND q.resolved_at IS NULL
		  AND EXISTS (SELECT 1 FROM `+tSrc+` s WHERE s.`+qi(s.spec.IDColumn)+` = q.id)`, s.spec.Dataset)
	if err != nil {
		return fmt.Errorf("count quarantined records: %w", err)
	}
	s.rep.SourceRecords.Quarantined = n
	return nil
}

// resolveQuarantined, in an apply's tx, closes the quarantine of the
// period's quarantined records: the transform that this replay ran made
// their analytics rows (or, for a key with a later record, rightly none),
// so they are marked processed in Layer 3, which lets purge remove them
// once their retention ends, and resolved in strata.quarantine by this run.
func (s *session) resolveQuarantined(ctx context.Context, tx pgx.Tx) error {
	if s.rep.SourceRecords.Quarantined == 0 {
		return nil
	}
	id := qi(s.spec.IDColumn)
	mark := `SELECT 1`
	if s.l3 != nil {
		mark = `UPDATE ` + s.l3.Ident() + ` t SET ` + qi(s.spec.ProcessedColumn) + ` = true FROM q WHERE t.` + id + ` = q.id RETURNING 1`
	}
	err := tx.QueryRow(ctx, `WITH q AS (UPDATE strata.quarantine q SET resolved_at = now(), resolved_run = $2
			WHERE q.dataset = $1 AND q.resolved_at IS NULL
			  AND EXISTS (SELECT 1 FROM `+tSrc+` s WHERE s.`+id+` = q.id) RETURNING q.id),
		m AS (`+mark+`)
		SELECT count(*) FROM q`, s.spec.Dataset, s.runID).Scan(&s.rep.Applied.Quarantined)
	if err != nil {
		return fmt.Errorf("replay: process the quarantined records: %w", err)
	}
	return nil
}
