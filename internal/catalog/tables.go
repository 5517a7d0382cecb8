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
	// Snapshot is the PostgreSQL snapshot (pg_snapshot as text) the
	// published objects were read in; "" when not recorded (before
	// migration 13).
	Snapshot string
	// State is the format's own record of the table it left (its log
	// version, its metadata file), which the next publish compares with
	// the table on storage; "" when none.
	State string
}

// RecordPublication records that format published version of the table
// of dataset and typ, listing objects objects.
func RecordPublication(ctx context.Context, db DB, p Publication) error {
	_, err := db.Exec(ctx, `INSERT INTO strata.table_publications
		(dataset, archive_type, format, version, objects, published_at, snapshot, table_state)
		VALUES ($1, $2, $3, $4, $5, now(), nullif($6, '')::pg_snapshot, $7)
		ON CONFLICT (dataset, archive_type, format) DO UPDATE
		SET version = excluded.version, objects = excluded.objects, published_at = excluded.published_at,
		    snapshot = excluded.snapshot, table_state = excluded.table_state`,
		p.Dataset, p.Type, p.Format, p.Version, p.Objects, p.Snapshot, p.State)
	if err != nil {
		return fmt.Errorf("catalog: record publication of %s table %s/%s: %w", p.Format, p.Type, p.Dataset, err)
	}
	return nil
}

// Publications lists the recorded publications of dataset ("" for all).
func Publications(ctx context.Context, db DB, dataset string) ([]Publication, error) {
	rows, err := db.Query(ctx, `SELECT dataset, archive_type, format, version, objects, published_at,
		coalesce(snapshot::text, ''), table_state
		FROM strata.table_publications WHERE $1 = '' OR dataset = $1 ORDER BY 1, 2, 3`, dataset)
	if err != nil {
		return nil, fmt.Errorf("catalog: publications: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Publication, error) {
		var p Publication
		err := r.Scan(&p.Dataset, &p.Type, &p.Format, &p.Version, &p.Objects, &p.At, &p.Snapshot, &p.State)
		return p, err
	})
}

// Snapshot is the snapshot of the transaction tx (REPEATABLE READ: every
// read of tx sees exactly it), as pg_snapshot text.
func Snapshot(ctx context.Context, tx DB) (string, error) {
	var s string
	if err := tx.QueryRow(ctx, `SELECT pg_current_snapshot()::text`).Scan(&s); err != nil {
		return "", fmt.Errorf("catalog: snapshot: %w", err)
	}
	return s, nil
}

// Change is an object changed since a snapshot, in its state now.
type Change struct {
	Object
	// New is set when the object was inserted after the snapshot, so
	// that it was not even there then.
	New bool
}

// ChangedObjects are the objects of the table of dataset and typ whose
// last change (migration 13's change_xid: a commit, a supersede, a state
// change) the snapshot since did not see: a change_seq newer than version,
// the largest it saw, or a transaction that was still running when it was
// taken. Each is returned in its state now, whatever it is, by id.
func ChangedObjects(ctx context.Context, db DB, dataset, typ string, version int64, since string) ([]Change, error) {
	rows, err := db.Query(ctx, `SELECT `+objectCols+`,
		  coalesce(created_xid >= pg_snapshot_xmin($4::pg_snapshot)
		           AND NOT pg_visible_in_snapshot(created_xid, $4::pg_snapshot), false)
		FROM strata.objects
		WHERE dataset = $1 AND archive_type = $2
		  AND (change_seq > $3
		       OR (change_xid >= pg_snapshot_xmin($4::pg_snapshot)
		           AND NOT pg_visible_in_snapshot(change_xid, $4::pg_snapshot)))
		ORDER BY id`, dataset, typ, version, since)
	if err != nil {
		return nil, fmt.Errorf("catalog: objects of %s/%s changed since version %d: %w", typ, dataset, version, err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Change, error) {
		var c Change
		var err error
		c.Object, err = scanObject(r, &c.New)
		return c, err
	})
}

// SchemaUse is one distinct schema among a table's current objects: its
// JSON description (catalog.Object.Schema) and the first and last id of
// the objects written with it.
type SchemaUse struct {
	Schema      []byte
	First, Last int64
}

// CurrentSchemas are the distinct schemas of the committed, current
// objects of the table of dataset and typ, and how many such objects there
// are: what a table's columns are merged from, without listing every
// object.
func CurrentSchemas(ctx context.Context, db DB, dataset, typ string) ([]SchemaUse, int64, error) {
	rows, err := db.Query(ctx, `SELECT schema, min(id), max(id), count(*) FROM strata.objects
		WHERE dataset = $1 AND archive_type = $2 AND state = 'committed' AND superseded_by IS NULL
		GROUP BY schema ORDER BY 2`, dataset, typ)
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: schemas of %s/%s: %w", typ, dataset, err)
	}
	var out []SchemaUse
	var total int64
	var u SchemaUse
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&u.Schema, &u.First, &u.Last, &n}, func() error {
		out = append(out, SchemaUse{Schema: append([]byte(nil), u.Schema...), First: u.First, Last: u.Last})
		total += n
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: schemas of %s/%s: %w", typ, dataset, err)
	}
	return out, total, nil
}

// IsCurrent reports whether o is committed and current: what a table
// lists.
func (o Object) IsCurrent() bool { return o.State == StateCommitted && o.SupersededBy == nil }
