package audit

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/actor"
)

// Entry is an action to record: what, on which dataset and period, how
// much, with what outcome. Who is acting comes from the context the entry
// is recorded with (actor.From).
type Entry struct {
	// Action names what was done (the Action* constants, or a new
	// dotted name such as "hold.add").
	Action  string
	Dataset string
	// From and To bound the period concerned; zero when none.
	From, To time.Time
	// Rows and Objects count what the action read or changed.
	Rows, Objects int64
	// Detail is a short free text (a hold's reason, a filter, dry run).
	Detail string
	// Err is the action's error; nil records ok.
	Err error
}

// The actions Strata records.
const (
	ActionRetrieve         = "retrieve"
	ActionLineage          = "lineage"
	ActionCompare          = "compare"
	ActionReplay           = "replay"
	ActionReplayApply      = "replay.apply"
	ActionRestore          = "restore"
	ActionIngest           = "ingest"
	ActionArchiveSource    = "archive.source"
	ActionArchiveAnalytics = "archive.analytics"
	ActionPurge            = "purge"
	ActionExpire           = "expire"
	ActionHoldAdd          = "hold.add"
	ActionHoldRelease      = "hold.release"
	ActionTokenCreate      = "token.create"
	ActionErase            = "erase"
	ActionTablesRebuild    = "tables.rebuild"
)

// lockKey is the advisory lock appends take ("audit" in ASCII): one
// appender at a time across processes, until its transaction ends.
const lockKey = 0x6175646974

// Trail appends records to strata.audit. It is safe for concurrent use.
type Trail struct {
	pool    *pgxpool.Pool
	anchors *Anchorer
	log     *slog.Logger
}

// New returns a Trail writing through pool. anchors, when not nil, is
// asked after each append whether the chain's head is due to be anchored
// (Anchorer.MaybeAnchor); log receives anchoring failures.
func New(pool *pgxpool.Pool, anchors *Anchorer, log *slog.Logger) *Trail {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Trail{pool: pool, anchors: anchors, log: log}
}

// Record appends one record for e, done by the actor ctx carries, in a
// transaction of its own, and returns e.Err unchanged when the record was
// written: `return rep, trail.Record(ctx, audit.Entry{...})`. When the
// record cannot be written, the error says so and that the action itself
// ended as e.Err says (the caller must not report success it cannot
// prove was recorded).
func (t *Trail) Record(ctx context.Context, e Entry) error {
	return t.RecordAs(ctx, Pending(ctx, e), e)
}

// RecordAs is Record for an action whose actor was taken earlier (rec,
// from Pending) and whose outcome is e's: its counts, detail and error.
func (t *Trail) RecordAs(ctx context.Context, rec Record, e Entry) error {
	if !Enabled {
		return e.Err
	}
	ctx = context.WithoutCancel(ctx) // a cancelled request is still recorded
	fin := Pending(ctx, e)
	rec.Rows, rec.Objects, rec.Detail, rec.Result, rec.Error = fin.Rows, fin.Objects, fin.Detail, fin.Result, fin.Error
	err := t.appendOwn(ctx, rec)
	if err != nil {
		if e.Err != nil {
			return fmt.Errorf("%w (and its audit record could not be written: %v)", e.Err, err)
		}
		return fmt.Errorf("audit: %s %s succeeded but could not be recorded: %w", e.Action, e.Dataset, err)
	}
	t.Anchor(ctx, false)
	return e.Err
}

// Anchor writes the chain's head to the storage when it is due (or always,
// when force is set: at every archive run); failures are logged, never
// returned: the records are safe in the database, and the next anchor
// covers them.
func (t *Trail) Anchor(ctx context.Context, force bool) {
	if t.anchors == nil {
		return
	}
	if err := t.anchors.MaybeAnchor(context.WithoutCancel(ctx), t.pool, force); err != nil {
		t.log.Warn("audit: anchoring the chain's head failed; the next action retries", "error", err)
	}
}

// Pending is e with its actor taken from ctx, ready for AppendTx (which
// numbers and hashes it).
func Pending(ctx context.Context, e Entry) Record {
	a := actor.From(ctx)
	r := Record{Actor: clean(a.Name), Via: clean(string(a.Via)), Addr: clean(a.Addr), Action: clean(e.Action),
		Dataset: clean(e.Dataset), From: micro(e.From), To: micro(e.To), Rows: e.Rows, Objects: e.Objects,
		Detail: clean(e.Detail), Result: ResultOK}
	if e.Err != nil {
		r.Result, r.Error = ResultError, clean(e.Err.Error())
	}
	return r
}

