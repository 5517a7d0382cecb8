package strata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/audit"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/retrieve"
)

// ErrTooManyRows ends a retrieval that reached RetrieveRequest.MaxRows.
var ErrTooManyRows = retrieve.ErrTooManyRows

// RetrieveRequest mirrors the spec's retrieve_archived_data(table_name,
// data_type, start_time, end_time, columns), plus a filter and live rows.
type RetrieveRequest struct {
	// Table is the dataset name (the spec's table_name).
	Table string
	// DataType is "analytics" (the default when empty) or "source".
	DataType string
	// Start and End bound the dataset's time column, both inclusive: the
	// analytics time column, or the source ingestion time.
	Start, End time.Time
	// Columns to return, in order; empty means all.
	Columns []string
	// Where is a filter expression (docs/FILTERS.md), e.g.
	// "status = 'shipped' AND amount >= 100"; empty means none.
	Where string
	// IncludeLive adds the rows still in the database for the range (Layer
	// 2 rows not yet archived; Layer 3 rows not yet in a source batch), read
	// in the same snapshot as the catalog, so every row is returned once
	// whichever layer holds it, even while an archive runs.
	IncludeLive bool
	// MaxRows, when positive, ends the stream with ErrTooManyRows after
	// that many rows.
	MaxRows int64
	// object, when non-zero, reads only that committed object (the
	// console's per-object sample, Service.Day).
	object int64
}

// Rows is a stream of retrieved rows: archived rows first, object by
// object in day order, then live rows. Use it like database/sql's Rows, or
// range over All. Memory does not grow with the size of the result.
type Rows struct {
	rs *retrieve.Rows
	// vals converts the rows to Go values, several archive objects at once
	// (retrieve.Map); made by the first Next.
	vals *retrieve.Mapped[any]
	// done records the retrieval in the audit trail, once, at Close.
	done func(rows int64, objects int, err error) error
}

// RetrieveArchivedData returns the rows of a dataset's archive (and, with
// IncludeLive, its database table) in the time range, with the columns
// asked for, that match the filter. Each archive object is checked against
// its catalog SHA-256 before any of its rows are returned. Every column
// comes back, and is filtered, with its type now (the table's): values
// archived before an ALTER COLUMN ... TYPE are cast as that ALTER cast the
// table's rows (docs/TYPES.md); a change the archive cannot follow is
// ErrInvalid.
//
// The retrieval is recorded in the audit trail when the stream is closed,
// with the rows it returned and the objects it read (or, when it cannot
// start, with its error): Close must be called.
func (s *Service) RetrieveArchivedData(ctx context.Context, req RetrieveRequest) (*Rows, error) {
	e := audit.Entry{Action: audit.ActionRetrieve, Dataset: req.Table, From: req.Start, To: req.End, Detail: retrieveDetail(req)}
	rows, err := s.retrieve(ctx, req)
	if err != nil {
		e.Err = err
		return nil, s.record(ctx, e)
	}
	rec := audit.Pending(ctx, e) // who, now: the context may be gone at Close
	rows.done = func(n int64, objects int, err error) error {
		e.Rows, e.Objects, e.Err = n, int64(objects), err
		return s.audit.RecordAs(ctx, rec, e)
	}
	return rows, nil
}

// retrieveDetail is what a retrieval's audit record says of its request
// besides the dataset and the period.
func retrieveDetail(req RetrieveRequest) string {
	d := "type " + req.DataType
	if req.DataType == "" {
		d = "type " + catalog.TypeAnalytics
	}
	if len(req.Columns) > 0 {
		d += "; columns " + strings.Join(req.Columns, ",")
	}
	if req.Where != "" {
		d += "; where " + req.Where
	}
	if req.IncludeLive {
		d += "; live rows"
	}
	if req.object != 0 {
		d += fmt.Sprintf("; object %d (console sample)", req.object)
	}
	return d
}

