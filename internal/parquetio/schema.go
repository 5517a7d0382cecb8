package parquetio

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/parquet-go/parquet-go"
)

// Schema is the mapping of one relation's columns to Parquet. It is
// immutable and safe for concurrent use.
type Schema struct {
	cols        []Column
	types       []colType
	index       map[string]int
	pq          *parquet.Schema
	fingerprint string
}

// NewSchema maps every column to Parquet, or returns an error naming the
// first column whose type Strata cannot archive, so that nothing is written
// for a table that could not be read back exactly.
//
// Every Parquet column is OPTIONAL unless the PostgreSQL column is NOT NULL.
//
//	PostgreSQL                        Parquet
//	smallint                          INT32 INT(16)
//	integer                           INT32 INT(32)
//	bigint                            INT64 INT(64)
//	real / double precision           FLOAT / DOUBLE (NaN, ±Infinity, -0 kept)
//	numeric                           BYTE_ARRAY STRING, PostgreSQL's text form
//	text, varchar, char(n), name,     BYTE_ARRAY STRING (char(n) keeps its padding)
//	  citext
//	boolean                           BOOLEAN
//	timestamp with time zone          INT64 TIMESTAMP(MICROS, isAdjustedToUTC=true)
//	timestamp                         INT64 TIMESTAMP(MICROS, isAdjustedToUTC=false)
//	date                              INT32 DATE
//	time                              INT64 TIME(MICROS, isAdjustedToUTC=false)
//	interval                          BYTE_ARRAY STRING, e.g. "1 year 2 mons 3 days 04:05:06.5"
//	uuid                              FIXED_LEN_BYTE_ARRAY(16) UUID
//	json                              BYTE_ARRAY JSON, the text byte for byte
//	jsonb                             BYTE_ARRAY JSON, PostgreSQL's normalized text
//	bytea                             BYTE_ARRAY
//	enum                              BYTE_ARRAY ENUM (the label), dictionary encoded
//	domain                            as its base type
//	T[] (one-dimensional)             LIST of optional T
//
// numeric is text because Parquet's DECIMAL needs a fixed precision and
// scale, while an unconstrained numeric has up to 131072 digits before the
// point and 16383 after, per value, plus NaN and ±Infinity. interval is text
// because Parquet's INTERVAL holds milliseconds and PostgreSQL microseconds;
// the text is written by Strata in the "postgres" IntervalStyle whatever the
// session's setting, and PostgreSQL parses it back to the same months, days
// and microseconds.
//
// timestamp, timestamptz and date ±infinity round-trip: they are stored as
// the INT64/INT32 extremes (PostgreSQL's own sentinels) and render as
// "infinity"/"-infinity". A finite timestamp that does not fit Parquet's
// microseconds since 1970 (after year 294246) is an error naming the column.
// Arrays keep NULL elements, empty arrays and NULL arrays apart; an array with
// more than one dimension or a lower bound other than 1 is an error at write
// time naming the column.
func NewSchema(cols []Column) (*Schema, error) {
	if len(cols) == 0 {
		return nil, fmt.Errorf("parquet schema: no columns: the relation must have at least one column")
	}
	s := &Schema{cols: append([]Column(nil), cols...), index: make(map[string]int, len(cols))}
	names := make([]string, len(cols))
	for i, c := range cols {
		if _, dup := s.index[c.Name]; dup || c.Name == "" {
			return nil, fmt.Errorf("parquet schema: column %q is empty or appears twice", c.Name)
		}
		t, err := resolveType(c)
		if err != nil {
			return nil, err
		}
		s.index[c.Name] = i
		s.types = append(s.types, t)
		names[i] = c.Name
	}
	dict := make([]bool, len(cols))
	for i, t := range s.types {
		dict[i] = dictModeOf(t.kind) != dictNever
	}
	s.pq = s.parquetSchema(dict)
	s.fingerprint = fingerprint(cols)
	return s, nil
}

// parquetSchema is the Parquet schema with the columns dict[i] dictionary
// encoded (see dictModeOf); a Writer picks them per file.
func (s *Schema) parquetSchema(dict []bool) *parquet.Schema {
	names := make([]string, len(s.cols))
	nodes := make([]parquet.Node, len(s.cols))
	for i, c := range s.cols {
		names[i], nodes[i] = c.Name, nodeFor(s.types[i], dict[i])
	}
	return parquet.NewSchema("strata", newOrderedGroup(names, nodes))
}

