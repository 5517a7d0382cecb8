package overview

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
)

// ListLimit bounds the failed runs and unfinished uploads listed (their
// counts are exact).
const ListLimit = 20

// FailedWithin is how far back failed runs count.
const FailedWithin = 30 * 24 * time.Hour

// Integrity is what says whether anything is wrong.
type Integrity struct {
	// LastVerify is the latest strata verify run; nil when none recorded.
	LastVerify *Run
	// FailedRuns are runs that failed within FailedWithin, newest first
	// (at most ListLimit); Failed counts them all.
	FailedRuns []Run
	Failed     int64
	// Unfinished are uploads that never committed (intent, uploaded or
	// orphaned): left by interrupted runs, or in flight now; oldest first,
	// at most ListLimit; Uploads counts them all. strata verify --repair
	// removes the orphans.
	Unfinished []Upload
	Uploads    int64
}

// Run is one row of strata.runs.
type Run struct {
	ID          int64
	Command     string
	Dataset     string
	Type        string
	Status      string // running, ok or failed
	StartedAt   time.Time
	FinishedAt  *time.Time
	Rows, Bytes int64
	Objects     int
	Error       string
}

// Duration is how long the run took; 0 while it runs.
func (r Run) Duration() time.Duration {
	if r.FinishedAt == nil {
		return 0
	}
	return r.FinishedAt.Sub(r.StartedAt)
}

// Upload is an upload that never committed.
type Upload struct {
	Dataset, Type string
	Day           time.Time
	Key, State    string
	CreatedAt     time.Time
	// RunStatus is its run's status ("" without a run).
	RunStatus string
}

const runCols = `id, command, coalesce(dataset, ''), coalesce(archive_type, ''), status, started_at, finished_at,
	rows, bytes, objects, coalesce(error, '')`

func scanRuns(rows pgx.Rows) ([]Run, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Run, error) {
		var x Run
		err := r.Scan(&x.ID, &x.Command, &x.Dataset, &x.Type, &x.Status, &x.StartedAt, &x.FinishedAt,
			&x.Rows, &x.Bytes, &x.Objects, &x.Error)
		return x, err
	})
}

// integrity reads the integrity signals of the datasets names (a verify
// of all datasets counts for each).
func integrity(ctx context.Context, tx pgx.Tx, names []string) (Integrity, error) {
	var in Integrity
	rows, _ := tx.Query(ctx, `SELECT `+runCols+` FROM strata.runs
		WHERE command = 'verify' AND (dataset = '' OR dataset IS NULL OR dataset = ANY($1))
		ORDER BY started_at DESC, id DESC LIMIT 1`, names)
	v, err := scanRuns(rows)
	if err != nil {
		return in, fmt.Errorf("read the last verify: %w", err)
	}
	if len(v) > 0 {
		in.LastVerify = &v[0]
	}
	rows, _ = tx.Query(ctx, `SELECT `+runCols+`, count(*) OVER () FROM strata.runs
		WHERE status = 'failed' AND started_at > now() - $2 * interval '1 second' AND (dataset = ANY($1) OR coalesce(dataset, '') = '')
		ORDER BY started_at DESC, id DESC LIMIT $3`, names, FailedWithin.Seconds(), ListLimit)
	in.FailedRuns, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Run, error) {
		var x Run
		err := r.Scan(&x.ID, &x.Command, &x.Dataset, &x.Type, &x.Status, &x.StartedAt, &x.FinishedAt,
			&x.Rows, &x.Bytes, &x.Objects, &x.Error, &in.Failed)
		return x, err
	})
	if err != nil {
		return in, fmt.Errorf("read the failed runs: %w", err)
	}
	rows, _ = tx.Query(ctx, `SELECT u.dataset, u.archive_type, u.day, u.key, u.state, u.created_at,
			coalesce(r.status, ''), count(*) OVER ()
		FROM strata.uploads u LEFT JOIN strata.runs r ON r.id = u.run_id
		WHERE u.state = ANY($2) AND u.dataset = ANY($1)
		ORDER BY u.created_at, u.id LIMIT $3`, names,
		[]string{catalog.StateIntent, catalog.StateUploaded, catalog.StateOrphaned}, ListLimit)
	in.Unfinished, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Upload, error) {
		var u Upload
		err := r.Scan(&u.Dataset, &u.Type, &u.Day, &u.Key, &u.State, &u.CreatedAt, &u.RunStatus, &in.Uploads)
		u.Day = u.Day.UTC()
		return u, err
	})
	if err != nil {
		return in, fmt.Errorf("read the unfinished uploads: %w", err)
	}
	return in, nil
}

// RecentRuns returns the last perJob runs of every (command, dataset,
// archive type) among the datasets names, and with global the runs of no
// dataset (a verify of every dataset), newest first, in one read.
func RecentRuns(ctx context.Context, pool catalog.DB, names []string, global bool, perJob int) ([]Run, error) {
	rows, _ := pool.Query(ctx, `SELECT `+runCols+` FROM (
			SELECT *, row_number() OVER (PARTITION BY command, dataset, archive_type ORDER BY started_at DESC, id DESC) AS n
			FROM strata.runs WHERE dataset = ANY($1) OR ($3 AND coalesce(dataset, '') = '')) r
		WHERE n <= $2 ORDER BY dataset, command, archive_type, started_at DESC, id DESC`, names, perJob, global)
	out, err := scanRuns(rows)
	if err != nil {
		return nil, fmt.Errorf("overview: recent runs: %w", err)
	}
	return out, nil
}
