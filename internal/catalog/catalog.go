// Package catalog is Strata's record of every archive object, kept in schema
// `strata` of the same PostgreSQL database as the archived rows, so that
// "delete the rows" and "mark the object committed" are one local transaction.
//
// Every upload is first recorded in strata.uploads and moves through
//
//	intent -> uploaded -> committed            (the happy path)
//	intent|uploaded -> orphaned -> deleted     (its transaction never committed)
//
// An upload is recorded as an intent, with its key and expected SHA-256,
// before a byte is sent, so a crash after the upload leaves an object the
// catalog knows about: the next run adopts it (same bytes) or
// `strata verify --repair` removes it. An object is committed when its row is
// inserted into strata.objects, in the same transaction that removes its rows
// from the source table; only committed objects are ever read.
package catalog

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Archive types.
const (
	TypeAnalytics = "analytics"
	TypeSource    = "source"
)

// Upload states (strata.uploads). Committed objects are rows of
// strata.objects, whose state is committed (later also expired).
const (
	StateIntent    = "intent"
	StateUploaded  = "uploaded"
	StateCommitted = "committed"
	StateOrphaned  = "orphaned"
	StateDeleting  = "deleting"
	StateDeleted   = "deleted"
)

// DB is what the catalog needs of a connection, pool or transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Catalog reads and writes the strata schema through a pool.
type Catalog struct {
	pool *pgxpool.Pool
	// locks holds the sessions of held advisory locks (see TryLock): a
	// pool of its own, so held locks never starve pool's connections, and
	// reused, so a run does not pay for a new session per lock.
	locks *pgxpool.Pool
}

// lockPoolSize bounds the lock sessions kept; beyond it a lock gets a
// session of its own.
const lockPoolSize = 16

// Open applies pending migrations (idempotently, safe when several processes
// start at once) and returns the catalog. Close releases its lock sessions.
func Open(ctx context.Context, pool *pgxpool.Pool) (*Catalog, error) {
	if err := migrate(ctx, pool); err != nil {
		return nil, err
	}
	lc := pool.Config().Copy()
	lc.MaxConns, lc.MinConns, lc.MaxConnIdleTime = lockPoolSize, 0, time.Minute
	locks, err := pgxpool.NewWithConfig(ctx, lc)
	if err != nil {
		return nil, fmt.Errorf("catalog: lock sessions: %w", err)
	}
	return &Catalog{pool: pool, locks: locks}, nil
}

// Close ends the catalog's idle lock sessions without waiting: a lock
// still held keeps its session until it is unlocked (or the process ends,
// which ends the session and releases the lock).
func (c *Catalog) Close() {
	c.locks.Reset()
	go c.locks.Close() // returns once the held sessions come back
}

// Pool returns the pool the catalog uses.
func (c *Catalog) Pool() *pgxpool.Pool { return c.pool }

// Object is one row of strata.objects.
type Object struct {
	ID                int64
	Dataset           string
	Type              string
	Day               time.Time // UTC midnight
	Key               string
	State             string
	SourceTable       string
	Rows              int64
	Bytes             int64
	SHA256            string
	MinTime, MaxTime  *time.Time
	SchemaFingerprint string
	Schema            []byte // JSON description of the columns
	TransformVersion  string
	CreatedAt         time.Time
	CommittedAt       *time.Time
	SupersededBy      *int64
	ExpiresAt         *time.Time
	RunID             *int64
	// KeyColumn names the first key column of an analytics object whose
	// smallest and largest values are KeyMin and KeyMax (PostgreSQL text
	// form); all empty when not known.
	KeyColumn, KeyMin, KeyMax string
	// RetentionMode and RetainUntil are the write-once retention the
	// object's upload asked the storage for ("" and nil: none).
	RetentionMode string
	RetainUntil   *time.Time
	// VersionID is the storage version the upload made ("" when the store
	// keeps no versions): reads ask for exactly that version.
	VersionID string
	// ColumnStats are the object's per-column file statistics as
	// internal/tables encodes them, recorded by Commit when the writer set
	// them (nil: read from the footer when first needed). Not read by List.
	ColumnStats []byte
}

