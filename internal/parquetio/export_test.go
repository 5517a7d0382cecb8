package parquetio

// ColumnChunkRanges returns the byte ranges [start, end) of column c's
// chunk in every row group, for tests that damage a file.
func ColumnChunkRanges(r *Reader, c int) [][2]int64 {
	var out [][2]int64
	for _, rg := range r.f.Metadata().RowGroups {
		md := rg.Columns[c].MetaData
		start := md.DataPageOffset
		if md.DictionaryPageOffset > 0 && md.DictionaryPageOffset < start {
			start = md.DictionaryPageOffset
		}
		out = append(out, [2]int64{start, start + md.TotalCompressedSize})
	}
	return out
}

// NewValue returns a non-NULL scalar of kind k: i holds a bool (0/1), an
// integer, a float's bits, days or microseconds; b the bytes of the kinds
// stored as bytes (uuid: 16 bytes).
func NewValue(k Kind, i int64, b []byte) Value { return Value{kind: k, i: i, b: b} }

// NewArray returns a one-dimensional array of kind k.
func NewArray(k Kind, elems []Value) Value {
	if elems == nil {
		elems = []Value{}
	}
	return Value{kind: k, array: true, elems: elems}
}
