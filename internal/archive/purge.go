package archive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/pgsource"
	"github.com/stratahq/strata/internal/storage"
)

// PurgeReport says what a purge removed, or would remove, and what stays.
type PurgeReport struct {
	Dataset string
	Cutoff  time.Time
	// Purged rows were older than the cutoff, in a committed source batch
	// and (with a transform) processed.
	Purged int64
	// NotArchived and NotProcessed are old rows that stay, and why;
	// Quarantined of them are held in quarantine (the transform refused
	// them; a replay --apply processes them), whatever their processed flag.
	NotArchived  int64
	NotProcessed int64
	Quarantined  int64
}

// Purge deletes the Layer 3 rows older than retention that are in a
// committed source batch and, when requireProcessed, processed. A row that is
// not archived, or is held in quarantine (strata.quarantine, not resolved),
// is never purged, whatever its age.
func (a *Archiver) Purge(ctx context.Context, spec SourceSpec, retention time.Duration, requireProcessed, dryRun bool) (PurgeReport, error) {
	rep := PurgeReport{Dataset: spec.Dataset}
	rel, err := pgsource.Resolve(ctx, a.Pool, spec.Table)
	if err != nil {
		return rep, err
	}
	if err := a.Pool.QueryRow(ctx, `SELECT now() - $1::interval`, retention).Scan(&rep.Cutoff); err != nil {
		return rep, err
	}
	tc, idc := pgx.Identifier{spec.TimeColumn}.Sanitize(), pgx.Identifier{spec.IDColumn}.Sanitize()
	processed := `NOT EXISTS (SELECT 1 FROM strata.quarantine q WHERE q.dataset = $1 AND q.id = s.` + idc + ` AND q.resolved_at IS NULL)`
	if requireProcessed {
		processed += " AND s." + pgx.Identifier{spec.ProcessedColumn}.Sanitize()
	}
	archived := `EXISTS (SELECT 1 FROM strata.source_archived a WHERE a.dataset = $1 AND a.id = s.` + idc + `)`
	if !dryRun {
		tag, err := a.Pool.Exec(ctx, `WITH d AS (DELETE FROM `+rel.Ident()+` s WHERE s.`+tc+` < $2 AND `+archived+
			` AND `+processed+` RETURNING s.`+idc+` AS id)
			DELETE FROM strata.source_archived a USING d WHERE a.dataset = $1 AND a.id = d.id`, spec.Dataset, rep.Cutoff)
		if err != nil {
			return rep, fmt.Errorf("purge %s: %w", rel, err)
		}
		rep.Purged = tag.RowsAffected()
	}
	var would int64
	err = a.Pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE arch AND proc), count(*) FILTER (WHERE NOT arch),
		count(*) FILTER (WHERE arch AND NOT proc), count(*) FILTER (WHERE quar)
		FROM (SELECT `+archived+` AS arch, coalesce(`+processed+`, false) AS proc,
			EXISTS (SELECT 1 FROM strata.quarantine q WHERE q.dataset = $1 AND q.id = s.`+idc+` AND q.resolved_at IS NULL) AS quar
			FROM `+rel.Ident()+` s WHERE s.`+tc+` < $2) x`,
		spec.Dataset, rep.Cutoff).Scan(&would, &rep.NotArchived, &rep.NotProcessed, &rep.Quarantined)
	if err != nil {
		return rep, fmt.Errorf("count rows of %s: %w", rel, err)
	}
	if dryRun {
		rep.Purged = would
	}
	return rep, nil
}

// ExpiryReport says which archive objects reached the end of their retention.
type ExpiryReport struct {
	Expired []string
	// Locked objects are past their catalog expiry but storage still holds
	// them under its own retention lock (the storage clock decides); they are
	// never read again and the storage removes or keeps them by its policy.
	Locked []string
}

// Expire deletes committed objects of dataset ("" for all) whose retention
// ended by the database clock and marks them expired. Superseded objects
// (still committed) and restored ones (whose rows are back in Layer 2 or in
// newer objects) expire the same way, at their own expires_at. With dryRun
// it only lists them.
func (a *Archiver) Expire(ctx context.Context, dataset string, dryRun bool) (ExpiryReport, error) {
	var rep ExpiryReport
	rows, err := a.Pool.Query(ctx, `SELECT id, key FROM strata.objects
		WHERE state IN ('committed', 'restored') AND expires_at <= now() AND ($1 = '' OR dataset = $1) ORDER BY id`, dataset)
	if err != nil {
		return rep, fmt.Errorf("find expired objects: %w", err)
	}
	type obj struct {
		id  int64
		key string
	}
	objs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (obj, error) {
		var o obj
		return o, r.Scan(&o.id, &o.key)
	})
	if err != nil {
		return rep, fmt.Errorf("find expired objects: %w", err)
	}
	for _, o := range objs {
		if dryRun {
			rep.Expired = append(rep.Expired, o.key)
			continue
		}
		key, err := storage.ParseKey(o.key)
		if err != nil {
			return rep, err
		}
		// Catalog first: a crash between the two leaves an expired object
		// in storage (never read), not a committed object that is missing.
		tag, err := a.Pool.Exec(ctx, `UPDATE strata.objects SET state = 'expired' WHERE id = $1 AND state IN ('committed', 'restored')`, o.id)
		if err != nil {
			return rep, fmt.Errorf("expire %s: %w", o.key, err)
		}
		if tag.RowsAffected() == 0 {
			continue // another process expired it meanwhile
		}
		if err := a.Store.Delete(ctx, key); err != nil && !errors.Is(err, storage.ErrNotExist) {
			if errors.Is(err, storage.ErrImmutable) {
				rep.Locked = append(rep.Locked, o.key)
				continue
			}
			return rep, fmt.Errorf("expire %s: %w", o.key, err)
		}
		rep.Expired = append(rep.Expired, o.key)
	}
	return rep, nil
}
