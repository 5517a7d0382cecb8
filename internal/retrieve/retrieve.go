// Package retrieve reads archived rows back: it picks the committed objects
// of a dataset whose day and recorded min/max time overlap the requested
// range, verifies each object's SHA-256 against the catalog before trusting a
// byte of it, reads only the requested columns, skips row groups by their
// time statistics, keeps exactly the rows in range, and merges files written
// under different schemas by column name (a column a file lacks reads as NULL).
// Rows stream: memory does not depend on the size of the result.
package retrieve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
)

// ErrBadRequest wraps every error caused by the request rather than the archive.
var ErrBadRequest = errors.New("bad request")

// requestError marks an error as ErrBadRequest without changing its
// message, which is written for the user.
type requestError struct{ err error }

func (e requestError) Error() string   { return e.err.Error() }
func (e requestError) Unwrap() []error { return []error{ErrBadRequest, e.err} }

func badRequest(err error) error { return requestError{err} }

// ErrCorrupt is returned when an object does not match its catalog
// checksum (it is storage.ErrChecksum).
var ErrCorrupt = storage.ErrChecksum

// ErrTooManyRows ends a stream that reached Request.MaxRows.
var ErrTooManyRows = errors.New("the result has more rows than allowed")

// Request selects archived rows.
type Request struct {
	Dataset string
	Type    string // catalog.TypeAnalytics or catalog.TypeSource
	// From and To bound the time column, both inclusive.
	From, To time.Time
	// Columns to return, in order; empty means every column.
	Columns []string
	// TimeColumn is the column the archive is partitioned by.
	TimeColumn string
	// RawColumns are rendered in JSON output as strings holding their bytes
	// exactly (the source archive's raw payload), not as embedded JSON.
	RawColumns []string
	// Where is a filter expression (package filter); empty means none.
	Where string
	// Table is the dataset's table in the database, as config.TableName
	// prints it; its columns type-check the filter and, with Live, its
	// rows not yet archived join the result.
	Table string
	// Live, when set, adds the table's rows in range that are not archived,
	// read in one snapshot with the catalog.
	Live *Live
	// Shape, when Live is nil, says how the table's columns map to the
	// archive's (Live's Exclude and Computed; its other fields unused), so
	// that requested columns are checked against the table even when the
	// period has no object. Nil: the table's columns as they are.
	Shape *Live
	// MaxRows, when positive, ends the stream with ErrTooManyRows after
	// that many rows.
	MaxRows int64
	// Object, when non-zero, reads only the current committed object with
	// this id among those the range selects (the console's sample of one
	// object); no live rows are read then.
	Object int64
}

// Live says how to read the rows of Request.Table that are not archived yet.
type Live struct {
	// ArchivedIDColumn, for a Layer 3 table, names the id column: rows
	// whose id is in strata.source_archived for the dataset are in the
	// archive already and are skipped. Empty for a Layer 2 table, whose
	// archived rows are deleted in the transaction that commits them.
	ArchivedIDColumn string
	// Exclude lists table columns the archive does not keep (Layer 3's
	// processed flag).
	Exclude []string
	// Computed adds columns that the archive has and the table lacks,
	// computed in SQL from the table's columns (the source archive's
	// raw_sha256).
	Computed func(cols []parquetio.Column) []Computed
}

// Computed is a column computed in SQL for live rows.
type Computed struct {
	Column parquetio.Column
	SQL    string
}

// Retriever reads from a catalog and its storage.
type Retriever struct {
	Catalog *catalog.Catalog
	Store   storage.Backend
	// Pool reads the table's schema and live rows; may be nil when no
	// request sets Table.
	Pool *pgxpool.Pool
	// SpoolDir holds each object while it is verified and read.
	SpoolDir string
	// Parallelism is how many objects a write as CSV or JSON lines
	// fetches, reads and encodes at once, its output in order all the
	// same (parallel.go); 0 means the number of cores, at most 4.
	Parallelism int
	chunkBytes  int // a parallel write's chunk size; 0: chunkBytes
}

// Query plans req and returns a stream of its rows. With req.Live, the
// catalog and the table are read in one REPEATABLE READ snapshot that the
// stream holds until Close: an object committed after it is not read, and
// its rows, deleted in that same commit, are still live in the snapshot, so
// every row is returned exactly once whatever archives meanwhile.
func (r *Retriever) Query(ctx context.Context, req Request) (rs *Rows, err error) {
	if req.To.Before(req.From) {
		return nil, badRequest(fmt.Errorf("--to %s is before --from %s", req.To.Format(time.RFC3339), req.From.Format(time.RFC3339)))
	}
	req.From, req.To = req.From.UTC(), req.To.UTC()
	expr, err := parseWhere(req.Where)
	if err != nil {
		return nil, err
	}
	stream := &Rows{ctx: ctx, r: r, req: req, fromMicros: ceilMicros(req.From), toMicros: floorMicros(req.To)}
	defer func() {
		if err != nil {
			stream.Close() // ends the snapshot
		}
	}()
	rs = stream
	var db catalog.DB
	if r.Pool != nil {
		db = r.Pool
	}
	if req.Live != nil {
		if r.Pool == nil {
			return nil, fmt.Errorf("retrieve: live rows need a database pool")
		}
		if rs.tx, err = r.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}); err != nil {
			return nil, fmt.Errorf("retrieve: begin snapshot: %w", err)
		}
		db = rs.tx
	}
	if rs.objs, err = r.objects(ctx, db, req); err != nil {
		return nil, err
	}
	tableCols, err := r.tableColumns(ctx, db, req)
	if err != nil {
		return nil, err
	}
	var liveCols []parquetio.Column
	if req.Live != nil {
		liveCols = req.Live.columns(tableCols)
	}
	targets, err := targetColumns(rs.objs, tableCols, liveCols)
	if err != nil {
		return nil, err
	}
	shapeCols := tableCols
	if shape := req.Live; shape != nil || req.Shape != nil {
		if shape == nil {
			shape = req.Shape
		}
		shapeCols = shape.columns(tableCols)
	}
	if rs.cols, rs.defs, err = outputColumns(rs.objs, liveCols, shapeCols, req.Columns, targets); err != nil {
		return nil, err
	}
	if rs.filter, err = bindWhere(expr, targets); err != nil {
		return nil, err
	}
	needed := slices.Clone(rs.cols)
	if rs.filter != nil {
		needed = append(needed, rs.filter.Columns()...)
	}
	if rs.casts, err = planCasts(rs.objs, targets, needed); err != nil {
		return nil, err
	}
	if req.Live != nil {
		rs.live = &liveQuery{cols: liveCols, table: req.Table}
	}
	return rs, nil
}