const objectCols = `id, dataset, archive_type, day, key, state, source_table, rows, bytes, sha256,
	min_time, max_time, schema_fingerprint, schema, coalesce(transform_version, ''), created_at,
	committed_at, superseded_by, expires_at, run_id, coalesce(key_column, ''), coalesce(key_min, ''), coalesce(key_max, ''),
	coalesce(retention_mode, ''), retain_until, coalesce(version_id, '')`

// scanObject scans objectCols, then the columns after them into extra.
func scanObject(row pgx.Row, extra ...any) (Object, error) {
	var o Object
	err := row.Scan(append([]any{&o.ID, &o.Dataset, &o.Type, &o.Day, &o.Key, &o.State, &o.SourceTable, &o.Rows,
		&o.Bytes, &o.SHA256, &o.MinTime, &o.MaxTime, &o.SchemaFingerprint, &o.Schema,
		&o.TransformVersion, &o.CreatedAt, &o.CommittedAt, &o.SupersededBy, &o.ExpiresAt, &o.RunID,
		&o.KeyColumn, &o.KeyMin, &o.KeyMax, &o.RetentionMode, &o.RetainUntil, &o.VersionID}, extra...)...)
	o.Day = o.Day.UTC()
	return o, err
}

// NextID reserves a fresh object id (the chunk or batch number in its key).
func (c *Catalog) NextID(ctx context.Context) (int64, error) {
	var id int64
	err := c.pool.QueryRow(ctx, `SELECT nextval('strata.object_id_seq')`).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("catalog: reserve object id: %w", err)
	}
	return id, nil
}

// Upload is one row of strata.uploads: an object Strata intends to upload,
// has uploaded, or gave up on.
type Upload struct {
	ID      int64
	Dataset string
	Type    string
	Day     time.Time
	Key     string
	State   string
	Rows    int64
	Bytes   int64
	SHA256  string
}

// RecordIntent records o (ID, Key, Rows, Bytes, SHA256 set) as an intent.
// It commits at once, before the upload starts, so the catalog knows of
// every object Strata ever writes.
func (c *Catalog) RecordIntent(ctx context.Context, o *Object) error {
	_, err := c.pool.Exec(ctx, `INSERT INTO strata.uploads
		(id, dataset, archive_type, day, key, state, rows, bytes, sha256, run_id)
		VALUES ($1, $2, $3, $4, $5, 'intent', $6, $7, $8, $9)`,
		o.ID, o.Dataset, o.Type, o.Day, o.Key, o.Rows, o.Bytes, o.SHA256, o.RunID)
	if err != nil {
		return fmt.Errorf("catalog: record intent for %s: %w", o.Key, err)
	}
	return nil
}

