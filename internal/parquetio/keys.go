package parquetio

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/parquet-go/parquet-go"
)

// bloomBitsPerValue sizes the split-block bloom filters written for key
// columns: 10 bits a value, about a 1% false-positive rate.
const bloomBitsPerValue = 10

// rangeKind reports whether a key column of kind k gets a key range
// (Stats.KeyMin/KeyMax): fixed-width values whose stored order is
// PostgreSQL's order of the type, so a range read back in SQL
// (`min::type`) prunes exactly.
func rangeKind(k Kind) bool {
	switch k {
	case KindInt16, KindInt32, KindInt64, KindDate, KindTimestamp, KindTimestamptz, KindUUID:
		return true
	}
	return false
}

// probeKind reports whether values of kind k are equal in PostgreSQL
// exactly when their stored bytes are equal, so that a bloom filter and a
// byte comparison can tell that a key is absent. numeric (stored as text:
// 1.0 = 1.00), floats (-0 = 0), json and interval are not.
func probeKind(k Kind) bool {
	switch k {
	case KindInt16, KindInt32, KindInt64, KindDate, KindTimestamp, KindTimestamptz, KindUUID,
		KindText, KindEnum, KindBytea, KindBool:
		return true
	}
	return false
}

// compareValues orders two non-NULL values of a rangeKind.
func compareValues(a, b Value) int {
	if a.kind == KindUUID {
		return bytes.Compare(a.b, b.b)
	}
	switch {
	case a.i < b.i:
		return -1
	case a.i > b.i:
		return 1
	}
	return 0
}

// keyRange tracks the minimum and maximum of a Writer's first key column.
type keyRange struct {
	col      int // -1: none tracked
	min, max Value
	has      bool
}

func (k *keyRange) track(kind Kind, pv parquet.Value) {
	var arena []byte
	v := fromParquet(kind, pv, &arena)
	if kind == KindUUID {
		v.b = bytes.Clone(v.b)
	}
	if !k.has || compareValues(v, k.min) < 0 {
		k.min = v
	}
	if !k.has || compareValues(v, k.max) > 0 {
		k.max = v
	}
	k.has = true
}

// keyOptions resolves WriterOptions.KeyColumns: the bloom filters to
// write and the column whose range is tracked.
func keyOptions(s *Schema, names []string) ([]parquet.BloomFilterColumn, keyRange, error) {
	kr := keyRange{col: -1}
	var blooms []parquet.BloomFilterColumn
	for i, n := range names {
		j := s.Index(n)
		if j < 0 {
			return nil, kr, fmt.Errorf("key column %q is not a column of the table", n)
		}
		t := s.types[j]
		if t.array {
			continue
		}
		blooms = append(blooms, parquet.SplitBlockFilter(bloomBitsPerValue, n))
		if i == 0 && rangeKind(t.kind) {
			kr.col = j
		}
	}
	return blooms, kr, nil
}

// KeySet is a set of keys, one value per key column, to look for in
// Parquet files (Reader.MayHoldAny, Reader.HoldsAny).
type KeySet struct {
	cols  []Column
	types []colType
	vals  [][]parquet.Value // per key, per column
	set   map[string]struct{}
	buf   []byte
}

// NewKeySet starts an empty set of keys of the given columns.
func NewKeySet(cols []Column) (*KeySet, error) {
	ks := &KeySet{cols: cols, set: map[string]struct{}{}}
	for _, c := range cols {
		t, err := resolveType(c)
		if err != nil {
			return nil, err
		}
		ks.types = append(ks.types, t)
	}
	return ks, nil
}

// Add adds a key given in PostgreSQL's binary format, one value per
// column (pgx RawValues); a key with a NULL value is ignored (it matches
// no row).
func (ks *KeySet) Add(raw [][]byte) error {
	if len(raw) != len(ks.cols) {
		return fmt.Errorf("key set: %d values for %d columns", len(raw), len(ks.cols))
	}
	vals := make([]parquet.Value, len(raw))
	row := make([]Value, len(raw))
	for i, r := range raw {
		if r == nil {
			return nil
		}
		t := ks.types[i]
		if t.array {
			return fmt.Errorf("key column %q is an array", ks.cols[i].Name)
		}
		var arena []byte
		v, err := scalarValue(t.kind, r, &arena)
		if err != nil {
			return fmt.Errorf("key column %q: %w", ks.cols[i].Name, err)
		}
		vals[i] = v.Clone()
		row[i] = fromParquet(t.kind, vals[i], &arena)
	}
	ks.vals = append(ks.vals, vals)
	ks.set[string(ks.encode(row))] = struct{}{}
	return nil
}

