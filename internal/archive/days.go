package archive

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratahq/strata/internal/pgsource"
)

// runDays archives every day of a days job from one pass over the table,
// however its rows lie in the heap, and commits them all at once:
//
//  1. BEGIN REPEATABLE READ (the snapshot transaction); one SELECT of every
//     row before the cutoff, each row routed to its day's Parquet object
//     (route.go);
//  2. each day in order: intent, create-only upload, read back (stage),
//     each step committed in the catalog on its own;
//  3. in the snapshot transaction: one DELETE of every row before the
//     cutoff, which deletes exactly the rows read (a row changed since fails
//     it with a serialization error; a row inserted since is not in the
//     snapshot and stays), every object, one lineage record; COMMIT.
//
// The unit of commit is the job: a crash or an error before the COMMIT
// leaves every row in place and the uploads uncommitted, for the next run
// to adopt (the same rows give the same bytes) or verify --repair to
// remove. The run needs two connections: the snapshot transaction's, and
// one for the catalog's own commits (intents, uploads) meanwhile.
func (a *Archiver) runDays(ctx context.Context, spec AnalyticsSpec, j job, runID int64) ([]DayReport, error) {
	if max := a.Pool.Config().MaxConns; max < 2 {
		return nil, fmt.Errorf("database.url allows %d connection (pool_max_conns=%d): archiving needs at least 2 "+
			"(the snapshot the rows are read in, and the catalog's commits meanwhile); raise pool_max_conns or leave it out", max, max)
	}
	tx, release, err := a.beginRepeatableRead(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var written []*staged
	recorded := 0 // written[:recorded] have an intent in the catalog
	committed := false
	defer func() {
		for _, s := range written {
			s.cleanup()
		}
		if !committed {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			a.orphan(context.WithoutCancel(ctx), written[:recorded])
		}
	}()
	if _, err := tx.Exec(ctx, `SET LOCAL synchronize_seqscans = off`); err != nil {
		return nil, err
	}
	ex, err := newExtractor(ctx, tx, spec, j)
	if err != nil {
		return nil, err
	}
	if written, err = a.extractDays(ctx, tx, ex, spec, j); err != nil || len(written) == 0 {
		return nil, err // no rows: the planned days were emptied meanwhile
	}
	for _, s := range written {
		if err := a.stage(ctx, s, runID); err != nil {
			return nil, err // s is cleaned up and orphaned; the defer does the days before it
		}
		recorded++
		a.logger().Info("uploaded", "dataset", spec.Dataset, "day", s.day.Format(time.DateOnly),
			"rows", s.rows, "bytes", s.bytes, "key", s.obj.Key, "adopted", s.adopted)
		if a.Progress != nil {
			a.Progress(DayReport{Dataset: spec.Dataset, Day: s.day, Rows: s.rows, Bytes: s.bytes, Key: s.obj.Key, Adopted: s.adopted, Pending: true})
		}
	}
	if err := a.Failpoints.Hit("after-stage-all"); err != nil {
		return nil, err
	}
	if err := a.commitJob(ctx, tx, spec, j, written); err != nil {
		return nil, err
	}
	committed = true
	a.markCommitted(ctx, written)
	return a.confirm(ctx, written, j)
}

// extractDays reads the job's rows in one pass and writes one object per
// day, oldest first. On a plain table of at least 2 * minRangeBlocks blocks,
// for a job of more than maxDirect days, it splits the pass into up to spec.parallelism() scans of consecutive
// ctid ranges (TID range scans, PostgreSQL 14 and later), one connection
// each, all in the snapshot of tx; one range runs on tx itself, so the scan
// proceeds whatever connections the pool can spare.
func (a *Archiver) extractDays(ctx context.Context, tx pgx.Tx, ex *extractor, spec AnalyticsSpec, j job) ([]*staged, error) {
	// A job of at most maxDirect days has every day encoded as its rows
	// arrive in one scan; ranges would spill the rows of every range but
	// the first and encode them after the scan, one day on one goroutine.
	n := spec.parallelism()
	if len(j.days) <= maxDirect {
		n = 1
	}
	bounds, err := scanRanges(ctx, tx, j.rel, n)
	if err != nil {
		return nil, err
	}
	table := j.parent.String()
	if len(bounds) < 2 {
		r := a.newDayRouter(ex, spec, table, maxDirect, spillBufferBytes)
		if err := r.scan(ctx, tx, ex.scanSQL, j.upto); err != nil {
			r.abort()
			return nil, err
		}
		return finishDays([]*dayRouter{r}, spec.parallelism())
	}
	a.logger().Debug("reading in ctid ranges", "table", table, "ranges", len(bounds))
	routers := make([]*dayRouter, len(bounds))
	for i := range routers {
		direct := 0
		if i == 0 {
			direct = maxDirect
		}
		routers[i] = a.newDayRouter(ex, spec, table, direct, spillBufferBytes/len(bounds))
	}
	if err := a.scanParallel(ctx, tx, ex, j, routers, bounds); err != nil {
		for _, r := range routers {
			r.abort()
		}
		return nil, err
	}
	return finishDays(routers, spec.parallelism())
}

// minRangeBlocks is the smallest ctid range worth a scan of its own
// (2 MiB of heap).
const minRangeBlocks = 256

// scanRanges returns the first block of each ctid range the table's scan
// is split into, or nil for one plain scan: a partitioned or inherited
// table, PostgreSQL before 14, one scan asked for, or a small table.
func scanRanges(ctx context.Context, tx pgx.Tx, rel pgsource.Relation, n int) ([]uint32, error) {
	var ok bool
	var blocks int64
	err := tx.QueryRow(ctx, `SELECT c.relkind = 'r' AND current_setting('server_version_num')::int >= 140000
			AND NOT EXISTS (SELECT FROM pg_inherits WHERE inhparent = c.oid),
		pg_relation_size(c.oid) / current_setting('block_size')::int
		FROM pg_class c WHERE c.oid = $1`, rel.OID).Scan(&ok, &blocks)
	if err != nil {
		return nil, fmt.Errorf("size of %s: %w", rel, err)
	}
	n = min(n, int(blocks/minRangeBlocks))
	if !ok || n < 2 || blocks > math.MaxUint32 {
		return nil, nil
	}
	bounds := make([]uint32, n)
	for i := range bounds {
		bounds[i] = uint32(blocks * int64(i) / int64(n))
	}
	return bounds, nil
}

// scanParallel scans the ctid ranges starting at bounds into their routers,
// one range per scan: on tx, and on as many more connections (each a
// transaction importing tx's snapshot) as the pool gives within a second,
// up to one per range. The last range is open at its end: a row is in
// exactly one range whatever the table's size now.
func (a *Archiver) scanParallel(ctx context.Context, tx pgx.Tx, ex *extractor, j job, routers []*dayRouter, bounds []uint32) error {
	var snap string
	if err := tx.QueryRow(ctx, `SELECT pg_export_snapshot()`).Scan(&snap); err != nil {
		return fmt.Errorf("export snapshot: %w", err)
	}
	if !snapshotID.MatchString(snap) {
		return fmt.Errorf("exported snapshot %q has an unexpected form", snap)
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int, len(bounds))
	for i := range bounds {
		next <- i
	}
	close(next)
	work := func(q pgx.Tx) error {
		for i := range next {
			sql, args := ex.scanSQL+` AND ctid >= $2`, []any{j.upto, pgtype.TID{BlockNumber: bounds[i], Valid: true}}
			if i+1 < len(bounds) {
				sql, args = sql+` AND ctid < $3`, append(args, pgtype.TID{BlockNumber: bounds[i+1], Valid: true})
			}
			if err := routers[i].scan(ctx, q, sql, args...); err != nil {
				return fmt.Errorf("rows of blocks from %d: %w", bounds[i], err)
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	for range len(bounds) - 1 {
		wg.Go(func() {
			if err := a.importedScan(ctx, snap, work); err != nil {
				cancel(err)
			}
		})
	}
	if err := work(tx); err != nil {
		cancel(err)
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}

// importedScan runs work in a read-only transaction that imports snapshot
// snap, on a pool connection acquired within a second; none acquired is
// not an error (the other scans take the ranges).
func (a *Archiver) importedScan(ctx context.Context, snap string, work func(pgx.Tx) error) error {
	actx, cancel := context.WithTimeout(ctx, time.Second)
	conn, err := a.Pool.Acquire(actx)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			a.logger().Debug("no connection for one more scan; the others take its ranges", "err", err)
			return nil
		}
		return ctx.Err()
	}
	defer conn.Release()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SET TRANSACTION SNAPSHOT '`+snap+`'`); err != nil {
		return fmt.Errorf("import the snapshot: %w", err)
	}
	return work(tx)
}

// snapshotID is the form of pg_export_snapshot()'s answer, checked before
// it is quoted into SET TRANSACTION SNAPSHOT (which takes no parameter).
var snapshotID = regexp.MustCompile(`^[0-9A-F]+(-[0-9A-F]+)+$`)

// parallelism is archive.parallelism, or the number of cores up to 4.
func (spec AnalyticsSpec) parallelism() int {
	if spec.Parallelism > 0 {
		return spec.Parallelism
	}
	return min(runtime.NumCPU(), 4)
}

// deleteDays deletes the rows of a days job, every row before the cutoff,
// in the transaction they were read in, and checks that they are exactly
// the rows archived. A row changed since the snapshot fails the DELETE with
// a serialization error; a row inserted since is not in the snapshot and
// stays for the next run.
func deleteDays(ctx context.Context, tx pgx.Tx, j job, timeCol string, staged []*staged) error {
	if len(staged) == 0 {
		return nil
	}
	var want int64
	for _, s := range staged {
		want += s.rows
	}
	col := pgx.Identifier{timeCol}.Sanitize()
	first := staged[0].day
	span := first.Format(time.DateOnly) + " to " + staged[len(staged)-1].day.Format(time.DateOnly)
	tag, err := tx.Exec(ctx, `DELETE FROM `+j.rel.Ident()+` WHERE `+col+` >= $1 AND `+col+` < $2`, first, j.upto)
	if err != nil {
		if isSerialization(err) {
			return fmt.Errorf("rows of days %s changed while archiving; nothing was deleted, the next run archives them again: %w", span, err)
		}
		return fmt.Errorf("delete archived rows of days %s: %w", span, err)
	}
	if tag.RowsAffected() != want {
		return fmt.Errorf("delete archived rows of days %s: would delete %d rows but archived %d; rolled back", span, tag.RowsAffected(), want)
	}
	return nil
}

func isSerialization(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "40001"
}
