package hold

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratahq/strata/internal/catalog"
)

// Covering returns the active holds of dataset that cover archive type typ
// (Both: any type) and overlap [from, to), oldest first. A caller about to
// change the records of a period (erasure) asks it first and refuses with
// Refusal when it returns any.
func Covering(ctx context.Context, db catalog.DB, dataset string, typ Type, from, to time.Time) ([]Hold, error) {
	rows, err := db.Query(ctx, `SELECT `+holdCols+` FROM strata.holds h
		WHERE h.released_at IS NULL AND h.dataset = $1 AND ($2 = 'both' OR h.archive_type IN ($2, 'both'))
		AND h.period_from < $4 AND h.period_to > $3 ORDER BY h.id`, dataset, string(typ), from, to)
	if err != nil {
		return nil, fmt.Errorf("holds covering %s: %w", dataset, err)
	}
	hs, err := pgx.CollectRows(rows, scanHold)
	if err != nil {
		return nil, fmt.Errorf("holds covering %s: %w", dataset, err)
	}
	return hs, nil
}

// Refusal returns the *HeldError refusing action because of holds, or nil
// when holds is empty.
func Refusal(action string, holds []Hold) error {
	if len(holds) == 0 {
		return nil
	}
	e := &HeldError{Action: action}
	for _, h := range holds {
		e.Holds = append(e.Holds, Ref{ID: h.ID, Reason: h.Reason})
	}
	return e
}

// Held returns, for each of the objects ids that an active hold covers,
// the holds that cover it (ordered by id), keyed by object id.
func Held(ctx context.Context, db catalog.DB, ids []int64) (map[int64][]Ref, error) {
	out := map[int64][]Ref{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := db.Query(ctx, `SELECT o.id, h.id, h.reason FROM strata.objects o
		JOIN strata.holds h ON strata.hold_covers(h, o) WHERE o.id = ANY($1) ORDER BY o.id, h.id`, ids)
	if err != nil {
		return nil, fmt.Errorf("holds of objects: %w", err)
	}
	var oid int64
	var r Ref
	_, err = pgx.ForEachRow(rows, []any{&oid, &r.ID, &r.Reason}, func() error {
		out[oid] = append(out[oid], r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("holds of objects: %w", err)
	}
	return out, nil
}

// Check returns a *HeldError refusing action when an active hold covers
// any of the objects ids, nil otherwise. In a transaction it first takes
// the objects' datasets' hold locks shared (see LockKey), so a hold added
// concurrently is either seen here or waits until the transaction ends;
// call it in the transaction that then changes the objects.
func Check(ctx context.Context, db catalog.DB, action string, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := db.Exec(ctx, `SELECT pg_advisory_xact_lock_shared(hashtextextended('strata:holds:' || d, 0))
		FROM (SELECT DISTINCT dataset AS d FROM strata.objects WHERE id = ANY($1) ORDER BY 1) x`, ids); err != nil {
		return fmt.Errorf("%s: wait for holds being added: %w", action, err)
	}
	held, err := Held(ctx, db, ids)
	if err != nil || len(held) == 0 {
		return err
	}
	rows, err := db.Query(ctx, `SELECT key FROM strata.objects WHERE id = ANY($1) ORDER BY key`, keysOf(held))
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	keys, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("%s: %w", action, err)
	}
	e := &HeldError{Action: action, Objects: keys}
	seen := map[int64]bool{}
	for _, refs := range held {
		for _, r := range refs {
			if !seen[r.ID] {
				seen[r.ID] = true
				e.Holds = append(e.Holds, r)
			}
		}
	}
	sortRefs(e.Holds)
	return e
}

func keysOf(m map[int64][]Ref) []int64 {
	ids := make([]int64, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	return ids
}

func sortRefs(rs []Ref) {
	slices.SortFunc(rs, func(a, b Ref) int { return cmp.Compare(a.ID, b.ID) })
}

// SQLState is the error code the catalog trigger raises when a statement
// would expire, supersede, restore or delete a held object.
const SQLState = "SH001"

// FromDB returns err as a *HeldError for action when it is (or wraps) the
// catalog trigger's refusal, and err unchanged otherwise.
func FromDB(action string, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != SQLState {
		return err
	}
	var d struct {
		Key   string `json:"key"`
		Holds []Ref  `json:"holds"`
	}
	if jerr := json.Unmarshal([]byte(pgErr.Detail), &d); jerr != nil {
		return fmt.Errorf("%s refused: %s (%s): %w", action, pgErr.Message, pgErr.Detail, ErrHeld)
	}
	return &HeldError{Action: action, Holds: d.Holds, Objects: []string{d.Key}}
}
