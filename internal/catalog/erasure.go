package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// LineageErasure is the lineage kind of an erasure (strata erase).
const LineageErasure = "erasure"

// Erasure statuses.
const (
	ErasureDone    = "done"
	ErasureRefused = "refused"
)

// Erasure is one row of strata.erasures: an erasure done or refused. The
// subject is only ever stored as SubjectHMAC.
type Erasure struct {
	ID          int64
	Dataset     string
	SubjectHMAC string // lower-case hex HMAC-SHA-256 of the subject
	KeyID       string // identifies the key of SubjectHMAC
	Status      string
	Reason      string
	Refusal     string
	Actor, Via  string
	At          time.Time
	RunID       *int64
	Certificate json.RawMessage
}

// RecordErasure inserts e through db (inside the erasure's transaction, or
// on its own for a refusal) and sets e.ID and e.At.
func RecordErasure(ctx context.Context, db DB, e *Erasure) error {
	err := db.QueryRow(ctx, `INSERT INTO strata.erasures (dataset, subject_hmac, key_id, status, reason, refusal,
		actor, via, run_id, certificate) VALUES ($1, $2, $3, $4, $5, nullif($6, ''), $7, $8, $9, $10) RETURNING id, at`,
		e.Dataset, e.SubjectHMAC, e.KeyID, e.Status, e.Reason, e.Refusal, e.Actor, e.Via, e.RunID, e.Certificate).Scan(&e.ID, &e.At)
	if err != nil {
		return fmt.Errorf("catalog: record erasure: %w", err)
	}
	return nil
}

// SetErasureCertificate replaces the certificate of erasure id (written
// once its id and time are known), through db.
func SetErasureCertificate(ctx context.Context, db DB, id int64, cert json.RawMessage) error {
	if _, err := db.Exec(ctx, `UPDATE strata.erasures SET certificate = $2 WHERE id = $1`, id, cert); err != nil {
		return fmt.Errorf("catalog: erasure %d: %w", id, err)
	}
	return nil
}

const erasureCols = `id, dataset, subject_hmac, key_id, status, reason, coalesce(refusal, ''), coalesce(actor, ''),
	coalesce(via, ''), at, run_id, certificate`

func scanErasure(row pgx.Row) (Erasure, error) {
	var e Erasure
	err := row.Scan(&e.ID, &e.Dataset, &e.SubjectHMAC, &e.KeyID, &e.Status, &e.Reason, &e.Refusal, &e.Actor,
		&e.Via, &e.At, &e.RunID, &e.Certificate)
	return e, err
}

