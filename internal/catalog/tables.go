package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// TableVersion is the change number of the table of dataset and typ: the
// largest change_seq of its objects (migration 11), 0 when it has none.
func TableVersion(ctx context.Context, db DB, dataset, typ string) (int64, error) {
	var v int64
	err := db.QueryRow(ctx, `SELECT coalesce(max(change_seq), 0) FROM strata.objects
		WHERE dataset = $1 AND archive_type = $2`, dataset, typ).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("catalog: version of table %s/%s: %w", typ, dataset, err)
	}
	return v, nil
}

// ObjectStats returns the recorded column statistics (JSON) of the objects
// ids that have them.
func ObjectStats(ctx context.Context, db DB, ids []int64) (map[int64][]byte, error) {
	rows, err := db.Query(ctx, `SELECT id, column_stats FROM strata.objects
		WHERE id = ANY($1) AND column_stats IS NOT NULL`, ids)
	if err != nil {
		return nil, fmt.Errorf("catalog: column statistics: %w", err)
	}
	out := map[int64][]byte{}
	var id int64
	var b []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &b}, func() error {
		out[id] = append([]byte(nil), b...)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: column statistics: %w", err)
	}
	return out, nil
}

// SetObjectStats records object id's column statistics (JSON), once: a
// value already recorded is kept.
func SetObjectStats(ctx context.Context, db DB, id int64, stats []byte) error {
	_, err := db.Exec(ctx, `UPDATE strata.objects SET column_stats = $2
		WHERE id = $1 AND column_stats IS NULL`, id, stats)
	if err != nil {
		return fmt.Errorf("catalog: record column statistics of object %d: %w", id, err)
	}
	return nil
}

// Publication is the last version a format published of a table.
type Publication struct {
	Dataset, Type, Format string
	Version, Objects      int64
	At                    time.Time
}

// RecordPublication records that format published version of the table
// of dataset and typ, listing objects objects.
func RecordPublication(ctx context.Context, db DB, p Publication) error {
	_, err := db.Exec(ctx, `INSERT INTO strata.table_publications
		(dataset, archive_type, format, version, objects, published_at) VALUES ($1, $2, $3, $4, $5, now())
		ON CONFLICT (dataset, archive_type, format) DO UPDATE
		SET version = excluded.version, objects = excluded.objects, published_at = excluded.published_at`,
		p.Dataset, p.Type, p.Format, p.Version, p.Objects)
	if err != nil {
		return fmt.Errorf("catalog: record publication of %s table %s/%s: %w", p.Format, p.Type, p.Dataset, err)
	}
	return nil
}

// Publications lists the recorded publications of dataset ("" for all).
func Publications(ctx context.Context, db DB, dataset string) ([]Publication, error) {
	rows, err := db.Query(ctx, `SELECT dataset, archive_type, format, version, objects, published_at
		FROM strata.table_publications WHERE $1 = '' OR dataset = $1 ORDER BY 1, 2, 3`, dataset)
	if err != nil {
		return nil, fmt.Errorf("catalog: publications: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Publication, error) {
		var p Publication
		err := r.Scan(&p.Dataset, &p.Type, &p.Format, &p.Version, &p.Objects, &p.At)
		return p, err
	})
}
