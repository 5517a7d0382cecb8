package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Lineage kinds: what produced a lineage record.
const (
	LineageIngest           = "ingest"
	LineageSourceArchive    = "source_archive"
	LineageAnalyticsArchive = "analytics_archive"
	LineageReplay           = "replay"
	LineageRestore          = "restore"
)

// StateRestored marks an analytics object whose rows were copied back into
// Layer 2: they are read from there, never from the object, so that no row
// is returned twice; a later archive run writes them to a new object.
const StateRestored = "restored"

// Lineage is one record of strata.lineage: what one batch or run read and
// wrote. Ids are catalog object ids.
type Lineage struct {
	ID               int64
	RunID            *int64
	Dataset          string
	Kind             string
	At               time.Time
	From, To         *time.Time // the period a replay or restore covered
	TransformVersion string
	SourceObjects    []int64
	Layer3Rows       int64
	Layer3FirstID    *int64
	Layer3LastID     *int64
	AnalyticsRows    int64   // Layer 2 rows written (inserted or updated)
	AnalyticsObjects []int64 // analytics objects written
	Superseded       []int64 // analytics objects a replay superseded
	Detail           map[string]any
}

// RecordLineage inserts l through db, inside the caller's transaction, so
// a lineage record exists exactly when what it describes committed.
func RecordLineage(ctx context.Context, db DB, l *Lineage) error {
	var detail []byte
	if l.Detail != nil {
		var err error
		if detail, err = json.Marshal(l.Detail); err != nil {
			return fmt.Errorf("catalog: lineage detail: %w", err)
		}
	}
	err := db.QueryRow(ctx, `INSERT INTO strata.lineage (run_id, dataset, kind, period_from, period_to,
		transform_version, source_objects, layer3_rows, layer3_first_id, layer3_last_id, analytics_rows,
		analytics_objects, superseded, detail)
		VALUES ($1, $2, $3, $4, $5, nullif($6, ''), coalesce($7, '{}'::bigint[]), $8, $9, $10, $11,
		coalesce($12, '{}'::bigint[]), coalesce($13, '{}'::bigint[]), $14) RETURNING id, at`,
		l.RunID, l.Dataset, l.Kind, l.From, l.To, l.TransformVersion, l.SourceObjects, l.Layer3Rows,
		l.Layer3FirstID, l.Layer3LastID, l.AnalyticsRows, l.AnalyticsObjects, l.Superseded, detail).Scan(&l.ID, &l.At)
	if err != nil {
		return fmt.Errorf("catalog: record lineage: %w", err)
	}
	return nil
}

// RecordTransform keeps the text of a transform version (once per dataset
// and version), inside the caller's transaction.
func RecordTransform(ctx context.Context, db DB, dataset, version, text string) error {
	_, err := db.Exec(ctx, `INSERT INTO strata.transforms (dataset, version, text) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, dataset, version, text)
	if err != nil {
		return fmt.Errorf("catalog: record transform %s: %w", version, err)
	}
	return nil
}

// TransformText returns the text of a recorded transform version.
func TransformText(ctx context.Context, db DB, dataset, version string) (string, bool, error) {
	var text string
	err := db.QueryRow(ctx, `SELECT text FROM strata.transforms WHERE dataset = $1 AND version = $2`, dataset, version).Scan(&text)
	if err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("catalog: transform %s: %w", version, err)
	}
	return text, true, nil
}

// LineageFilter selects lineage records.
type LineageFilter struct {
	Dataset  string
	From, To *time.Time // bounds on the record's time, inclusive
}

// ListLineage returns the lineage records matching f in time order.
func ListLineage(ctx context.Context, db DB, f LineageFilter) ([]Lineage, error) {
	return queryLineage(ctx, db, `SELECT id, run_id, dataset, kind, at, period_from, period_to,
		coalesce(transform_version, ''), source_objects, layer3_rows, layer3_first_id, layer3_last_id,
		analytics_rows, analytics_objects, superseded, detail
		FROM strata.lineage WHERE dataset = $1 AND ($2::timestamptz IS NULL OR at >= $2)
		AND ($3::timestamptz IS NULL OR at <= $3) ORDER BY at, id`, f.Dataset, f.From, f.To)
}