// Readopt turns an orphaned upload back into an intent for run runID, so a
// retry that produced the same bytes reuses its key instead of writing again.
func (c *Catalog) Readopt(ctx context.Context, id int64, runID *int64) error {
	tag, err := c.pool.Exec(ctx, `UPDATE strata.uploads SET state = 'intent', run_id = $2
		WHERE id = $1 AND state = 'orphaned'`, id, runID)
	if err != nil {
		return fmt.Errorf("catalog: re-adopt upload %d: %w", id, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("catalog: re-adopt upload %d: no longer orphaned", id)
	}
	return nil
}

// SetState moves upload id from one state to another and fails if it was
// not in state from.
func SetState(ctx context.Context, db DB, id int64, from, to string) error {
	tag, err := db.Exec(ctx, `UPDATE strata.uploads SET state = $3 WHERE id = $1 AND state = $2`, id, from, to)
	if err != nil {
		return fmt.Errorf("catalog: upload %d %s -> %s: %w", id, from, to, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("catalog: upload %d %s -> %s: upload was not %s", id, from, to, from)
	}
	return nil
}

// Commit inserts o as a committed object inside tx, the transaction that
// also removes the archived rows. It is an insert, not an update, so it works
// in a REPEATABLE READ transaction whose snapshot predates the intent.
// o.ExpiresAt (nil: never), o.RetentionMode, o.RetainUntil and o.VersionID
// are recorded as set by the caller.
func Commit(ctx context.Context, tx DB, o *Object) error {
	_, err := tx.Exec(ctx, `INSERT INTO strata.objects
		(id, dataset, archive_type, day, key, state, source_table, rows, bytes, sha256,
		 min_time, max_time, schema_fingerprint, schema, transform_version, committed_at, expires_at, run_id,
		 key_column, key_min, key_max, retention_mode, retain_until, version_id, column_stats)
		VALUES ($1, $2, $3, $4, $5, 'committed', $6, $7, $8, $9, $10, $11, $12, $13, nullif($14, ''),
		        now(), $15, $16, nullif($17, ''), nullif($18, ''), nullif($19, ''), nullif($20, ''), $21, nullif($22, ''), $23)`,
		o.ID, o.Dataset, o.Type, o.Day, o.Key, o.SourceTable, o.Rows, o.Bytes, o.SHA256,
		o.MinTime, o.MaxTime, o.SchemaFingerprint, o.Schema, o.TransformVersion, o.ExpiresAt, o.RunID,
		o.KeyColumn, o.KeyMin, o.KeyMax, o.RetentionMode, o.RetainUntil, o.VersionID, o.ColumnStats)
	if err != nil {
		return fmt.Errorf("catalog: commit object %s: %w", o.Key, err)
	}
	return nil
}

// IsCommitted reports whether object id is committed: the way to learn the
// outcome of a COMMIT whose connection was lost.
func (c *Catalog) IsCommitted(ctx context.Context, id int64) (bool, error) {
	var ok bool
	err := c.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM strata.objects WHERE id = $1)`, id).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("catalog: read back object %d: %w", id, err)
	}
	return ok, nil
}

// RecordRetention records the write-once retention an object was put
// under after its upload (strata verify --repair, for objects archived
// before archive.immutability was on). It only ever extends: a recorded
// retain-until later than until is kept.
func (c *Catalog) RecordRetention(ctx context.Context, id int64, mode string, until time.Time) error {
	_, err := c.pool.Exec(ctx, `UPDATE strata.objects SET retention_mode = $2, retain_until = $3
		WHERE id = $1 AND (retain_until IS NULL OR retain_until < $3)`, id, mode, until)
	if err != nil {
		return fmt.Errorf("catalog: record the retention of object %d: %w", id, err)
	}
	return nil
}

// MarkCommitted records in strata.uploads that these uploads are committed.
// It is bookkeeping after the fact: strata.objects is the truth.
func (c *Catalog) MarkCommitted(ctx context.Context, ids []int64) error {
	_, err := c.pool.Exec(ctx, `UPDATE strata.uploads SET state = 'committed' WHERE id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("catalog: mark uploads committed: %w", err)
	}
	return nil
}

// RunLockKey names the advisory lock a run holds while it lives.
func RunLockKey(runID int64) string { return fmt.Sprintf("strata:run:%d", runID) }

