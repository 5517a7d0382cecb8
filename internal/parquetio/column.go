// Package parquetio converts PostgreSQL rows to Parquet files and back.
//
// A [Schema] maps the columns of a table (as described by pg_catalog, see
// [Column] and [LoadColumns]) to a Parquet schema, refusing any type it cannot
// round-trip exactly before a single row is written. A [Writer] takes rows in
// PostgreSQL's binary result format, straight from pgx's rows.RawValues(), and
// encodes them on a second goroutine. A [Reader] opens a file written here,
// rebuilds its Schema from the file's own key-value metadata (no database
// needed), exposes per-row-group statistics for pruning and streams projected
// rows as typed [Value]s, which render as JSON or as PostgreSQL text input so
// that archived rows can be COPY'd back and compare equal.
//
// The type mapping, and why it is what it is, is documented on [NewSchema].
package parquetio

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Column describes one column of a PostgreSQL relation as pg_catalog states
// it. The extractor fills it, usually with [LoadColumns].
type Column struct {
	// Name is the column name (pg_attribute.attname), unquoted.
	Name string
	// TypeOID is pg_attribute.atttypid.
	TypeOID uint32
	// TypeName is format_type(atttypid, atttypmod), e.g. "numeric(12,2)",
	// "text[]", "timestamp with time zone", "mood". It is part of the
	// schema fingerprint.
	TypeName string
	// TypType is pg_type.typtype: 'b' base, 'e' enum, 'd' domain, 'c'
	// composite, 'r' range, 'm' multirange, 'p' pseudo. Zero means 'b'.
	TypType byte
	// ElemOID is the element type of an array type (typcategory 'A'), with
	// domains resolved to their base type; 0 for non-arrays. (Types such as
	// name and point have a typelem but are not arrays: leave it 0.)
	ElemOID uint32
	// ElemTypType is the typtype of ElemOID ('e' for an array of an enum).
	ElemTypType byte
	// BaseOID is, for a domain, its base type after resolving nested
	// domains; 0 otherwise. A domain over an array also sets ElemOID.
	BaseOID uint32
	// BaseTypType is the typtype of BaseOID ('e' for a domain over an enum).
	BaseTypType byte
	// NotNull is pg_attribute.attnotnull; the Parquet column is then required.
	NotNull bool
}

// columnJSON is Column's self-describing form, stored in every file under
// [KeySchema] and in the catalog.
type columnJSON struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	OID         uint32 `json:"oid"`
	TypType     string `json:"typtype,omitempty"`
	ElemOID     uint32 `json:"elem_oid,omitempty"`
	ElemTypType string `json:"elem_typtype,omitempty"`
	BaseOID     uint32 `json:"base_oid,omitempty"`
	BaseTypType string `json:"base_typtype,omitempty"`
	NotNull     bool   `json:"not_null,omitempty"`
}

func typTypeString(b byte) string {
	if b == 0 {
		return ""
	}
	return string(rune(b))
}

func typTypeByte(s string) byte {
	if s == "" {
		return 0
	}
	return s[0]
}

// MarshalJSON encodes the column as {"name":..,"type":..,"oid":..,...}.
func (c Column) MarshalJSON() ([]byte, error) {
	return json.Marshal(columnJSON{
		Name: c.Name, Type: c.TypeName, OID: c.TypeOID, TypType: typTypeString(c.TypType),
		ElemOID: c.ElemOID, ElemTypType: typTypeString(c.ElemTypType),
		BaseOID: c.BaseOID, BaseTypType: typTypeString(c.BaseTypType), NotNull: c.NotNull,
	})
}

// UnmarshalJSON decodes what MarshalJSON produced.
func (c *Column) UnmarshalJSON(b []byte) error {
	var j columnJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = Column{
		Name: j.Name, TypeName: j.Type, TypeOID: j.OID, TypType: typTypeByte(j.TypType),
		ElemOID: j.ElemOID, ElemTypType: typTypeByte(j.ElemTypType),
		BaseOID: j.BaseOID, BaseTypType: typTypeByte(j.BaseTypType), NotNull: j.NotNull,
	}
	return nil
}