// AppendTx appends recs, in order, in tx: the action's own transaction, so
// its records commit with it or not at all. It takes the trail's lock,
// which tx holds until it ends: call it last, just before the commit. tx
// must be READ COMMITTED (the default), so that it reads the head as
// committed after the lock is granted. Seq, At, DBRole (current_user),
// PrevHash and Hash are set here. It returns the records as written.
func (t *Trail) AppendTx(ctx context.Context, tx pgx.Tx, recs ...Record) ([]Record, error) {
	if len(recs) == 0 || !Enabled {
		return nil, nil
	}
	return appendVia(ctx, tx, false, recs)
}

// appendOwn appends recs in a transaction of their own, in two round
// trips: BEGIN, the lock and the head's read; then the INSERT and COMMIT.
// A session left in a failed transaction is closed by the pool on
// release, never reused.
func (t *Trail) appendOwn(ctx context.Context, recs ...Record) error {
	conn, err := t.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	_, err = appendVia(ctx, conn, true, recs)
	return err
}

// sender is a transaction or a session.
type sender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

const headSQL = `SELECT clock_timestamp(), current_user::text, h.seq, h.hash
	FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT seq, hash FROM strata.audit ORDER BY seq DESC LIMIT 1) h ON true`

// appendVia takes the lock, reads the head and inserts recs through s; own
// says that s is a bare session: the transaction is begun and committed
// here.
func appendVia(ctx context.Context, s sender, own bool, recs []Record) ([]Record, error) {
	var b pgx.Batch
	if own {
		b.Queue(`BEGIN`)
	}
	b.Queue(`SELECT pg_advisory_xact_lock($1)`, int64(lockKey))
	b.Queue(headSQL)
	var now time.Time
	var role string
	var seq *int64
	var prev *string
	err := runBatch(s.SendBatch(ctx, &b), b.Len()-1, func(br pgx.BatchResults) error {
		return br.QueryRow().Scan(&now, &role, &seq, &prev)
	})
	if err != nil {
		return nil, fmt.Errorf("audit: read the chain's head: %w", err)
	}
	head, last := int64(0), Genesis
	if seq != nil && prev != nil {
		head, last = *seq, *prev
	}
	out := make([]Record, len(recs))
	for i, r := range recs {
		r.Seq, r.At, r.DBRole, r.PrevHash = head+int64(i)+1, now.UTC(), clean(role), last
		r.Hash = r.ComputeHash()
		last, out[i] = r.Hash, r
	}
	var ins pgx.Batch
	ins.Queue(insertSQL, insertArgs(out)...)
	if own {
		ins.Queue(`COMMIT`)
	}
	if err := runBatch(s.SendBatch(ctx, &ins), ins.Len(), nil); err != nil {
		return nil, fmt.Errorf("audit: append %d record(s) at %d: %w", len(out), out[0].Seq, err)
	}
	return out, nil
}

// runBatch executes the first n statements of br, then last (if any) on
// the next result, and closes br.
func runBatch(br pgx.BatchResults, n int, last func(pgx.BatchResults) error) error {
	var err error
	for i := 0; i < n && err == nil; i++ {
		_, err = br.Exec()
	}
	if err == nil && last != nil {
		err = last(br)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

const insertSQL = `INSERT INTO strata.audit (seq, at, actor, via, addr, db_role, action, dataset,
	period_from, period_to, rows, objects, result, error, detail, prev_hash, hash)
	SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[],
		$7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[], $11::bigint[], $12::bigint[],
		$13::text[], $14::text[], $15::text[], $16::text[], $17::text[])`

// insertArgs are insertSQL's arrays for recs.
func insertArgs(recs []Record) []any {
	n := len(recs)
	seq, rows, objects := make([]int64, n), make([]int64, n), make([]int64, n)
	at, from, to := make([]time.Time, n), make([]pgtype.Timestamptz, n), make([]pgtype.Timestamptz, n)
	cols := make([][]string, 11)
	for i := range cols {
		cols[i] = make([]string, n)
	}
	for i, r := range recs {
		seq[i], rows[i], objects[i], at[i] = r.Seq, r.Rows, r.Objects, r.At
		from[i], to[i] = tstz(r.From), tstz(r.To)
		for j, v := range []string{r.Actor, r.Via, r.Addr, r.DBRole, r.Action, r.Dataset, r.Result, r.Error, r.Detail, r.PrevHash, r.Hash} {
			cols[j][i] = v
		}
	}
	return []any{seq, at, cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], from, to, rows, objects,
		cols[6], cols[7], cols[8], cols[9], cols[10]}
}

func tstz(t *time.Time) pgtype.Timestamptz {
	if t == nil {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: *t, Valid: true}
}