// resolveType maps one column, resolving domains and arrays.
func resolveType(c Column) (colType, error) {
	oid, tt, name := c.TypeOID, c.TypType, c.TypeName
	if tt == 'd' {
		if c.BaseOID == 0 {
			return colType{}, fmt.Errorf("column %q has domain type %s but Column.BaseOID is not set: "+
				"fill it from pg_type.typbasetype (LoadColumns does)", c.Name, c.TypeName)
		}
		oid, tt, name = c.BaseOID, c.BaseTypType, ""
	}
	if k := scalarKind(oid, tt, name); k != KindInvalid {
		return newColType(k, false, c.NotNull), nil
	}
	if c.ElemOID != 0 && (tt == 0 || tt == 'b') {
		if k := scalarKind(c.ElemOID, c.ElemTypType, ""); k != KindInvalid {
			return newColType(k, true, c.NotNull), nil
		}
	}
	return colType{}, fmt.Errorf("column %q has type %s, which Strata cannot archive yet "+
		"(supported: %s): exclude the column or convert it to a supported type (e.g. text) in a view",
		c.Name, c.TypeName, supportedTypes)
}

// fingerprint is the SHA-256 of the canonical JSON list of [name, type].
func fingerprint(cols []Column) string {
	pairs := make([][2]string, len(cols))
	for i, c := range cols {
		pairs[i] = [2]string{c.Name, c.TypeName}
	}
	b, _ := json.Marshal(pairs) // cannot fail for strings
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Columns returns a copy of the columns, in order.
func (s *Schema) Columns() []Column { return append([]Column(nil), s.cols...) }

// Kind returns the kind of column i (the element kind for arrays) and
// whether it is an array.
func (s *Schema) Kind(i int) (k Kind, array bool) { return s.types[i].kind, s.types[i].array }

// Index returns the position of the named column, or -1.
func (s *Schema) Index(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	return -1
}

// SelectList is the select list the extractor must use, one expression per
// column in order, each identifier quoted: SELECT <SelectList> FROM t ...
// Every value is decoded from PostgreSQL's binary format, so no casts are
// needed; run the query with [Schema.ResultFormats].
func (s *Schema) SelectList() string {
	var b strings.Builder
	for i, c := range s.cols {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(pgx.Identifier{c.Name}.Sanitize())
	}
	return b.String()
}

// ResultFormats is what the extractor passes as the first query argument,
// pgx.QueryResultFormats(s.ResultFormats()): binary for every column, which
// is what [Writer.WriteRaw] decodes.
func (s *Schema) ResultFormats() []int16 {
	f := make([]int16, len(s.cols))
	for i := range f {
		f[i] = pgx.BinaryFormatCode
	}
	return f
}

// Fingerprint is the SHA-256 (hex) of the canonical list of column names and
// types (format_type); it changes when a column is added, dropped, renamed,
// reordered or retyped.
func (s *Schema) Fingerprint() string { return s.fingerprint }

// ParquetSchema is the Parquet schema of the files, with every column that
// may be dictionary encoded marked so; a Writer decides per file which are
// (the types are the same either way).
func (s *Schema) ParquetSchema() *parquet.Schema { return s.pq }

// MarshalJSON describes the schema for the catalog and the file metadata:
// {"fingerprint":"..","columns":[{"name":..,"type":..,...},...]}.
func (s *Schema) MarshalJSON() ([]byte, error) {
	return json.Marshal(schemaJSON{Fingerprint: s.fingerprint, Columns: s.cols})
}

type schemaJSON struct {
	Fingerprint string   `json:"fingerprint"`
	Columns     []Column `json:"columns"`
}

// ParseSchemaJSON rebuilds a Schema from MarshalJSON's output.
func ParseSchemaJSON(b []byte) (*Schema, error) {
	var j schemaJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("parse schema description: %w", err)
	}
	s, err := NewSchema(j.Columns)
	if err != nil {
		return nil, fmt.Errorf("parse schema description: %w", err)
	}
	if j.Fingerprint != "" && j.Fingerprint != s.fingerprint {
		return nil, fmt.Errorf("parse schema description: fingerprint %s does not match its columns (%s): the description was altered",
			j.Fingerprint, s.fingerprint)
	}
	return s, nil
}
