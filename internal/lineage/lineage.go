// Package lineage checks and repairs the link between a dataset's raw
// records and its analytics rows: compare re-runs the dataset's transform
// over the records ingested in a period and compares the result, key by
// key, with the analytics rows for those keys wherever they are now (Layer
// 2 or the analytics archive); replay does the same and, when applied,
// writes the differences back: upserts into Layer 2, and corrected archive
// objects that supersede the old ones.
//
// The work is set-based and runs in PostgreSQL, in temporary tables of one
// session, so a period far larger than memory costs disk, not memory: the
// period's records stream from the source archive and Layer 3 straight
// into COPY; the transform runs as at ingest (CROSS JOIN LATERAL, DISTINCT
// ON the key, the latest record winning); analytics rows are read by a join
// with Layer 2 and by streaming the archived days concerned into COPY; the
// comparison is one FULL JOIN. Go holds counts and at most a few samples.
//
// # Which rows are compared
//
// Expected rows are what the current transform makes of the period's
// records, the latest record per key winning. Record keys are the keys the
// period's records name in their JSON payload: a top-level field per key
// column, of the key column's name (a raw record names its analytics key
// fields like the key columns; true for the example datasets). A record
// whose payload is not JSON, or lacks a key field, or whose field does not
// read as the key column's type, contributes no record key; the report
// counts such records. Actual rows are the analytics rows whose key is an
// expected key or a record key: live ones in Layer 2, archived ones in the
// analytics archive on the UTC days of the expected rows' time column and
// of the period and, for keys found in neither, anywhere else in the
// committed analytics archive (search.go: an archived row whose time column
// moved to another day is found there, and counted as moved). When a key is
// both live and archived (a record arrived after its row was archived), the
// live row is the actual one.
//
// A key whose latest record was ingested after the period is not compared
// here: Layer 2 rightly holds what that later record made. Such keys are
// counted as later; they are compared, and replayed, with the period that
// holds their latest record. Finding them reads the records ingested after
// the period (from the source archive and Layer 3), which is done only when
// the period shows differences.
package lineage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrInvalid marks an error caused by the dataset's definition (a
// transform that lacks a key column or yields a column Layer 2 lacks, a
// missing table): the configuration or the transform needs fixing.
var ErrInvalid = errors.New("invalid dataset definition")

// ErrTransform marks an error of the transform itself: PostgreSQL refused
// its SQL or failed running it over the records (a syntax, type or data
// error, a division by zero, two rows for one key), or its output does not
// fit Layer 2. The message carries the database's own. The transform needs
// fixing; nothing was written.
var ErrTransform = errors.New("the transform fails")

// ErrBusy is returned when another process held the dataset's analytics
// lock (an archive run, a restore or another replay) for longer than
// Comparer.LockWait.
var ErrBusy = errors.New("the dataset is busy")

// Transform is a dataset's transform SQL (internal/transform.Transform).
type Transform interface {
	// Lateral returns the transform with {{source}} bound to the row outer.
	Lateral(outer string) string
	// Version identifies the transform's text.
	Version() string
	// Text is the transform as written.
	Text() string
}

// Spec is what compare and replay need to know of a dataset.
type Spec struct {
	Dataset string
	// Layer 3, as in the configuration (source.*). Table may not exist any
	// more: the records then come from the source archive alone.
	SourceTable     string
	IDColumn        string
	SourceTime      string
	PayloadColumn   string
	ProcessedColumn string
	// Layer 2 (analytics.*): its table must exist.
	AnalyticsTable string
	Key            []string
	AnalyticsTime  string
	// Retention is analytics.retention: a moved row younger than it goes
	// to Layer 2 on apply, an older one to an object of its day (all to
	// Layer 2 when zero).
	Retention time.Duration
	// Transform is the transform to run: the configured one, or a
	// candidate when Candidate is set.
	Transform Transform
	// Candidate, when set, says that Transform is a candidate tried in
	// place of the configured transform; an apply records it so.
	Candidate *Candidate
}

// Candidate describes a candidate transform: one tried (compare) or
// adopted for a period (replay --apply) instead of the dataset's
// configured transform, which stays as it is.
type Candidate struct {
	// Name says where the candidate came from (a file name, "HTTP
	// request"); a label only.
	Name string `json:"name,omitempty"`
	// ConfiguredVersion and ConfiguredPath are the dataset's configured
	// transform, unchanged by the candidate ("" when it could not be read).
	ConfiguredVersion string `json:"configured_version,omitempty"`
	ConfiguredPath    string `json:"configured_path,omitempty"`
}

// FetchRequest asks for the rows of one archive type whose time column lies
// in [From, To], with the given columns in that order.
type FetchRequest struct {
	Type     string // "source" or "analytics"
	From, To time.Time
	Columns  []string
	// Live adds the rows still in the database (Layer 3 rows not yet in a
	// source batch), each row coming once.
	Live bool
}

