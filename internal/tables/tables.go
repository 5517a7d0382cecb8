// Package tables keeps a dataset's archive published as lakehouse tables
// (Delta Lake and Apache Iceberg) in step with the catalog, so that engines
// read exactly the rows a retrieval returns without Strata running.
//
// The catalog is the truth. A [Table] is what one table (a dataset and an
// archive type) must list: the catalog's committed, current objects, with
// their statistics and the schema they share. Each [Format] makes its table
// list exactly that in one commit when it does not already, so publishing
// after a crash and a rebuild are the same call: the next run repairs what
// an interrupted one left. A normal publish is cheaper: it loads only the
// objects changed since the publication recorded ([LoadChanges]) and the
// format commits them onto the table it recorded then, or, when the table
// is not that one ([ErrStale]), the whole Table is published instead.
package tables

import (
	"context"
	"errors"
	"time"

	"github.com/stratahq/strata/internal/parquetio"
)

// Object is one committed, current archive object as a table lists it. Its
// bytes are never copied: a table refers to the object where it lies.
type Object struct {
	ID        int64     // strata.objects.id
	Key       string    // storage key, {prefix}/{type}/{dataset}/YYYY/MM/DD/name.parquet
	Path      string    // Key relative to the table's root: YYYY/MM/DD/name.parquet
	Day       time.Time // UTC midnight: the partition value
	Rows      int64
	Bytes     int64
	Committed time.Time
	// Columns are the file's statistics per column, in the file's column
	// order; empty when not known (a format then publishes none).
	Columns []ColumnStats
}

// ColumnStats are one column's statistics over a whole file (every row
// group merged). Min and Max are set only when HasMinMax, under the same
// rules as parquetio.ColumnStats.
type ColumnStats struct {
	Name      string
	NullCount int64
	HasMinMax bool
	Min, Max  parquetio.Value
}

// Table is what the table of one dataset and archive type must list.
type Table struct {
	Dataset string
	Type    string // "analytics" or "source"
	// Root is the storage key of the table's root,
	// {prefix}/{type}/{dataset}; object paths are relative to it.
	Root string
	// TimeColumn is the column whose UTC day partitions the objects.
	TimeColumn string
	// Columns is the current schema: every column any listed object has,
	// in order, columns added later at the end.
	Columns []parquetio.Column
	// Objects are exactly the objects the table must list, by ID; when
	// Incremental, only those to add.
	Objects []Object
	// Version is the catalog's change number this state reflects; a
	// format records it with its commit so a publish can tell it is done.
	Version int64
	// Snapshot is the PostgreSQL snapshot the objects were read in; the
	// next incremental publish reads the changes it did not see.
	Snapshot string
	// Count is how many objects the table lists once published.
	Count int64

	// Incremental marks a Table that holds the changes since the
	// publication recorded as Base: Objects are to be added, Removed to be
	// removed (a removed object the table does not list is no error), and
	// Columns is still the whole schema.
	Incremental bool
	Removed     []Object
	// Unsure is set when some of Objects may be listed already (objects
	// that were there at the last publication, left the current objects
	// and came back): a format that must not list a file twice checks
	// them against the table.
	Unsure bool
	// Base is the format's state of the table recorded with the last
	// publication (what Publish returned then); set by the Publisher for
	// an incremental publish.
	Base string
}

// ErrStale is what a Format returns for an incremental Table whose Base is
// not the table on storage (a crash after the table's commit and before
// the publication was recorded, a table changed or damaged by hand): the
// Publisher then publishes the whole Table, which repairs it.
var ErrStale = errors.New("the table is not the one last recorded as published")

// Format is one lakehouse table format.
type Format interface {
	// Name is "delta" or "iceberg".
	Name() string
	// Publish makes the table list exactly t.Objects with t.Columns as
	// its schema, in one commit (adds, removes and the schema change
	// together), and does nothing when it already does. It must be safe to
	// call again after a crash at any point. For an incremental t it
	// commits t's changes onto the table it left as t.Base, or returns
	// ErrStale without writing when the table is not that one. It returns
	// its state of the table now (recorded, and given back as Base next
	// time), "" when there is no table.
	Publish(ctx context.Context, t Table) (state string, err error)
	// Listed returns the storage keys the table lists now (nil, nil when
	// the table does not exist yet), for verify.
	Listed(ctx context.Context, dataset, typ string) ([]string, error)
}
