package parquetio

import (
	"bufio"
	"bytes"
	"io"
	"slices"
)

// JSONLEncoder writes rows as JSON lines, one object per row with the
// columns in order, values as Value.AppendJSON renders them.
type JSONLEncoder struct {
	w    *bufio.Writer
	keys [][]byte // `"name":` per column, the first with '{', the rest with ','
	raw  []bool   // columns written with AppendJSONText
	buf  []byte
}

// NewJSONLEncoder returns an encoder for rows with the given columns. The
// columns named in raw are written as JSON strings of their text
// (Value.AppendJSONText) instead: a source archive's raw payload, kept as
// received rather than embedded as JSON.
func NewJSONLEncoder(w io.Writer, columns []string, raw ...string) *JSONLEncoder {
	e := &JSONLEncoder{w: bufio.NewWriterSize(w, 64*1024), raw: make([]bool, len(columns))}
	for i, c := range columns {
		var k []byte
		if i == 0 {
			k = append(k, '{')
		} else {
			k = append(k, ',')
		}
		k = appendJSONString(k, []byte(c))
		e.keys = append(e.keys, append(k, ':'))
		e.raw[i] = slices.Contains(raw, c)
	}
	return e
}

// Encode writes one row (as many values as columns).
func (e *JSONLEncoder) Encode(row []Value) error {
	e.buf = e.AppendRow(e.buf[:0], row)
	return e.WriteEncoded(e.buf)
}

// AppendRow appends row to b as Encode writes it, its line end included.
// An encoder used only so need not write: several can encode rows at once
// for one output, whose encoder writes them with WriteEncoded.
func (e *JSONLEncoder) AppendRow(b []byte, row []Value) []byte {
	if len(row) == 0 {
		b = append(b, '{')
	}
	for i, v := range row {
		b = append(b, e.keys[i]...)
		if e.raw[i] {
			b = v.AppendJSONText(b)
		} else {
			b = v.AppendJSON(b)
		}
	}
	return append(b, '}', '\n')
}

// WriteEncoded writes rows that AppendRow encoded, of an encoder with the
// same columns, in order with those Encode writes.
func (e *JSONLEncoder) WriteEncoded(rows []byte) error {
	_, err := e.w.Write(rows)
	return err
}

// Flush writes what is buffered; call it at the end.
func (e *JSONLEncoder) Flush() error { return e.w.Flush() }

// CSVEncoder writes rows as CSV (RFC 4180) with a header line, byte for
// byte as PostgreSQL's COPY ... TO (FORMAT csv, HEADER) writes them in a
// session with DateStyle ISO and TimeZone UTC, which COPY ... FROM reads
// back: NULL is an empty unquoted field, an empty string is "", values are
// Value.AppendText, quoted only where COPY quotes.
type CSVEncoder struct {
	w      *bufio.Writer
	header []string
	wrote  bool
	buf    []byte
	field  []byte
	days   dayCache
}

// NewCSVEncoder returns an encoder for rows with the given columns; the
// header is written with the first row or by Flush.
func NewCSVEncoder(w io.Writer, columns []string) *CSVEncoder {
	return &CSVEncoder{w: bufio.NewWriterSize(w, 64*1024), header: columns}
}

func (e *CSVEncoder) writeHeader() error {
	e.wrote = true
	var b []byte // not e.buf: it may hold the row to write after the header
	for i, c := range e.header {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, []byte(c), true, len(e.header) == 1)
	}
	_, err := e.w.Write(append(b, '\n'))
	return err
}

// Encode writes one row.
func (e *CSVEncoder) Encode(row []Value) error {
	e.buf = e.AppendRow(e.buf[:0], row)
	return e.WriteEncoded(e.buf)
}

// WriteEncoded writes rows that AppendRow encoded, of an encoder with the
// same columns, after the header and in order with those Encode writes.
func (e *CSVEncoder) WriteEncoded(rows []byte) error {
	if !e.wrote {
		if err := e.writeHeader(); err != nil {
			return err
		}
	}
	_, err := e.w.Write(rows)
	return err
}

// AppendRow appends row to b as Encode writes it, its line end included
// (never the header). An encoder used only so need not write: several can
// encode rows at once for one output, whose encoder writes them with
// WriteEncoded.
func (e *CSVEncoder) AppendRow(b []byte, row []Value) []byte {
	for i, v := range row {
		if i > 0 {
			b = append(b, ',')
		}
		if v.IsNull() {
			continue
		}
		if !v.array && csvNeverQuoted(v.kind) {
			if v.kind == KindTimestamptz || v.kind == KindTimestamp {
				b = e.days.appendTimestamp(b, v.i, v.kind == KindTimestamptz)
			} else {
				b = v.AppendText(b)
			}
			continue
		}
		e.field = v.AppendText(e.field[:0])
		b = appendCSVField(b, e.field, false, len(row) == 1)
	}
	return append(b, '\n')
}

// Flush writes the header if no row was written, and what is buffered.
func (e *CSVEncoder) Flush() error {
	if !e.wrote {
		if err := e.writeHeader(); err != nil {
			return err
		}
	}
	return e.w.Flush()
}

// appendCSVField quotes a non-NULL field where COPY ... TO (FORMAT csv)
// does, so that the output is byte for byte PostgreSQL's: when empty (to
// tell it from NULL; not in the header), containing a delimiter, quote or
// line break, or, as the only column, being the end-of-data marker \. .
func appendCSVField(dst, f []byte, header, single bool) []byte {
	quote := (len(f) == 0 && !header) || csvSpecial(f) || (single && bytes.Equal(f, []byte(`\.`)))
	if !quote {
		return append(dst, f...)
	}
	dst = append(dst, '"')
	for _, c := range f {
		if c == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// csvSpecial reports whether f holds a delimiter, a quote or a line break.
func csvSpecial(f []byte) bool {
	for _, c := range f {
		if c == ',' || c == '"' || c == '\r' || c == '\n' {
			return true
		}
	}
	return false
}

// csvNeverQuoted reports whether a scalar of kind k, written from its
// number by Strata's own formatting, can never need quoting in CSV: never
// empty, never \., without delimiter, quote or line break (booleans,
// integers, floats, dates, times, timestamps, uuids). Kinds whose stored
// bytes are their text (numeric and interval included) are checked.
func csvNeverQuoted(k Kind) bool {
	switch k {
	case KindBool, KindInt16, KindInt32, KindInt64, KindFloat32, KindFloat64,
		KindDate, KindTime, KindTimestamp, KindTimestamptz, KindUUID:
		return true
	}
	return false
}