// SettleDeadRuns settles the unfinished uploads of dataset/type whose run
// is no longer alive (its run lock is free): those whose object was
// committed become committed, the others orphaned. Uploads of live runs are
// left alone, so several processes may archive one dataset at once.
func (c *Catalog) SettleDeadRuns(ctx context.Context, dataset, typ string) (int64, error) {
	rows, err := c.pool.Query(ctx, `SELECT DISTINCT coalesce(run_id, 0) FROM strata.uploads
		WHERE dataset = $1 AND archive_type = $2 AND state IN ('intent', 'uploaded')`, dataset, typ)
	if err != nil {
		return 0, fmt.Errorf("catalog: find unfinished uploads of %s/%s: %w", typ, dataset, err)
	}
	runs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, fmt.Errorf("catalog: find unfinished uploads of %s/%s: %w", typ, dataset, err)
	}
	var total int64
	for _, run := range runs {
		n, err := c.settleRun(ctx, dataset, typ, run)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

func (c *Catalog) settleRun(ctx context.Context, dataset, typ string, run int64) (int64, error) {
	l, err := c.TryLock(ctx, RunLockKey(run))
	if err != nil || l == nil {
		return 0, err // nil lock: the run is alive
	}
	defer l.Unlock(context.WithoutCancel(ctx))
	if _, err := c.pool.Exec(ctx, `UPDATE strata.uploads u SET state = 'committed'
		WHERE dataset = $1 AND archive_type = $2 AND coalesce(run_id, 0) = $3 AND state IN ('intent', 'uploaded')
		  AND EXISTS (SELECT 1 FROM strata.objects o WHERE o.id = u.id)`, dataset, typ, run); err != nil {
		return 0, fmt.Errorf("catalog: settle uploads of run %d: %w", run, err)
	}
	tag, err := c.pool.Exec(ctx, `UPDATE strata.uploads SET state = 'orphaned'
		WHERE dataset = $1 AND archive_type = $2 AND coalesce(run_id, 0) = $3 AND state IN ('intent', 'uploaded')`, dataset, typ, run)
	if err != nil {
		return 0, fmt.Errorf("catalog: orphan uploads of run %d: %w", run, err)
	}
	return tag.RowsAffected(), nil
}

// FindAdoptable returns an orphaned upload of the same dataset, type and day
// whose recorded content (SHA-256 and rows) equals what a retry just produced.
func (c *Catalog) FindAdoptable(ctx context.Context, dataset, typ string, day time.Time, sha string, rows int64) (*Upload, error) {
	u, err := scanUpload(c.pool.QueryRow(ctx, `SELECT `+uploadCols+` FROM strata.uploads
		WHERE dataset = $1 AND archive_type = $2 AND day = $3 AND sha256 = $4 AND rows = $5
		  AND state = 'orphaned' ORDER BY id LIMIT 1`, dataset, typ, day, sha, rows))
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: find adoptable upload: %w", err)
	}
	return &u, nil
}

const uploadCols = `id, dataset, archive_type, day, key, state, rows, bytes, sha256`

func scanUpload(row pgx.Row) (Upload, error) {
	var u Upload
	err := row.Scan(&u.ID, &u.Dataset, &u.Type, &u.Day, &u.Key, &u.State, &u.Rows, &u.Bytes, &u.SHA256)
	u.Day = u.Day.UTC()
	return u, err
}

// UploadState returns the state of the upload with this key, if any.
func (c *Catalog) UploadState(ctx context.Context, key string) (string, bool, error) {
	var state string
	err := c.pool.QueryRow(ctx, `SELECT state FROM strata.uploads WHERE key = $1`, key).Scan(&state)
	if err == pgx.ErrNoRows {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("catalog: upload %s: %w", key, err)
	}
	return state, true, nil
}

