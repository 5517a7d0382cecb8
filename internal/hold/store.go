package hold

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/actor"
	"github.com/stratahq/strata/internal/catalog"
)

// MaxReason bounds a hold's or release's reason, in characters.
const MaxReason = 2000

// Request asks for a new hold.
type Request struct {
	Dataset string
	// Type is source, analytics or both ("" is both).
	Type Type
	// From and To bound the period: [From, To).
	From, To time.Time
	Reason   string
}

// LockKey names the advisory lock that orders holds of dataset against the
// actions they stop: Add takes it exclusively in its transaction, Check
// and the catalog trigger take it shared in theirs, so an action either
// committed before the hold or sees it.
func LockKey(dataset string) string { return "strata:holds:" + dataset }

func checkReason(reason string) (string, error) {
	r := strings.TrimSpace(reason)
	switch {
	case r == "":
		return "", fmt.Errorf("%w: a reason is required (say why: a case, an investigation, a ticket)", ErrInvalid)
	case !utf8.ValidString(r) || strings.ContainsRune(r, 0):
		return "", fmt.Errorf("%w: the reason must be UTF-8 text without NUL", ErrInvalid)
	case utf8.RuneCountInString(r) > MaxReason:
		return "", fmt.Errorf("%w: the reason has %d characters, at most %d are kept", ErrInvalid, utf8.RuneCountInString(r), MaxReason)
	}
	return r, nil
}

func (req *Request) check() error {
	if req.Dataset == "" {
		return fmt.Errorf("%w: a dataset is required", ErrInvalid)
	}
	t, err := ParseType(string(req.Type))
	if err != nil {
		return err
	}
	req.Type = t
	if req.From.IsZero() || req.To.IsZero() {
		return fmt.Errorf("%w: a period is required: from and to", ErrInvalid)
	}
	if !req.To.After(req.From) {
		return fmt.Errorf("%w: the period ends (%s) before it starts (%s)", ErrInvalid,
			req.To.UTC().Format(time.RFC3339Nano), req.From.UTC().Format(time.RFC3339Nano))
	}
	req.Reason, err = checkReason(req.Reason)
	return err
}

// Add records a new hold, as the actor ctx carries, and returns it. From
// its commit on, the objects it covers can no longer be expired,
// superseded, restored or deleted. Add does not touch the storage: call
// Keeper.Reconcile after it to set the storage's legal hold.
func Add(ctx context.Context, pool *pgxpool.Pool, req Request) (Hold, error) {
	if err := req.check(); err != nil {
		return Hold{}, err
	}
	who := actor.From(ctx)
	var id int64
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, LockKey(req.Dataset)); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO strata.holds
			(dataset, archive_type, period_from, period_to, reason, created_by, created_via, created_addr)
			VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, '')) RETURNING id`,
			req.Dataset, string(req.Type), req.From, req.To, req.Reason, who.Name, string(who.Via), who.Addr).Scan(&id)
	})
	if err != nil {
		return Hold{}, fmt.Errorf("add hold on %s: %w", req.Dataset, err)
	}
	return Get(ctx, pool, id)
}

// Release ends hold id, as the actor ctx carries, for reason. The objects
// it covered may be expired, superseded or restored again unless another
// hold covers them. It returns ErrNotFound for an unknown id and
// ErrReleased (with the hold) for one already released. Call
// Keeper.Reconcile after it to clear the storage's legal hold.
func Release(ctx context.Context, db catalog.DB, id int64, reason string) (Hold, error) {
	r, err := checkReason(reason)
	if err != nil {
		return Hold{}, err
	}
	who := actor.From(ctx)
	tag, err := db.Exec(ctx, `UPDATE strata.holds SET released_at = now(), released_by = $2, released_via = $3,
		released_addr = nullif($4, ''), released_role = current_user, release_reason = $5
		WHERE id = $1 AND released_at IS NULL`, id, who.Name, string(who.Via), who.Addr, r)
	if err != nil {
		return Hold{}, fmt.Errorf("release hold %d: %w", id, err)
	}
	h, err := Get(ctx, db, id)
	if err != nil {
		return Hold{}, err
	}
	if tag.RowsAffected() == 0 {
		return h, fmt.Errorf("%w: hold %d was released at %s by %s (%q)", ErrReleased, id,
			h.Released.At.Format(time.RFC3339), h.Released.By, h.Released.Reason)
	}
	return h, nil
}

// Filter selects holds for List.
type Filter struct {
	Dataset string // "" for every dataset
	// All includes released holds; otherwise only active ones.
	All bool
}

const holdCols = `h.id, h.dataset, h.archive_type, h.period_from, h.period_to, h.reason,
	h.created_at, h.created_by, h.created_via, coalesce(h.created_addr, ''), h.created_role,
	h.released_at, coalesce(h.released_by, ''), coalesce(h.released_via, ''), coalesce(h.released_addr, ''),
	coalesce(h.released_role, ''), coalesce(h.release_reason, ''),
	(SELECT count(*) FROM strata.objects o WHERE o.state <> 'expired' AND strata.hold_covers(h, o)),
	(SELECT count(*) FROM strata.objects o JOIN strata.legal_holds l ON l.object_id = o.id
		WHERE strata.hold_covers(h, o))`

func scanHold(row pgx.CollectableRow) (Hold, error) {
	var h Hold
	var typ string
	var relAt *time.Time
	var rel Event
	err := row.Scan(&h.ID, &h.Dataset, &typ, &h.From, &h.To, &h.Reason,
		&h.Created.At, &h.Created.By, &h.Created.Via, &h.Created.Addr, &h.Created.DBRole,
		&relAt, &rel.By, &rel.Via, &rel.Addr, &rel.DBRole, &rel.Reason, &h.Objects, &h.StorageHeld)
	h.Type = Type(typ)
	h.From, h.To, h.Created.At = h.From.UTC(), h.To.UTC(), h.Created.At.UTC()
	if relAt != nil {
		rel.At = relAt.UTC()
		h.Released = &rel
	}
	return h, err
}

// List returns the holds f selects, oldest first.
func List(ctx context.Context, db catalog.DB, f Filter) ([]Hold, error) {
	rows, err := db.Query(ctx, `SELECT `+holdCols+` FROM strata.holds h
		WHERE ($1 = '' OR h.dataset = $1) AND ($2 OR h.released_at IS NULL) ORDER BY h.id`, f.Dataset, f.All)
	if err != nil {
		return nil, fmt.Errorf("list holds: %w", err)
	}
	hs, err := pgx.CollectRows(rows, scanHold)
	if err != nil {
		return nil, fmt.Errorf("list holds: %w", err)
	}
	return hs, nil
}

// Get returns hold id, or ErrNotFound.
func Get(ctx context.Context, db catalog.DB, id int64) (Hold, error) {
	rows, err := db.Query(ctx, `SELECT `+holdCols+` FROM strata.holds h WHERE h.id = $1`, id)
	if err != nil {
		return Hold{}, fmt.Errorf("hold %d: %w", id, err)
	}
	h, err := pgx.CollectExactlyOneRow(rows, scanHold)
	if errors.Is(err, pgx.ErrNoRows) {
		return Hold{}, fmt.Errorf("%w: hold %d (strata hold list --all shows every hold)", ErrNotFound, id)
	}
	if err != nil {
		return Hold{}, fmt.Errorf("hold %d: %w", id, err)
	}
	return h, nil
}
