package hold

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/storage"
)

// Keeper mirrors the holds onto the storage's own legal-hold flag (S3
// Object Lock legal hold, Azure's legal hold), so that a held object is
// protected from deletion outside Strata too, and records in
// strata.legal_holds each object on which it set the flag.
//
// The catalog's holds are the truth and the storage follows: an object
// should carry the flag exactly when an active hold covers it and it is
// not expired. Reconcile brings the storage there from whatever state a
// crash left: a hold committed but whose objects were never flagged (they
// are not in legal_holds: flagged now), a flag set but not recorded (set
// again, which is harmless), a hold released but its flags not cleared
// (recorded but no longer covered: cleared, then the record deleted; a
// crash between leaves the record, and the next Reconcile clears again).
type Keeper struct {
	Pool  *pgxpool.Pool
	Store storage.Backend
	Log   *slog.Logger
}

// Sync says what a Reconcile or Apply did to the storage.
type Sync struct {
	// Unsupported is true when the storage has no legal-hold flag: the
	// holds are enforced by Strata alone.
	Unsupported bool `json:"unsupported,omitempty"`
	Set         int  `json:"set"`
	Cleared     int  `json:"cleared"`
}

func (k *Keeper) holder() storage.Backend {
	if k == nil || k.Store == nil || !k.Store.Caps().LegalHold {
		return nil
	}
	return k.Store
}

// Supported reports whether the storage has a legal-hold flag Strata sets.
func (k *Keeper) Supported() bool { return k.holder() != nil }

type flagged struct {
	id  int64
	key string
}

// reconcileLock serialises Reconciles across processes, so that one that
// read the holds before a change cannot undo the work of one that read
// them after.
const reconcileLock = "strata:holds:reconcile"

// Reconcile sets the storage's legal hold on every object an active hold
// covers that does not carry it yet, and clears it on every object that
// carries it (by Strata's record) and that no active hold covers any more.
// It waits for a Reconcile of another process to finish first.
func (k *Keeper) Reconcile(ctx context.Context) (Sync, error) {
	lh := k.holder()
	if lh == nil {
		return Sync{Unsupported: true}, nil
	}
	conn, err := k.Pool.Acquire(ctx)
	if err != nil {
		return Sync{}, fmt.Errorf("storage legal holds: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock(hashtextextended($1, 0))`, reconcileLock); err != nil {
		return Sync{}, fmt.Errorf("storage legal holds: wait for another reconciliation: %w", err)
	}
	defer func() {
		if _, err := conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(hashtextextended($1, 0))`, reconcileLock); err != nil {
			conn.Conn().Close(context.WithoutCancel(ctx)) // the lock dies with the session
		}
	}()
	var s Sync
	s.Set, err = k.set(ctx, lh, `o.state <> 'expired'`)
	if err == nil {
		s.Cleared, err = k.clear(ctx, lh)
	}
	return k.unsupported(s, err)
}

// unsupported turns the storage's ErrUnsupported (a store whose backend
// has the call but this bucket or account not the feature: an S3 bucket
// without Object Lock) into Sync.Unsupported: the holds are then enforced
// by Strata alone, as on a store without the call.
func (k *Keeper) unsupported(s Sync, err error) (Sync, error) {
	if !errors.Is(err, storage.ErrUnsupported) {
		return s, err
	}
	k.logger().Warn("the storage has no legal hold here: holds are enforced by Strata alone", "err", err)
	return Sync{Unsupported: true, Set: s.Set, Cleared: s.Cleared}, nil
}

// Apply sets the storage's legal hold on those of the objects ids that an
// active hold covers: the archive calls it right after committing new
// objects, so an object archived into a held period is held at once.
func (k *Keeper) Apply(ctx context.Context, ids []int64) (Sync, error) {
	lh := k.holder()
	if lh == nil {
		return Sync{Unsupported: true}, nil
	}
	if len(ids) == 0 {
		return Sync{}, nil
	}
	n, err := k.set(ctx, lh, `o.state <> 'expired' AND o.id = ANY($1)`, ids)
	return k.unsupported(Sync{Set: n}, err)
}

// set flags the covered, unrecorded objects that where selects, then
// records each.
func (k *Keeper) set(ctx context.Context, lh storage.Backend, where string, args ...any) (int, error) {
	objs, err := k.query(ctx, `SELECT DISTINCT o.id, o.key FROM strata.holds h
		JOIN strata.objects o ON o.dataset = h.dataset AND strata.hold_covers(h, o)
		WHERE h.released_at IS NULL AND `+where+`
		AND NOT EXISTS (SELECT 1 FROM strata.legal_holds l WHERE l.object_id = o.id) ORDER BY o.id`, args...)
	if err != nil {
		return 0, err
	}
	for i, o := range objs {
		key, err := storage.ParseKey(o.key)
		if err != nil {
			return i, err
		}
		if err := lh.SetLegalHold(ctx, key, true); err != nil {
			return i, fmt.Errorf("set the storage legal hold on %s: %w", o.key, err)
		}
		if _, err := k.Pool.Exec(ctx, `INSERT INTO strata.legal_holds (object_id, key) VALUES ($1, $2)
			ON CONFLICT (object_id) DO NOTHING`, o.id, o.key); err != nil {
			return i, fmt.Errorf("record the storage legal hold on %s: %w", o.key, err)
		}
		k.logger().Info("storage legal hold set", "object", o.key)
	}
	return len(objs), nil
}

// clear lifts the flag from recorded objects no active hold covers, then
// deletes their records.
func (k *Keeper) clear(ctx context.Context, lh storage.Backend) (int, error) {
	objs, err := k.query(ctx, `SELECT l.object_id, l.key FROM strata.legal_holds l
		LEFT JOIN strata.objects o ON o.id = l.object_id
		WHERE NOT EXISTS (SELECT 1 FROM strata.holds h WHERE strata.hold_covers(h, o)) ORDER BY l.object_id`)
	if err != nil {
		return 0, err
	}
	for i, o := range objs {
		key, err := storage.ParseKey(o.key)
		if err != nil {
			return i, err
		}
		err = lh.SetLegalHold(ctx, key, false)
		if err != nil && !errors.Is(err, storage.ErrNotExist) && !errors.Is(err, storage.ErrUnsupported) {
			return i, fmt.Errorf("clear the storage legal hold on %s: %w", o.key, err)
		}
		if _, err := k.Pool.Exec(ctx, `DELETE FROM strata.legal_holds WHERE object_id = $1`, o.id); err != nil {
			return i, fmt.Errorf("record the storage legal hold cleared on %s: %w", o.key, err)
		}
		k.logger().Info("storage legal hold cleared", "object", o.key)
	}
	return len(objs), nil
}

func (k *Keeper) query(ctx context.Context, sql string, args ...any) ([]flagged, error) {
	rows, err := k.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("storage legal holds: %w", err)
	}
	objs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (flagged, error) {
		var f flagged
		return f, r.Scan(&f.id, &f.key)
	})
	if err != nil {
		return nil, fmt.Errorf("storage legal holds: %w", err)
	}
	return objs, nil
}

func (k *Keeper) logger() *slog.Logger {
	if k.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return k.Log
}