// Timestamps are stored as int64 microseconds since 1970; times outside
// what that holds (about ±292,000 years) clamp to its ends.
var (
	minMicros = time.UnixMicro(math.MinInt64 + 1)
	maxMicros = time.UnixMicro(math.MaxInt64 - 1)
)

// floorMicros is the last microsecond at or before t.
func floorMicros(t time.Time) int64 {
	if t.Before(minMicros) {
		return math.MinInt64 + 1
	}
	if t.After(maxMicros) {
		return math.MaxInt64 - 1
	}
	return t.UnixMicro() // nanoseconds in [0, 1e9): rounds down, before 1970 too
}

// ceilMicros is the first microsecond at or after t.
func ceilMicros(t time.Time) int64 {
	us := floorMicros(t)
	if t.Nanosecond()%1000 != 0 && us < math.MaxInt64-1 && !t.Before(minMicros) {
		us++
	}
	return us
}

// objects lists the committed objects whose day and min/max time overlap
// the range.
func (r *Retriever) objects(ctx context.Context, db catalog.DB, req Request) ([]catalog.Object, error) {
	from, to := req.From.Truncate(24*time.Hour), req.To.Truncate(24*time.Hour)
	f := catalog.Filter{Dataset: req.Dataset, Type: req.Type, From: &from, To: &to}
	var objs []catalog.Object
	var err error
	if db == nil {
		objs, err = r.Catalog.List(ctx, f)
	} else {
		objs, err = catalog.ListObjects(ctx, db, f)
	}
	if err != nil {
		return nil, err
	}
	kept := objs[:0]
	for _, o := range objs {
		if (req.Object != 0 && o.ID != req.Object) || o.SupersededBy != nil || (o.MaxTime != nil && o.MaxTime.Before(req.From)) || (o.MinTime != nil && o.MinTime.After(req.To)) {
			continue
		}
		kept = append(kept, o)
	}
	return kept, nil
}

// outputColumns resolves the requested columns against the objects'
// schemas, the live columns and the table's columns now (a column added
// since the objects were written is NULL in them), or takes the union of
// the objects' and the live columns in first-seen order. It returns each
// output column's definition now (targets). A requested column that none
// of them has is a bad request even when the period holds nothing.
func outputColumns(objs []catalog.Object, live, table []parquetio.Column, want []string,
	targets map[string]parquetio.Column) ([]string, []parquetio.Column, error) {
	all, err := schemaUnion(objs, live)
	if err != nil {
		return nil, nil, err
	}
	names := want
	if len(names) == 0 {
		names = all
	}
	known, err := schemaUnion(objs, append(slices.Clone(live), table...))
	if err != nil {
		return nil, nil, err
	}
	out := make([]parquetio.Column, 0, len(names))
	for _, c := range names {
		d := targets[c]
		if !slices.Contains(known, c) && len(known) > 0 {
			return nil, nil, badRequest(fmt.Errorf("unknown column %q (columns: %s)", c, strings.Join(known, ", ")))
		}
		out = append(out, d)
	}
	return names, out, nil
}

// schemaUnion returns the column names of the objects' schemas and extra
// columns in first-seen order.
func schemaUnion(objs []catalog.Object, extra []parquetio.Column) ([]string, error) {
	var all []string
	seen := map[string]bool{}
	add := func(cols []parquetio.Column) {
		for _, c := range cols {
			if !seen[c.Name] {
				all = append(all, c.Name)
				seen[c.Name] = true
			}
		}
	}
	for _, o := range objs {
		cols, err := objectColumns(o)
		if err != nil {
			return nil, err
		}
		add(cols)
	}
	add(extra)
	return all, nil
}

// fetch downloads an object into a spool file, checking size and SHA-256
// against the catalog, and opens it for reading.
func (r *Retriever) fetch(ctx context.Context, o catalog.Object) (*os.File, error) {
	key, err := storage.ParseKey(o.Key)
	if err != nil {
		return nil, err
	}
	return storage.Fetch(ctx, r.Store, key, o.VersionID, o.Bytes, o.SHA256, r.SpoolDir)
}
