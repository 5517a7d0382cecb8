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