// Uploads returns the uploads of dataset ("" for all) in the given states.
func (c *Catalog) Uploads(ctx context.Context, dataset string, states ...string) ([]Upload, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+uploadCols+` FROM strata.uploads
		WHERE ($1 = '' OR dataset = $1) AND state = ANY($2) ORDER BY id`, dataset, states)
	if err != nil {
		return nil, fmt.Errorf("catalog: list uploads: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Upload, error) { return scanUpload(r) })
}

// Filter selects objects for List.
type Filter struct {
	Dataset string
	Type    string
	States  []string // empty: committed only
	From    *time.Time
	To      *time.Time // inclusive day bounds
	// WithSuperseded also lists objects that a correction superseded
	// (they stay in storage until they expire; verify checks them).
	WithSuperseded bool
}

// List returns the objects matching f, ordered by dataset, type, day, id.
func (c *Catalog) List(ctx context.Context, f Filter) ([]Object, error) {
	return ListObjects(ctx, c.pool, f)
}

// ListObjects is List through db: a transaction's snapshot decides which
// objects are committed, so rows read in the same transaction from a table
// are exactly the ones not yet archived.
func ListObjects(ctx context.Context, db DB, f Filter) ([]Object, error) {
	states := f.States
	if len(states) == 0 {
		states = []string{StateCommitted}
	}
	rows, err := db.Query(ctx, `SELECT `+objectCols+` FROM strata.objects
		WHERE ($1 = '' OR dataset = $1) AND ($2 = '' OR archive_type = $2) AND state = ANY($3)
		  AND ($6 OR superseded_by IS NULL)
		  AND ($4::date IS NULL OR day >= $4::date) AND ($5::date IS NULL OR day <= $5::date)
		ORDER BY dataset, archive_type, day, id`, f.Dataset, f.Type, states, f.From, f.To, f.WithSuperseded)
	if err != nil {
		return nil, fmt.Errorf("catalog: list objects: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Object, error) { return scanObject(r) })
}

// MarkSuperseded records, inside the transaction that committed object by,
// that the objects ids are superseded by it: they stay in storage, listed,
// until they expire, but are never read again. Object by keeps at least the
// latest expiry of the objects it replaces (none when one of them has none;
// its own, from its day, when later), so a correction never shortens how
// long its rows are kept (the caller has set by's retain-until to match). It
// fails unless every one of ids is committed and current, so two
// corrections of the same objects cannot both commit.
func MarkSuperseded(ctx context.Context, db DB, ids []int64, by int64) error {
	tag, err := db.Exec(ctx, `UPDATE strata.objects SET superseded_by = $2
		WHERE id = ANY($1) AND state = 'committed' AND superseded_by IS NULL`, ids, by)
	if err != nil {
		return fmt.Errorf("catalog: mark objects %v superseded by %d: %w", ids, by, err)
	}
	if tag.RowsAffected() != int64(len(ids)) {
		return fmt.Errorf("catalog: mark objects %v superseded by %d: only %d of them are still committed and current (another process changed them meanwhile; run again)",
			ids, by, tag.RowsAffected())
	}
	if _, err := db.Exec(ctx, `UPDATE strata.objects b SET expires_at =
		(SELECT CASE WHEN b.expires_at IS NULL OR bool_or(o.expires_at IS NULL) THEN NULL
		             ELSE greatest(b.expires_at, max(o.expires_at)) END
		 FROM strata.objects o WHERE o.id = ANY($1))
		WHERE b.id = $2`, ids, by); err != nil {
		return fmt.Errorf("catalog: set expiry of object %d: %w", by, err)
	}
	return nil
}

// MarkRestored moves the committed, current objects ids to StateRestored
// inside the transaction that copies their rows back into Layer 2, so that
// retrieval reads those rows from the table and never from the objects as
// well. The update locks the objects' rows until the transaction ends; it
// fails unless every one of them is still committed and current.
func MarkRestored(ctx context.Context, db DB, ids []int64) error {
	tag, err := db.Exec(ctx, `UPDATE strata.objects SET state = 'restored'
		WHERE id = ANY($1) AND state = 'committed' AND superseded_by IS NULL`, ids)
	if err != nil {
		return fmt.Errorf("catalog: mark objects restored: %w", err)
	}
	if tag.RowsAffected() != int64(len(ids)) {
		return fmt.Errorf("catalog: mark objects restored: only %d of %d are still committed and current (another process changed them meanwhile; run again)",
			tag.RowsAffected(), len(ids))
	}
	return nil
}
