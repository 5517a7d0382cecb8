package evidence

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Quarantine is the period's records that the transform refused at
// ingest (source.on_transform_error quarantine): stored and archived as
// received, kept unprocessed in Layer 3 (never purged so) with the
// database's error, until a replay --apply processes them.
type Quarantine struct {
	// Open records are not processed yet; Resolved ones were processed by
	// a replay --apply.
	Open     int64 `json:"open"`
	Resolved int64 `json:"resolved"`
	// Records are the open ones, the first quarantineListed by id.
	Records []QuarantinedRecord `json:"records"`
}

// QuarantinedRecord is one record of strata.quarantine.
type QuarantinedRecord struct {
	// ID is the record's Layer 3 id; IngestedAt its ingestion time.
	ID         int64     `json:"id"`
	IngestedAt time.Time `json:"ingested_at"`
	// RunID is the run that stored it; TransformVersion the transform
	// that refused it.
	RunID            *int64 `json:"run_id,omitempty"`
	TransformVersion string `json:"transform_version,omitempty"`
	// SQLState and Error quote the database.
	SQLState string `json:"sqlstate"`
	Error    string `json:"error"`
}

// quarantineListed bounds the open records a lineage report lists.
const quarantineListed = 20

// quarantine reads the period's quarantined records.
func (g *gatherer) quarantine(ctx context.Context) error {
	q := &Quarantine{Records: []QuarantinedRecord{}}
	err := g.db.QueryRow(ctx, `SELECT count(*) FILTER (WHERE resolved_at IS NULL), count(*) FILTER (WHERE resolved_at IS NOT NULL)
		FROM strata.quarantine WHERE dataset = $1 AND ingested_at BETWEEN $2 AND $3`,
		g.ds.Name, g.rep.From, g.rep.To).Scan(&q.Open, &q.Resolved)
	if err != nil {
		return fmt.Errorf("count quarantined records: %w", err)
	}
	if q.Open+q.Resolved == 0 {
		return nil
	}
	rows, err := g.db.Query(ctx, `SELECT id, ingested_at, run_id, coalesce(transform_version, ''), sqlstate, error
		FROM strata.quarantine WHERE dataset = $1 AND ingested_at BETWEEN $2 AND $3 AND resolved_at IS NULL
		ORDER BY id LIMIT $4`, g.ds.Name, g.rep.From, g.rep.To, quarantineListed)
	if err != nil {
		return fmt.Errorf("list quarantined records: %w", err)
	}
	q.Records, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (QuarantinedRecord, error) {
		var x QuarantinedRecord
		err := r.Scan(&x.ID, &x.IngestedAt, &x.RunID, &x.TransformVersion, &x.SQLState, &x.Error)
		x.IngestedAt = x.IngestedAt.UTC()
		return x, err
	})
	if err != nil {
		return fmt.Errorf("list quarantined records: %w", err)
	}
	g.rep.Source.Quarantine = q
	return nil
}

// quarantineNote says what the open quarantined records need.
func (r *Report) quarantineNote() []string {
	q := r.Source.Quarantine
	if q == nil || q.Open == 0 {
		return nil
	}
	return []string{fmt.Sprintf("%d record(s) of the period are quarantined: stored and archived as received, but the transform refused them "+
		"(source.records quarantine lists them with the database's error); they stay in Layer 3, unprocessed and never purged, until "+
		"'strata replay --apply' over their period processes them once the transform is fixed", q.Open)}
}
