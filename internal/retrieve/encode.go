package retrieve

import (
	"bufio"
	"errors"
	"fmt"
	"io"

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

// writeJSONL writes one JSON object per line, keys in column order, values
// as parquetio.Value.AppendJSON writes them (PostgreSQL's to_json, numeric
// as an exact string); the raw columns as JSON strings of their text.
func writeJSONL(w io.Writer, rs *Rows) (int64, error) {
	enc := parquetio.NewJSONLEncoder(w, rs.cols, rs.req.RawColumns...)
	return encodeRows(rs, enc, func() appendRow {
		return parquetio.NewJSONLEncoder(io.Discard, rs.cols, rs.req.RawColumns...).AppendRow
	})
}

// writeCSV writes a header line, then one line per row, as PostgreSQL's
// COPY ... TO (FORMAT csv, HEADER) does (COPY ... FROM reads it back): NULL
// is an empty unquoted field, an empty string is "".
func writeCSV(w io.Writer, rs *Rows) (int64, error) {
	enc := parquetio.NewCSVEncoder(w, rs.cols)
	return encodeRows(rs, enc, func() appendRow { return parquetio.NewCSVEncoder(io.Discard, rs.cols).AppendRow })
}

// rowEncoder writes rows in a text format: one at a time, or as rows that
// an appendRow of the same format encoded.
type rowEncoder interface {
	Encode(row []parquetio.Value) error
	WriteEncoded(rows []byte) error
	Flush() error
}

// appendRow appends one row, encoded, to b.
type appendRow func(b []byte, row []parquetio.Value) []byte

// encodeRows encodes every row of rs: the archived ones object by object
// on several goroutines when that pays (writeParallel), then the rest one
// by one. It flushes at the end, also after an error, so that the rows
// before it are written.
func encodeRows(rs *Rows, enc rowEncoder, newAppend func() appendRow) (int64, error) {
	if workers := rs.parallelism(); workers > 1 {
		if err := rs.writeParallel(workers, enc, newAppend); err != nil {
			rs.err = err
			enc.Flush()
			return rs.Count(), err
		}
	}
	for rs.Next() {
		if err := enc.Encode(rs.Values()); err != nil {
			return rs.Count(), err
		}
	}
	if err := rs.Err(); err != nil {
		enc.Flush()
		return rs.Count(), err
	}
	return rs.Count(), enc.Flush()
}
