package parquetio

import (
	"fmt"
	"io"
	"maps"
	"strconv"

	"github.com/parquet-go/parquet-go"
)

// Reader reads a Parquet file written by Writer. It is safe for concurrent
// use by several RowIters as long as the io.ReaderAt is.
type Reader struct {
	f    *parquet.File
	s    *Schema
	meta map[string]string
}

// ColumnStats are a row group's statistics for one column. Min and Max are
// present (HasMinMax) for scalar columns whose stored order is their
// PostgreSQL order: integers, floats, booleans, dates, times, timestamps and
// uuid; text, enum and bytea compare bytewise (the C collation), not by the
// database's collation. numeric, interval, json and arrays have none.
// NullCount counts NULLs (for arrays, also empty arrays and NULL elements).
type ColumnStats struct {
	Min, Max  Value
	NullCount int64
	HasMinMax bool
}

// Open reads the footer of a Strata Parquet file of the given size and
// rebuilds its Schema from the file's own KeySchema metadata.
func Open(r io.ReaderAt, size int64) (*Reader, error) { return OpenWith(r, size, OpenOptions{}) }

// OpenOptions tune how a file is read.
type OpenOptions struct {
	// ReadBufferSize is the buffer each column chunk is read through
	// (parquet-go's default, 4 KiB, when 0). Larger buffers make fewer,
	// larger reads of the io.ReaderAt: a 2 MB file read through 4 KiB
	// buffers costs hundreds of system calls per column.
	ReadBufferSize int
	// ReadAhead reads, decompresses and decodes each column's next page in
	// a goroutine of its own while the current page's values are used
	// (parquet-go's ReadModeAsync), so reading a file can use a second
	// core.
	ReadAhead bool
	// BloomFilters reads the file's bloom filters (a few bytes a row
	// group, read at open) for Reader.MayHoldAny; skipped otherwise.
	BloomFilters bool
}

// OpenWith is Open with options.
func OpenWith(r io.ReaderAt, size int64, opts OpenOptions) (*Reader, error) {
	fopts := []parquet.FileOption{parquet.SkipBloomFilters(!opts.BloomFilters), parquet.PrefetchBloomFilters(opts.BloomFilters),
		parquet.SkipPageIndex(true)}
	if opts.ReadBufferSize > 0 {
		fopts = append(fopts, parquet.ReadBufferSize(opts.ReadBufferSize))
	}
	if opts.ReadAhead {
		fopts = append(fopts, parquet.FileReadMode(parquet.ReadModeAsync))
	}
	f, err := parquet.OpenFile(r, size, fopts...)
	if err != nil {
		return nil, fmt.Errorf("open parquet file: %w", err)
	}
	meta := make(map[string]string, len(f.Metadata().KeyValueMetadata))
	for _, kv := range f.Metadata().KeyValueMetadata {
		meta[kv.Key] = kv.Value
	}
	if v := meta[KeyFormatVersion]; v != FormatVersion {
		return nil, fmt.Errorf("open parquet file: %s is %q, this Strata reads %q: "+
			"the file was not written by Strata or needs a newer Strata", KeyFormatVersion, v, FormatVersion)
	}
	s, err := ParseSchemaJSON([]byte(meta[KeySchema]))
	if err != nil {
		return nil, fmt.Errorf("open parquet file: %s: %w", KeySchema, err)
	}
	if err := checkLeaves(f, s); err != nil {
		return nil, err
	}
	return &Reader{f: f, s: s, meta: meta}, nil
}

// checkLeaves verifies that the file's leaf columns are the schema's
// columns, in order, one leaf each.
func checkLeaves(f *parquet.File, s *Schema) error {
	leaves := f.Schema().Columns()
	if len(leaves) != len(s.cols) {
		return fmt.Errorf("open parquet file: %d leaf columns for %d described columns: the file is damaged", len(leaves), len(s.cols))
	}
	for i, path := range leaves {
		if len(path) == 0 || path[0] != s.cols[i].Name {
			return fmt.Errorf("open parquet file: leaf %d is %v, described as %q: the file is damaged", i, path, s.cols[i].Name)
		}
	}
	return nil
}

// Metadata returns a copy of the file's key-value metadata.
func (r *Reader) Metadata() map[string]string { return maps.Clone(r.meta) }

// Schema is the schema the file was written with.
func (r *Reader) Schema() *Schema { return r.s }

// NumRows is the number of rows in the file.
func (r *Reader) NumRows() int64 { return r.f.NumRows() }

// RowGroups is the number of row groups.
func (r *Reader) RowGroups() int { return len(r.f.RowGroups()) }

// RowGroupRows is the number of rows in row group i.
func (r *Reader) RowGroupRows(i int) int64 { return r.f.RowGroups()[i].NumRows() }

// RowGroupStats returns the statistics of every column of row group i,
// keyed by column name.
func (r *Reader) RowGroupStats(i int) map[string]ColumnStats {
	md := r.f.Metadata().RowGroups[i]
	out := make(map[string]ColumnStats, len(r.s.cols))
	for j, c := range r.s.cols {
		st := md.Columns[j].MetaData.Statistics
		cs := ColumnStats{NullCount: st.NullCount}
		t := r.s.types[j]
		if hasOrder(t) && st.MinValue != nil && st.MaxValue != nil {
			mn, ok1 := fromStatBytes(t.kind, st.MinValue)
			mx, ok2 := fromStatBytes(t.kind, st.MaxValue)
			cs.Min, cs.Max, cs.HasMinMax = mn, mx, ok1 && ok2
		}
		out[c.Name] = cs
	}
	return out
}

// hasOrder reports whether Parquet's order of stored values is meaningful.
func hasOrder(t colType) bool {
	if t.array {
		return false
	}
	switch t.kind {
	case KindNumeric, KindInterval, KindJSON, KindJSONB:
		return false
	}
	return true
}

// projection resolves column names (all columns when empty) to indexes.
func (r *Reader) projection(columns []string) ([]int, error) {
	if len(columns) == 0 {
		idx := make([]int, len(r.s.cols))
		for i := range idx {
			idx[i] = i
		}
		return idx, nil
	}
	idx := make([]int, len(columns))
	for i, name := range columns {
		if idx[i] = r.s.Index(name); idx[i] < 0 {
			return nil, fmt.Errorf("column %q is not in the archive (columns: %s)", name, r.columnList())
		}
	}
	return idx, nil
}

func (r *Reader) columnList() string {
	var b []byte
	for i, c := range r.s.cols {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendQuote(b, c.Name)
	}
	return string(b)
}
