// Package archive moves rows out of PostgreSQL into Parquet objects without
// ever losing or duplicating one. Each unit of work is a job: every day of a
// partition that lies wholly before the cutoff, or every other day before
// the cutoff, read in one pass (days.go). Each day runs this state machine:
//
//  1. snapshot: BEGIN REPEATABLE READ; read the day's rows (native partitions
//     and TimescaleDB chunks are locked against writes first);
//  2. write Parquet to a local spool file, counting rows and hashing bytes;
//  3. record an intent (key, SHA-256, rows) in the catalog, committed at once;
//  4. upload create-only with the checksum, Stat it back, mark it uploaded;
//  5. in the snapshot transaction: delete exactly the rows read (the same
//     snapshot sees the same rows; a concurrent change aborts the delete with
//     a serialization error) or drop the partition, mark the object committed,
//     and COMMIT.
//
// A job runs step 5 once for all its days: a days job reads every day in
// one scan, stages each day (2 to 4), then deletes all their rows with one
// DELETE and commits. A crash before 5 leaves the rows in place and the
// objects uncommitted: the
// next run marks it orphaned, adopts it if it produces the same bytes, and
// `strata verify --repair` removes what is never adopted.
package archive

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/failpoint"
	"github.com/stratahq/strata/internal/hold"
	"github.com/stratahq/strata/internal/storage"
)

// Archiver holds what every job needs.
type Archiver struct {
	Pool    *pgxpool.Pool
	Catalog *catalog.Catalog
	Store   storage.Backend
	// Prefix is the folder under which the archive layout starts.
	Prefix storage.Key
	Log    *slog.Logger
	// Failpoints are test hooks; the zero Set does nothing.
	Failpoints failpoint.Set
	// SpoolDir holds Parquet files between writing and upload.
	SpoolDir string
	// Progress, if set, is told about each day as it completes, and, in a
	// job of several days, as its object is uploaded (Pending).
	Progress func(DayReport)
	// Observer, if set, is told when each run begins and ends (OpenLineage
	// events); see ObserveRun.
	Observer RunObserver
	// Holds, if set, puts the storage's legal hold on objects committed
	// into a held period (internal/hold); nil leaves it to the next
	// reconciliation.
	Holds *hold.Keeper
}

// RunObserver is told when a run (a row of strata.runs) begins and ends.
// Its methods must return quickly and cannot fail the run: they return
// nothing. ctx may be cancelled already when RunFinished is called.
type RunObserver interface {
	RunStarted(ctx context.Context, run RunInfo)
	RunFinished(ctx context.Context, run RunInfo, res RunResult)
}

// RunInfo identifies a run for a RunObserver.
type RunInfo struct {
	ID      int64  // strata.runs id
	Kind    string // a catalog.Lineage* kind: ingest, source_archive, analytics_archive, replay, restore
	Dataset string
	// From and To bound the period a replay or restore covers; zero otherwise.
	From, To time.Time
	// Into is the table a restore writes, when not the dataset's Layer 2 table.
	Into string
}

// RunResult is how a run ended.
type RunResult struct {
	Rows    int64
	Objects int
	Bytes   int64
	// Keys are the archive objects the run committed.
	Keys []string
	// Err is nil when the run succeeded.
	Err error
}

// ObserveRun tells a.Observer that run has started, after BeginRun, and
// returns the function to call with its outcome after FinishRun. Without an
// Observer both do nothing. Replay and restore call it as ingest and the
// archive runs do.
func (a *Archiver) ObserveRun(ctx context.Context, run RunInfo) func(RunResult) {
	if a.Observer == nil {
		return func(RunResult) {}
	}
	a.Observer.RunStarted(ctx, run)
	return func(res RunResult) { a.Observer.RunFinished(context.WithoutCancel(ctx), run, res) }
}

// runResult sums the days a run committed.
func runResult(days []DayReport, err error) RunResult {
	res := RunResult{Objects: len(days), Err: err}
	for _, d := range days {
		res.Rows += d.Rows
		res.Bytes += d.Bytes
		res.Keys = append(res.Keys, d.Key)
	}
	return res
}

// AnalyticsSpec is one dataset's Layer 2 table and its archive settings.
type AnalyticsSpec struct {
	Dataset    string
	Table      string
	TimeColumn string
	Key        []string
	// Retention: whole UTC days whose rows are all older than this move out.
	Retention time.Duration
	// ArchiveRetention: archive objects expire this long after the end of
	// their day (Expiry).
	ArchiveRetention time.Duration
	// Immutability, when not off, asks the storage to refuse deleting or
	// overwriting each object until it expires.
	Immutability storage.RetentionMode
	Compression  string
	RowGroupRows int
	// Parallelism is how many goroutines encode the days of a run (0: the
	// number of cores, at most 4).
	Parallelism int
}

// Options modify a run.
type Options struct {
	DryRun bool
	// Progress, if set, is told about each day as it completes (the
	// Service sets it as the run's Archiver.Progress).
	Progress func(DayReport)
}

// DayReport describes one day archived (or planned, in a dry run).
type DayReport struct {
	Dataset string
	Day     time.Time
	Rows    int64
	// Bytes is the object's size; in a dry run, an estimate.
	Bytes int64
	Key   string
	// Adopted is true when an identical object left by a crashed run was
	// committed instead of uploading again.
	Adopted bool
	// Dropped names the partition or chunk dropped instead of deleting rows.
	Dropped string
	// Pending is set in a progress report of a day whose object is uploaded
	// but commits later, with the other days of its job; never in a Report.
	Pending bool
}

// Report is the outcome of archiving one dataset.
type Report struct {
	Dataset string
	Type    string
	Cutoff  time.Time
	Days    []DayReport
	// Skipped is set when the run did nothing on purpose, with the reason.
	Skipped string
	// Orphaned counts uncommitted objects of crashed runs found at start.
	Orphaned int64
	// Quarantined counts source records the transform could not map, stored
	// unprocessed (source.on_transform_error quarantine).
	Quarantined int64
	// DBBytes is the table's pg_total_relation_size before the run.
	DBBytes int64
	// EstimatedRowBytes is the rows' estimated share of DBBytes (dry run).
	EstimatedRowBytes int64
}

// Rows totals the report's rows.
func (r Report) Rows() (n int64) {
	for _, d := range r.Days {
		n += d.Rows
	}
	return n
}

// Bytes totals the report's object bytes.
func (r Report) Bytes() (n int64) {
	for _, d := range r.Days {
		n += d.Bytes
	}
	return n
}

func (a *Archiver) spoolDir() (string, error) {
	dir := a.SpoolDir
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("spool folder %s: %w", dir, err)
	}
	return dir, nil
}

func (a *Archiver) logger() *slog.Logger {
	if a.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return a.Log
}