// columnsSQL lists the live columns of the relation $1 (a regclass) in
// attnum order, resolving domains (also nested ones) to their base type.
const columnsSQL = `
WITH RECURSIVE cols AS (
  SELECT a.attnum, a.attname, a.atttypid, format_type(a.atttypid, a.atttypmod) AS tname,
         t.typtype, a.attnotnull
  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
  WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
), base(attnum, oid, typtype, typbasetype, depth) AS (
  SELECT c.attnum, t.oid, t.typtype, t.typbasetype, 0
  FROM cols c JOIN pg_type t ON t.oid = c.atttypid
  UNION ALL
  SELECT b.attnum, t.oid, t.typtype, t.typbasetype, b.depth + 1
  FROM base b JOIN pg_type t ON t.oid = b.typbasetype
  WHERE b.typtype = 'd' AND b.depth < 32
), resolved AS (
  SELECT DISTINCT ON (attnum) attnum, oid AS boid, typtype AS btyptype
  FROM base ORDER BY attnum, depth DESC
)
SELECT c.attname, c.atttypid::int8, c.tname, c.typtype::text,
       CASE WHEN bt.typcategory = 'A' THEN coalesce(et.typbasetype_resolved, 0) ELSE 0 END::int8,
       CASE WHEN bt.typcategory = 'A' THEN coalesce(et.typtype_resolved, '') ELSE '' END,
       CASE WHEN c.typtype = 'd' THEN r.boid ELSE 0 END::int8,
       CASE WHEN c.typtype = 'd' THEN r.btyptype::text ELSE '' END,
       c.attnotnull
FROM cols c
JOIN resolved r ON r.attnum = c.attnum
JOIN pg_type bt ON bt.oid = r.boid
LEFT JOIN LATERAL (
  WITH RECURSIVE e(oid, typtype, typbasetype, depth) AS (
    SELECT t.oid, t.typtype, t.typbasetype, 0 FROM pg_type t WHERE t.oid = bt.typelem
    UNION ALL
    SELECT t.oid, t.typtype, t.typbasetype, e.depth + 1
    FROM e JOIN pg_type t ON t.oid = e.typbasetype WHERE e.typtype = 'd' AND e.depth < 32
  )
  SELECT e.oid AS typbasetype_resolved, e.typtype::text AS typtype_resolved
  FROM e ORDER BY e.depth DESC LIMIT 1
) et ON true
ORDER BY c.attnum`

// Querier is the part of pgx.Conn, pgxpool.Pool and pgx.Tx that
// [LoadColumns] needs.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// LoadColumns reads the columns of relation (a possibly schema-qualified,
// possibly quoted name as regclass accepts it, passed as a bind parameter,
// never spliced into SQL) from pg_catalog, in column order.
func LoadColumns(ctx context.Context, db Querier, relation string) ([]Column, error) {
	rows, err := db.Query(ctx, columnsSQL, relation)
	if err != nil {
		return nil, fmt.Errorf("load columns of %s: %w", relation, err)
	}
	var cols []Column
	for rows.Next() {
		var c Column
		var oid, elem, base int64
		var tt, ett, btt string
		if err := rows.Scan(&c.Name, &oid, &c.TypeName, &tt, &elem, &ett, &base, &btt, &c.NotNull); err != nil {
			rows.Close()
			return nil, fmt.Errorf("load columns of %s: %w", relation, err)
		}
		c.TypeOID, c.ElemOID, c.BaseOID = uint32(oid), uint32(elem), uint32(base)
		c.TypType, c.ElemTypType, c.BaseTypType = typTypeByte(tt), typTypeByte(ett), typTypeByte(btt)
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load columns of %s: %w", relation, err)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("load columns of %s: the relation has no columns", relation)
	}
	return cols, nil
}