func (s *Service) retrieve(ctx context.Context, req RetrieveRequest) (*Rows, error) {
	if req.DataType == "" {
		req.DataType = catalog.TypeAnalytics
	}
	ds, err := s.Dataset(req.Table)
	if err != nil {
		return nil, err
	}
	table, timeCol, err := s.layer(ds, req.DataType)
	if err != nil {
		return nil, err
	}
	r := retrieve.Request{Dataset: ds.Name, Type: req.DataType, From: req.Start, To: req.End,
		Columns: req.Columns, TimeColumn: timeCol, Where: req.Where, MaxRows: req.MaxRows,
		Table: table.String(), Object: req.object}
	shape := &retrieve.Live{}
	if req.DataType == catalog.TypeSource {
		r.RawColumns = []string{ds.Source.PayloadColumn}
		shape.ArchivedIDColumn = ds.Source.IDColumn
		shape.Exclude = []string{ds.Source.ProcessedColumn}
		shape.Computed = shaColumn(ds.Source.PayloadColumn)
	}
	if req.IncludeLive && req.object == 0 {
		r.Live = shape
	} else {
		r.Shape = shape
	}
	rt := &retrieve.Retriever{Catalog: s.cat, Store: s.store, Pool: s.pool, SpoolDir: s.spool}
	rs, err := rt.Query(ctx, r)
	if err != nil {
		if errors.Is(err, retrieve.ErrBadRequest) {
			return nil, asInvalid(err)
		}
		return nil, err
	}
	return &Rows{rs: rs}, nil
}

// shaColumn computes, for live Layer 3 rows, the raw_sha256 column that
// every source object carries.
func shaColumn(payload string) func([]parquetio.Column) []retrieve.Computed {
	return func(cols []parquetio.Column) []retrieve.Computed {
		for _, c := range cols {
			if c.Name == payload {
				return []retrieve.Computed{{
					Column: parquetio.Column{Name: archive.ShaColumn, TypeOID: 25, TypeName: "text", TypType: 'b'},
					SQL:    archive.ShaExpr(payload, c.TypeOID),
				}}
			}
		}
		return nil
	}
}

// Columns returns the names of the columns, in output order.
func (r *Rows) Columns() []string { return r.rs.Columns() }

// Next advances to the next row; false at the end or on error (see Err).
func (r *Rows) Next() bool {
	if r.vals == nil {
		r.vals = retrieve.Map(r.rs, len(r.rs.Columns()), func() func([]any, []parquetio.Value) []any {
			return appendGoValues
		})
	}
	return r.vals.Next()
}

// appendGoValues appends the Go value of each of row's values to dst.
func appendGoValues(dst []any, row []parquetio.Value) []any {
	for _, v := range row {
		dst = append(dst, goValue(v))
	}
	return dst
}

// Values returns the current row as Go values, one per column: nil for
// NULL, bool, int64, float64, string (text, numeric, interval, uuid, enum),
// time.Time (UTC; timestamp, timestamptz, date), []byte (bytea),
// json.RawMessage (json, jsonb) and []any for arrays. The slice is reused
// by the next call to Next.
func (r *Rows) Values() []any {
	if r.vals == nil {
		return nil
	}
	return r.vals.Row()
}

// Err returns the error that ended the stream, if any: ErrInvalid when
// the request cannot be answered as asked (an archived value that cannot
// be cast to its column's type now, for instance).
func (r *Rows) Err() error {
	err := r.rs.Err()
	if errors.Is(err, retrieve.ErrBadRequest) {
		return asInvalid(err)
	}
	return err
}

// Close releases the stream's files and its database snapshot, and
// records the retrieval in the audit trail (once; later calls only
// release). An error says the record could not be written.
func (r *Rows) Close() error {
	streamErr := r.Err()
	if r.vals != nil {
		r.vals.Close()
	}
	err := r.rs.Close()
	if done := r.done; done != nil {
		r.done = nil
		if aerr := done(r.Count(), r.Objects(), streamErr); aerr != nil && aerr != streamErr {
			err = errors.Join(err, aerr)
		}
	}
	return err
}

