package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// This file reads what `strata lineage` and the OpenLineage events report:
// objects in any state (expired, restored and superseded ones included, for
// they are part of the record), runs, transform texts and the lineage
// records of a period or of one run.

// ObjectsByID returns the objects with these ids, whatever their state,
// ordered by id. Ids that name no committed object are left out.
func ObjectsByID(ctx context.Context, db DB, ids []int64) ([]Object, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	rows, err := db.Query(ctx, `SELECT `+objectCols+` FROM strata.objects WHERE id = ANY($1) ORDER BY id`, ids)
	if err != nil {
		return nil, fmt.Errorf("catalog: objects by id: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Object, error) { return scanObject(r) })
}

// ObjectsByKey returns the objects with these keys, whatever their state,
// ordered by id.
func ObjectsByKey(ctx context.Context, db DB, keys []string) ([]Object, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	rows, err := db.Query(ctx, `SELECT `+objectCols+` FROM strata.objects WHERE key = ANY($1) ORDER BY id`, keys)
	if err != nil {
		return nil, fmt.Errorf("catalog: objects by key: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Object, error) { return scanObject(r) })
}

// ObjectsInPeriod returns every object of dataset and type (superseded,
// expired and restored ones too) whose UTC day lies within [from, to] and
// whose recorded rows' time range, when it has one, overlaps [from, to];
// ordered by day and id.
func ObjectsInPeriod(ctx context.Context, db DB, dataset, typ string, from, to time.Time) ([]Object, error) {
	rows, err := db.Query(ctx, `SELECT `+objectCols+` FROM strata.objects
		WHERE dataset = $1 AND archive_type = $2
		  AND day >= ($3::timestamptz AT TIME ZONE 'UTC')::date AND day <= ($4::timestamptz AT TIME ZONE 'UTC')::date
		  AND (min_time IS NULL OR max_time IS NULL OR (min_time <= $4 AND max_time >= $3))
		ORDER BY day, id`, dataset, typ, from, to)
	if err != nil {
		return nil, fmt.Errorf("catalog: objects of %s/%s in period: %w", typ, dataset, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Object, error) { return scanObject(r) })
}

// Run is one row of strata.runs: the audit trail of a command run.
type Run struct {
	ID         int64
	Command    string
	Dataset    string
	Type       string
	StartedAt  time.Time
	FinishedAt *time.Time
	Status     string // running, ok or failed
	Host       string
	PID        int
	Rows       int64
	Objects    int
	Bytes      int64
	Error      string
}

// RunsByID returns the runs with these ids, keyed by id.
func RunsByID(ctx context.Context, db DB, ids []int64) (map[int64]Run, error) {
	out := map[int64]Run{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, `SELECT id, command, coalesce(dataset, ''), coalesce(archive_type, ''), started_at,
		finished_at, status, coalesce(host, ''), coalesce(pid, 0), rows, objects, bytes, coalesce(error, '')
		FROM strata.runs WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("catalog: runs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r Run
		if err := rows.Scan(&r.ID, &r.Command, &r.Dataset, &r.Type, &r.StartedAt, &r.FinishedAt, &r.Status,
			&r.Host, &r.PID, &r.Rows, &r.Objects, &r.Bytes, &r.Error); err != nil {
			return nil, fmt.Errorf("catalog: runs: %w", err)
		}
		out[r.ID] = r
	}
	return out, rows.Err()
}

// Transform is one recorded transform version of a dataset.
type Transform struct {
	Version   string
	Text      string
	FirstUsed time.Time
}

// Transforms returns the recorded texts of these versions of dataset's
// transform, keyed by version; versions never recorded are absent.
func Transforms(ctx context.Context, db DB, dataset string, versions []string) (map[string]Transform, error) {
	out := map[string]Transform{}
	if len(versions) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, `SELECT version, text, first_used FROM strata.transforms
		WHERE dataset = $1 AND version = ANY($2)`, dataset, versions)
	if err != nil {
		return nil, fmt.Errorf("catalog: transforms of %s: %w", dataset, err)
	}
	defer rows.Close()
	for rows.Next() {
		var t Transform
		if err := rows.Scan(&t.Version, &t.Text, &t.FirstUsed); err != nil {
			return nil, fmt.Errorf("catalog: transforms of %s: %w", dataset, err)
		}
		out[t.Version] = t
	}
	return out, rows.Err()
}

const lineageCols = `id, run_id, dataset, kind, at, period_from, period_to,
	coalesce(transform_version, ''), source_objects, layer3_rows, layer3_first_id, layer3_last_id,
	analytics_rows, analytics_objects, superseded, detail`

// LineageReferencing returns dataset's lineage records from since on that
// name any of the object ids as read, written or superseded, in time
// order: how the objects of a period came to be, even when that happened
// after it (an analytics archive run months later). The record that wrote
// an object has its commit time (one transaction), and later ones are
// later, so since = the objects' earliest committed_at misses none.
func LineageReferencing(ctx context.Context, db DB, dataset string, since time.Time, ids []int64) ([]Lineage, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return queryLineage(ctx, db, `SELECT `+lineageCols+` FROM strata.lineage WHERE dataset = $1 AND at >= $2
		AND (source_objects && $3::bigint[] OR analytics_objects && $3::bigint[] OR superseded && $3::bigint[])
		ORDER BY at, id`, dataset, since, ids)
}

// LineageOfRun returns the lineage records of run id of dataset, in time
// order. It reads only records from the run's start on, through the
// (dataset, at) index.
func LineageOfRun(ctx context.Context, db DB, dataset string, runID int64) ([]Lineage, error) {
	return queryLineage(ctx, db, `SELECT `+lineageCols+` FROM strata.lineage WHERE dataset = $1
		AND at >= (SELECT started_at FROM strata.runs WHERE id = $2) AND run_id = $2
		ORDER BY at, id`, dataset, runID)
}

func queryLineage(ctx context.Context, db DB, sql string, args ...any) ([]Lineage, error) {
	rows, err := db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("catalog: lineage: %w", err)
	}
	defer rows.Close()
	var out []Lineage
	for rows.Next() {
		var l Lineage
		var detail []byte
		if err := rows.Scan(&l.ID, &l.RunID, &l.Dataset, &l.Kind, &l.At, &l.From, &l.To, &l.TransformVersion,
			&l.SourceObjects, &l.Layer3Rows, &l.Layer3FirstID, &l.Layer3LastID, &l.AnalyticsRows,
			&l.AnalyticsObjects, &l.Superseded, &detail); err != nil {
			return nil, fmt.Errorf("catalog: lineage: %w", err)
		}
		if detail != nil {
			if err := json.Unmarshal(detail, &l.Detail); err != nil {
				return nil, fmt.Errorf("catalog: lineage %d detail: %w", l.ID, err)
			}
		}
		out = append(out, l)
	}
	return out, rows.Err()
}