// Len is the number of keys in the set.
func (ks *KeySet) Len() int { return len(ks.vals) }

// encode is a key's identity: its values' stored bytes, length-prefixed.
func (ks *KeySet) encode(row []Value) []byte {
	ks.buf = ks.buf[:0]
	for _, v := range row {
		if v.b != nil || v.kind == KindText || v.kind == KindBytea || v.kind == KindEnum || v.kind == KindUUID {
			ks.buf = binary.AppendUvarint(ks.buf, uint64(len(v.b)))
			ks.buf = append(ks.buf, v.b...)
			continue
		}
		ks.buf = binary.LittleEndian.AppendUint64(ks.buf, uint64(v.i))
	}
	return ks.buf
}

// columnsIn returns the file's index of each key column, and whether the
// file's columns can be probed: same kind as the set's, a probeKind, not
// an array. A file lacking a key column has -1 there (its rows' keys are
// NULL: no key of the set is in it).
func (ks *KeySet) columnsIn(r *Reader) ([]int, bool) {
	idx := make([]int, len(ks.cols))
	ok := true
	for i, c := range ks.cols {
		idx[i] = r.s.Index(c.Name)
		if idx[i] < 0 {
			continue
		}
		ft := r.s.types[idx[i]]
		if ft.array || ft.kind != ks.types[i].kind || !probeKind(ft.kind) {
			ok = false
		}
	}
	return idx, ok
}

// MayHoldAny reports whether the file may hold a row with one of the keys:
// false only when, in every row group, each key falls outside the
// statistics' range of a key column or is absent from a key column's
// bloom filter. A file without bloom filters (written before they were)
// or whose key columns changed type is decided by statistics alone or,
// when they cannot tell, may hold the keys. The Reader must have been
// opened with OpenOptions.BloomFilters to use its filters.
func (r *Reader) MayHoldAny(ks *KeySet) (bool, error) {
	idx, ok := ks.columnsIn(r)
	if !ok {
		return true, nil
	}
	for _, j := range idx {
		if j < 0 {
			return false, nil
		}
	}
	for g := range r.f.RowGroups() {
		may, err := r.groupMayHold(g, ks, idx)
		if err != nil || may {
			return may, err
		}
	}
	return false, nil
}

// groupMayHold is MayHoldAny for row group g.
func (r *Reader) groupMayHold(g int, ks *KeySet, idx []int) (bool, error) {
	chunks := r.f.RowGroups()[g].ColumnChunks()
	stats := r.RowGroupStats(g)
	blooms := make([]parquet.BloomFilter, len(idx))
	bounds := make([]ColumnStats, len(idx))
	for i, j := range idx {
		blooms[i] = chunks[j].BloomFilter()
		if rangeKind(ks.types[i].kind) {
			bounds[i] = stats[ks.cols[i].Name]
		}
	}
	for _, key := range ks.vals {
		may, err := keyMayBeIn(key, ks.types, blooms, bounds)
		if err != nil || may {
			return may, err
		}
	}
	return false, nil
}

func keyMayBeIn(key []parquet.Value, types []colType, blooms []parquet.BloomFilter, bounds []ColumnStats) (bool, error) {
	for i, pv := range key {
		if b := bounds[i]; b.HasMinMax {
			var arena []byte
			v := fromParquet(types[i].kind, pv, &arena)
			if compareValues(v, b.Min) < 0 || compareValues(v, b.Max) > 0 {
				return false, nil
			}
		}
		if blooms[i] != nil {
			ok, err := blooms[i].Check(pv)
			if err != nil {
				return false, fmt.Errorf("read bloom filter: %w", err)
			}
			if !ok {
				return false, nil
			}
		}
	}
	return true, nil
}

// HoldsAny reads the key columns of the file (and nothing else) and
// reports whether a row has one of the keys. A file whose key columns
// cannot be compared (see MayHoldAny) may hold them: true.
func (r *Reader) HoldsAny(ctx context.Context, ks *KeySet) (bool, error) {
	idx, ok := ks.columnsIn(r)
	if !ok {
		return true, nil
	}
	names := make([]string, len(idx))
	for i, j := range idx {
		if j < 0 {
			return false, nil
		}
		names[i] = ks.cols[i].Name
	}
	it, err := r.Rows(ctx, names, nil)
	if err != nil {
		return false, err
	}
	defer it.Close()
	for it.Next() {
		row := it.Row()
		null := false
		for _, v := range row {
			null = null || v.IsNull()
		}
		if _, hit := ks.set[string(ks.encode(row))]; hit && !null {
			return true, nil
		}
	}
	return false, it.Err()
}
