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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
)

// ErrBadRequest wraps every error caused by the request rather than the archive.
var ErrBadRequest = errors.New("bad request")

// ErrCorrupt is returned when an object does not match its catalog checksum.
var ErrCorrupt = errors.New("archive object is corrupt")

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
	// MaxRows, when positive, ends the stream with ErrTooManyRows after
	// that many rows.
	MaxRows int64
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
}

// Query plans req and returns a stream of its rows.
func (r *Retriever) Query(ctx context.Context, req Request) (*Rows, error) {
	if req.To.Before(req.From) {
		return nil, fmt.Errorf("%w: --to %s is before --from %s", ErrBadRequest,
			req.To.Format(time.RFC3339), req.From.Format(time.RFC3339))
	}
	from, to := req.From.UTC().Truncate(24*time.Hour), req.To.UTC().Truncate(24*time.Hour)
	objs, err := r.Catalog.List(ctx, catalog.Filter{Dataset: req.Dataset, Type: req.Type, From: &from, To: &to})
	if err != nil {
		return nil, err
	}
	kept := objs[:0]
	for _, o := range objs {
		if o.SupersededBy != nil || (o.MaxTime != nil && o.MaxTime.Before(req.From)) || (o.MinTime != nil && o.MinTime.After(req.To)) {
			continue
		}
		kept = append(kept, o)
	}
	cols, defs, err := outputColumns(kept, req.Columns)
	if err != nil {
		return nil, err
	}
	return &Rows{ctx: ctx, r: r, req: req, objs: kept, cols: cols, defs: defs}, nil
}

// outputColumns resolves the requested columns against the objects'
// schemas, or takes the union of them in first-seen order. It returns each
// output column's definition, taken from the newest object that has it.
func outputColumns(objs []catalog.Object, want []string) ([]string, []parquetio.Column, error) {
	var all []string
	defs := map[string]parquetio.Column{}
	for _, o := range objs {
		var cols []parquetio.Column
		if err := json.Unmarshal(o.Schema, &cols); err != nil {
			return nil, nil, fmt.Errorf("object %s: catalog schema: %w", o.Key, err)
		}
		for _, c := range cols {
			if _, ok := defs[c.Name]; !ok {
				all = append(all, c.Name)
			}
			defs[c.Name] = c
		}
	}
	names := want
	if len(names) == 0 {
		names = all
	}
	out := make([]parquetio.Column, 0, len(names))
	for _, c := range names {
		d, ok := defs[c]
		if !ok && len(objs) > 0 {
			return nil, nil, fmt.Errorf("%w: unknown column %q (columns: %s)", ErrBadRequest, c, strings.Join(all, ", "))
		}
		out = append(out, d)
	}
	return names, out, nil
}

// fetch downloads an object into a spool file, checking size and SHA-256
// against the catalog, and opens it for reading.
func (r *Retriever) fetch(ctx context.Context, o catalog.Object) (*os.File, error) {
	key, err := storage.ParseKey(o.Key)
	if err != nil {
		return nil, err
	}
	rc, err := r.Store.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", o.Key, err)
	}
	defer rc.Close()
	dir := r.SpoolDir
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "strata-read-*.parquet")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name()) // unlinked: gone when closed, whatever happens
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", o.Key, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != o.Bytes || sum != o.SHA256 {
		f.Close()
		return nil, fmt.Errorf("%w: %s has %d bytes with sha256 %s, the catalog recorded %d bytes with %s; run 'strata verify --deep'",
			ErrCorrupt, o.Key, n, sum, o.Bytes, o.SHA256)
	}
	return f, nil
}