// GetErasure returns erasure id; ok is false when there is none.
func GetErasure(ctx context.Context, db DB, id int64) (e Erasure, ok bool, err error) {
	e, err = scanErasure(db.QueryRow(ctx, `SELECT `+erasureCols+` FROM strata.erasures WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return e, false, nil
	}
	if err != nil {
		return e, false, fmt.Errorf("catalog: erasure %d: %w", id, err)
	}
	return e, true, nil
}

// ListErasures returns the erasures of dataset ("" for all), oldest first.
func ListErasures(ctx context.Context, db DB, dataset string) ([]Erasure, error) {
	rows, err := db.Query(ctx, `SELECT `+erasureCols+` FROM strata.erasures
		WHERE ($1 = '' OR dataset = $1) ORDER BY id`, dataset)
	if err != nil {
		return nil, fmt.Errorf("catalog: list erasures: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Erasure, error) { return scanErasure(r) })
}

// ErasedSince returns, for the subject hashes of dataset erased (status
// done), the time of the latest erasure of each.
func ErasedSince(ctx context.Context, db DB, dataset string) (map[string]time.Time, error) {
	rows, err := db.Query(ctx, `SELECT subject_hmac, max(at) FROM strata.erasures
		WHERE dataset = $1 AND status = 'done' GROUP BY subject_hmac`, dataset)
	if err != nil {
		return nil, fmt.Errorf("catalog: read the erasure ledger: %w", err)
	}
	out := map[string]time.Time{}
	var h string
	var at time.Time
	_, err = pgx.ForEachRow(rows, []any{&h, &at}, func() error { out[h] = at; return nil })
	if err != nil {
		return nil, fmt.Errorf("catalog: read the erasure ledger: %w", err)
	}
	return out, nil
}

// ErasureDeletion is an object an erasure replaced, to be deleted from
// storage at NotBefore or later.
type ErasureDeletion struct {
	ErasureID int64      `json:"erasure_id"`
	Dataset   string     `json:"dataset"`
	ObjectID  int64      `json:"object_id"`
	Key       string     `json:"key"`
	NotBefore time.Time  `json:"not_before"`
	DeletedAt *time.Time `json:"deleted_at,omitempty"`
	// Type, Day and State are the object's (read, not written).
	Type  string    `json:"-"`
	Day   time.Time `json:"-"`
	State string    `json:"-"`
}

// ScheduleDeletion records, through db (the erasure's transaction), that
// object d.ObjectID is to be deleted at d.NotBefore or later.
func ScheduleDeletion(ctx context.Context, db DB, d ErasureDeletion) error {
	_, err := db.Exec(ctx, `INSERT INTO strata.erasure_deletions (erasure_id, object_id, key, not_before)
		VALUES ($1, $2, $3, $4)`, d.ErasureID, d.ObjectID, d.Key, d.NotBefore)
	if err != nil {
		return fmt.Errorf("catalog: schedule deletion of %s: %w", d.Key, err)
	}
	return nil
}

// DeletionFilter selects erasure deletions.
type DeletionFilter struct {
	Dataset   string // "" for all
	ErasureID int64  // 0 for all
	Pending   bool   // only those not done yet
	Due       bool   // only those due now by the database clock
}

// ErasureDeletions lists the deletions f selects, earliest due first.
func ErasureDeletions(ctx context.Context, db DB, f DeletionFilter) ([]ErasureDeletion, error) {
	rows, err := db.Query(ctx, `SELECT d.erasure_id, e.dataset, d.object_id, d.key, d.not_before, d.deleted_at,
		o.archive_type, o.day, o.state
		FROM strata.erasure_deletions d JOIN strata.erasures e ON e.id = d.erasure_id JOIN strata.objects o ON o.id = d.object_id
		WHERE ($1 = '' OR e.dataset = $1) AND ($2 = 0 OR d.erasure_id = $2) AND (NOT $3 OR d.deleted_at IS NULL)
		  AND (NOT $4 OR d.not_before <= now())
		ORDER BY d.not_before, d.erasure_id, d.object_id`, f.Dataset, f.ErasureID, f.Pending, f.Due)
	if err != nil {
		return nil, fmt.Errorf("catalog: list erasure deletions: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ErasureDeletion, error) {
		var d ErasureDeletion
		err := r.Scan(&d.ErasureID, &d.Dataset, &d.ObjectID, &d.Key, &d.NotBefore, &d.DeletedAt, &d.Type, &d.Day, &d.State)
		d.Day = d.Day.UTC()
		return d, err
	})
}

// StateExpired is the state of an object deleted from storage at the end
// of its retention (or an erasure's old object, once deleted).
const StateExpired = "expired"

// SetObjectState moves object id from state from to state to (nothing
// when it is not in from).
func SetObjectState(ctx context.Context, db DB, id int64, from, to string) error {
	if _, err := db.Exec(ctx, `UPDATE strata.objects SET state = $3 WHERE id = $1 AND state = $2`, id, from, to); err != nil {
		return fmt.Errorf("catalog: object %d %s -> %s: %w", id, from, to, err)
	}
	return nil
}

// FinishDeletion records that the object of d is gone from storage, or,
// with retry set, that the storage refused and when to try again.
func FinishDeletion(ctx context.Context, db DB, d ErasureDeletion, retry *time.Time) error {
	var err error
	if retry != nil {
		_, err = db.Exec(ctx, `UPDATE strata.erasure_deletions SET not_before = $3
			WHERE erasure_id = $1 AND object_id = $2`, d.ErasureID, d.ObjectID, *retry)
	} else {
		_, err = db.Exec(ctx, `UPDATE strata.erasure_deletions SET deleted_at = now()
			WHERE erasure_id = $1 AND object_id = $2 AND deleted_at IS NULL`, d.ErasureID, d.ObjectID)
	}
	if err != nil {
		return fmt.Errorf("catalog: deletion of %s: %w", d.Key, err)
	}
	return nil
}