// Fetch streams the rows of req to w as CSV with a header line, in
// PostgreSQL's text form, as COPY ... (FORMAT csv, HEADER true) reads
// them back (strata.Rows.Write with format csv).
type Fetch func(ctx context.Context, w io.Writer, req FetchRequest) error

// SupersedeResult is what correcting archived analytics rows wrote.
type SupersedeResult struct {
	// Objects are the analytics objects written; Superseded the ones they
	// replace. Rows counts the corrected rows.
	Objects, Superseded []int64
	Rows                int64
}

// Superseder rewrites, inside tx, the committed analytics objects of the
// given UTC days that hold a key of the relation corrections (a temporary
// table with the Layer 2 columns) into new objects that supersede them
// (archive.Archiver.Supersede).
type Superseder func(ctx context.Context, tx pgx.Tx, corrections string, days []time.Time) (SupersedeResult, error)

// Comparer runs compare and replay against one database.
type Comparer struct {
	Pool  *pgxpool.Pool
	Fetch Fetch
	// Supersede corrects archived rows on apply; nil means this build
	// cannot, and an apply that needs it fails before changing anything.
	Supersede Superseder
	// Objects reads archived objects in the search for keys that moved to
	// another day; nil: only the days where the keys' rows should be are
	// read.
	Objects ObjectReader
	// Erased, when set, deletes from the table of the period's raw records
	// those of subjects erased after they were ingested (the erasure
	// ledger, internal/erasure), before anything is transformed, and
	// returns how many; SourceRecords.Erased counts them.
	Erased func(ctx context.Context, conn *pgx.Conn, table string) (int64, error)
	Log    *slog.Logger
	// LockWait is how long to wait for the dataset's analytics lock;
	// 30 seconds when zero.
	LockWait time.Duration

	// hook, when set, is called after the steps "loaded" (the period's
	// records) and "compared" (before an apply's transaction): tests run
	// a concurrent ingest there.
	hook func(ctx context.Context, step string)
}

// Request is one compare or replay.
type Request struct {
	From, To time.Time
	// Apply writes the differences back (replay --apply).
	Apply bool
	// Begin, when set, is called once the comparison is done, when an
	// apply has something to write and before it writes; it returns the
	// strata.runs row of the apply, named in its lineage record. A replay
	// that fails before (a transform that does not run, say) or has
	// nothing to write so leaves no trace.
	Begin func(ctx context.Context) (runID int64, err error)
}

// Run compares the period's transformed records with the analytics rows
// and, with req.Apply, writes the differences back in one transaction.
// Layer 3 is only read.
func (c *Comparer) Run(ctx context.Context, spec Spec, req Request) (*Report, error) {
	if req.To.Before(req.From) {
		return nil, fmt.Errorf("%w: to %s is before from %s", ErrInvalid, req.To.Format(time.RFC3339Nano), req.From.Format(time.RFC3339Nano))
	}
	pc, err := c.Pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("compare %s: %w", spec.Dataset, err)
	}
	// The session's temporary tables and the statements prepared over them
	// must not outlive the run: the connection is taken out of the pool and
	// closed, which drops them whatever happened.
	conn := pc.Hijack()
	defer conn.Close(context.WithoutCancel(ctx))
	s := &session{c: c, spec: spec, conn: conn, from: req.From.UTC(), to: req.To.UTC(), begin: req.Begin, log: c.logger().With("dataset", spec.Dataset)}
	s.rep = newReport(spec, s.from, s.to)
	if err := s.run(ctx, req.Apply); err != nil {
		return nil, fmt.Errorf("compare %s: %w", spec.Dataset, err)
	}
	return s.rep, nil
}

func (c *Comparer) logger() *slog.Logger {
	if c.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Log
}

// run is the whole of one compare or replay on s.conn.
func (s *session) run(ctx context.Context, apply bool) error {
	if err := s.prepare(ctx); err != nil {
		return err
	}
	if err := s.loadSource(ctx); err != nil {
		return err
	}
	s.step(ctx, "loaded")
	if err := s.expect(ctx); err != nil {
		return err
	}
	if err := s.recordKeys(ctx); err != nil {
		return err
	}
	lock, err := s.lock(ctx)
	if err != nil {
		return err
	}
	defer lock.Unlock(context.WithoutCancel(ctx))
	if err := s.loadActual(ctx); err != nil {
		return err
	}
	if err := s.diff(ctx); err != nil {
		return err
	}
	if err := s.summarise(ctx); err != nil {
		return err
	}
	if apply {
		s.step(ctx, "compared")
		return s.apply(ctx)
	}
	return nil
}

func (s *session) step(ctx context.Context, name string) {
	if s.c.hook != nil {
		s.c.hook(ctx, name)
	}
}
