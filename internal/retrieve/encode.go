package retrieve

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/stratahq/strata/internal/parquetio"
)

// Write streams rs to w in format (jsonl, csv or parquet) and returns the
// row count.
func Write(w io.Writer, rs *Rows, format string) (int64, error) {
	switch format {
	case "jsonl", "":
		return writeJSONL(w, rs)
	case "csv":
		return writeCSV(w, rs)
	case "parquet":
		return writeParquet(w, rs)
	}
	return 0, badRequest(fmt.Errorf("format %q (use jsonl, csv or parquet)", format))
}

// writeParquet writes one Parquet file (snappy) with the output columns,
// typed as in the archive, so a retrieval can feed DuckDB, Spark or pandas.
func writeParquet(w io.Writer, rs *Rows) (int64, error) {
	if len(rs.defs) == 0 {
		return 0, badRequest(errors.New("no archived rows in the range, so no schema for a Parquet file (use jsonl or csv)"))
	}
	s, err := parquetio.NewSchema(rs.defs)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	pw, err := parquetio.NewWriter(bw, s, parquetio.WriterOptions{Compression: "snappy"})
	if err != nil {
		return 0, err
	}
	for rs.Next() {
		if err := pw.WriteValues(rs.Values()); err != nil {
			pw.Close()
			return rs.Count(), err
		}
	}
	if err := rs.Err(); err != nil {
		pw.Close()
		return rs.Count(), err
	}
	if _, err := pw.Close(); err != nil {
		return rs.Count(), err
	}
	return rs.Count(), bw.Flush()
}

// writeJSONL writes one JSON object per line, keys in column order. Values
// follow parquetio's JSON rules: exact numerics and NaN/Infinity as strings,
// json/jsonb embedded as JSON, bytea as "\x..." hex.
func writeJSONL(w io.Writer, rs *Rows) (int64, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	keys := make([][]byte, len(rs.cols))
	raw := make([]bool, len(rs.cols))
	for i, c := range rs.cols {
		k, _ := json.Marshal(c)
		keys[i] = k
		raw[i] = slices.Contains(rs.req.RawColumns, c)
	}
	var line []byte
	for rs.Next() {
		line = append(line[:0], '{')
		for i, v := range rs.Values() {
			if i > 0 {
				line = append(line, ',')
			}
			line = append(line, keys[i]...)
			line = append(line, ':')
			if raw[i] && !v.IsNull() && v.Kind() != parquetio.KindBytea {
				line = appendJSONString(line, v.Bytes())
			} else {
				line = v.AppendJSON(line)
			}
		}
		line = append(line, '}', '\n')
		if _, err := bw.Write(line); err != nil {
			return rs.Count(), err
		}
	}
	if err := rs.Err(); err != nil {
		bw.Flush()
		return rs.Count(), err
	}
	return rs.Count(), bw.Flush()
}

// writeCSV writes a header line, then one line per row in PostgreSQL's text
// form (COPY ... FROM ... CSV reads it back). NULL is an empty unquoted field;
// an empty string is "".
func writeCSV(w io.Writer, rs *Rows) (int64, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(rs.cols); err != nil {
		return 0, err
	}
	cw.Flush()
	var buf []byte
	for rs.Next() {
		for i, v := range rs.Values() {
			if i > 0 {
				bw.WriteByte(',')
			}
			if v.IsNull() {
				continue
			}
			buf = v.AppendText(buf[:0])
			writeCSVField(bw, buf)
		}
		bw.WriteByte('\n')
	}
	if err := rs.Err(); err != nil {
		bw.Flush()
		return rs.Count(), err
	}
	return rs.Count(), bw.Flush()
}

// writeCSVField always quotes, so an empty string ("") differs from NULL.
func writeCSVField(w *bufio.Writer, b []byte) {
	w.WriteByte('"')
	for _, c := range b {
		if c == '"' {
			w.WriteByte('"')
		}
		w.WriteByte(c)
	}
	w.WriteByte('"')
}

// appendJSONString appends b as a JSON string that decodes to exactly b
// (valid UTF-8 is kept as is; only quotes, backslashes and control
// characters are escaped, so <, > and & stay readable).
func appendJSONString(dst, b []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c == '\n':
			dst = append(dst, '\\', 'n')
		case c == '\r':
			dst = append(dst, '\\', 'r')
		case c == '\t':
			dst = append(dst, '\\', 't')
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