// Count returns how many rows were returned so far.
func (r *Rows) Count() int64 { return r.rs.Count() }

// Objects returns how many archive objects the retrieval reads.
func (r *Rows) Objects() int { return r.rs.Objects() }

// ArchivedRowsAtMost is an upper bound of the archived rows the retrieval
// can return (before the time filter, the where filter and live rows).
func (r *Rows) ArchivedRowsAtMost() int64 { return r.rs.ArchivedRowsAtMost() }

// All returns an iterator over the rows as column name -> Go value maps
// (see Values); it stops at the first error, which it yields.
func (r *Rows) All() iter.Seq2[map[string]any, error] {
	return func(yield func(map[string]any, error) bool) {
		cols := r.Columns()
		for r.Next() {
			m := make(map[string]any, len(cols))
			for i, v := range r.Values() {
				m[cols[i]] = v
			}
			if !yield(m, nil) {
				return
			}
		}
		if err := r.Err(); err != nil {
			yield(nil, err)
		}
	}
}

// Write streams the rows to w as jsonl, csv or parquet and returns how many
// it wrote (see 'strata retrieve --help' for the formats).
func (r *Rows) Write(w io.Writer, format string) (int64, error) {
	n, err := retrieve.Write(w, r.rs, format)
	if errors.Is(err, retrieve.ErrBadRequest) {
		err = asInvalid(err)
	}
	return n, err
}

// goValue converts an archived value to a Go value (see Rows.Values).
func goValue(v parquetio.Value) any {
	if v.IsNull() {
		return nil
	}
	if v.IsArray() {
		out := make([]any, len(v.Elems()))
		for i, e := range v.Elems() {
			out[i] = goValue(e)
		}
		return out
	}
	switch v.Kind() {
	case parquetio.KindBool:
		return v.Bool()
	case parquetio.KindInt16, parquetio.KindInt32, parquetio.KindInt64:
		return v.Int64()
	case parquetio.KindFloat32, parquetio.KindFloat64:
		return v.Float64()
	case parquetio.KindTimestamp, parquetio.KindTimestamptz, parquetio.KindDate:
		if t, ok := v.Time(); ok {
			return t
		}
		return string(v.AppendText(nil)) // infinity
	case parquetio.KindBytea:
		return append([]byte(nil), v.Bytes()...)
	case parquetio.KindJSON, parquetio.KindJSONB:
		return json.RawMessage(append([]byte(nil), v.Bytes()...))
	}
	return string(v.AppendText(nil))
}

// CatalogFilter selects catalog objects; empty fields match everything.
type CatalogFilter struct {
	Dataset string
	Type    string
	// From and To bound the objects' days (UTC), inclusive; zero is open.
	From, To time.Time
}

// ListCatalog returns the committed, current archive objects matching f,
// ordered by dataset, type, day and id.
func (s *Service) ListCatalog(ctx context.Context, f CatalogFilter) ([]catalog.Object, error) {
	if f.Dataset != "" {
		if _, err := s.Dataset(f.Dataset); err != nil {
			return nil, err
		}
	}
	if f.Type != "" && f.Type != catalog.TypeAnalytics && f.Type != catalog.TypeSource {
		return nil, invalid("archive type %q: use analytics or source", f.Type)
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return nil, invalid("to %s is before from %s", f.To.Format(time.RFC3339), f.From.Format(time.RFC3339))
	}
	cf := catalog.Filter{Dataset: f.Dataset, Type: f.Type}
	if !f.From.IsZero() {
		d := f.From.UTC().Truncate(24 * time.Hour)
		cf.From = &d
	}
	if !f.To.IsZero() {
		d := f.To.UTC().Truncate(24 * time.Hour)
		cf.To = &d
	}
	return s.cat.List(ctx, cf)
}
