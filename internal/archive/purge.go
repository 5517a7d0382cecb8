package archive

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/hold"
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
	// Locked objects are past their expiry but the storage refused to
	// delete them (storage.ErrImmutable: its clock, or a policy of its own,
	// says their retention has not ended). They stay committed in the
	// catalog, and the next purge tries again.
	Locked []string
	// Retained counts objects past their expiry whose retain-until (the
	// write-once retention their upload asked for) has not ended by the
	// database clock: purge does not try to delete them yet.
	Retained int
	// Held objects are past their expiry but under a legal hold: they stay,
	// committed and readable, until every hold covering them is released.
	Held []HeldObject
}

// expiring is an object Expire deletes.
type expiring struct {
	id         int64
	key, state string
}

// Expire deletes committed objects of dataset ("" for all) whose expiry and
// retain-until both ended by the database clock, and marks them expired.
// Superseded objects (still committed) and restored ones (whose rows are
// back in Layer 2 or in newer objects) expire the same way, at their own
// expires_at. An object the storage refuses to delete (ErrImmutable) is
// reported in Locked and left for the next purge; the others still go. An
// object a legal hold covers is kept and listed in Held with the holds.
// With dryRun it only lists them.
func (a *Archiver) Expire(ctx context.Context, dataset string, dryRun bool) (ExpiryReport, error) {
	var rep ExpiryReport
	if err := a.Pool.QueryRow(ctx, `SELECT count(*) FROM strata.objects WHERE state IN ('committed', 'restored')
		AND expires_at <= now() AND retain_until > now() AND ($1 = '' OR dataset = $1)`, dataset).Scan(&rep.Retained); err != nil {
		return rep, fmt.Errorf("find expired objects: %w", err)
	}
	rows, err := a.Pool.Query(ctx, `SELECT id, key, state FROM strata.objects
		WHERE state IN ('committed', 'restored') AND expires_at <= now() AND (retain_until IS NULL OR retain_until <= now())
		  AND ($1 = '' OR dataset = $1) ORDER BY id`, dataset)
	if err != nil {
		return rep, fmt.Errorf("find expired objects: %w", err)
	}
	objs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (expiring, error) {
		var o expiring
		return o, r.Scan(&o.id, &o.key, &o.state)
	})
	if err != nil {
		return rep, fmt.Errorf("find expired objects: %w", err)
	}
	held, err := a.heldAmong(ctx, objs)
	if err != nil {
		return rep, fmt.Errorf("find expired objects: %w", err)
	}
	for _, o := range objs {
		if refs := held[o.id]; len(refs) > 0 {
			rep.Held = append(rep.Held, HeldObject{Key: o.key, Holds: refs})
			continue
		}
		if dryRun {
			rep.Expired = append(rep.Expired, o.key)
			continue
		}
		if err := a.expireOne(ctx, o, &rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// expireOne marks o expired, then deletes it from storage. Catalog first: a
// crash between the two leaves an expired object in storage (never read),
// not a committed object that is missing. A delete that fails puts o back
// in its state, so that the next purge tries again.
func (a *Archiver) expireOne(ctx context.Context, o expiring, rep *ExpiryReport) error {
	key, err := storage.ParseKey(o.key)
	if err != nil {
		return err
	}
	tag, err := a.Pool.Exec(ctx, `UPDATE strata.objects SET state = 'expired' WHERE id = $1 AND state = $2`, o.id, o.state)
	if he := (*hold.HeldError)(nil); errors.As(hold.FromDB("expire", err), &he) { // a hold added since the check
		rep.Held = append(rep.Held, HeldObject{Key: o.key, Holds: he.Holds})
		return nil
	}
	if err != nil {
		return fmt.Errorf("expire %s: %w", o.key, err)
	}
	if tag.RowsAffected() == 0 {
		return nil // another process expired it meanwhile
	}
	err = a.Store.Delete(ctx, key)
	if err == nil || errors.Is(err, storage.ErrNotExist) {
		rep.Expired = append(rep.Expired, o.key)
		return nil
	}
	if _, rerr := a.Pool.Exec(context.WithoutCancel(ctx), `UPDATE strata.objects SET state = $2 WHERE id = $1 AND state = 'expired'`,
		o.id, o.state); rerr != nil {
		a.logger().Warn("the storage kept an expired object; putting it back in the catalog failed", "key", o.key, "err", rerr)
	}
	if errors.Is(err, storage.ErrImmutable) {
		a.logger().Warn("the storage refused to delete an expired object; the next purge tries again", "key", o.key, "err", err)
		rep.Locked = append(rep.Locked, o.key)
		return nil
	}
	return fmt.Errorf("expire %s: %w", o.key, err)
}
