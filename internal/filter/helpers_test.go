package filter

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratahq/strata/internal/parquetio"
)

// testColumns has a column of every kind, as LoadColumns would describe
// them (the enum's OID is made up).
var testColumns = []parquetio.Column{
	{Name: "id", TypeOID: 20, TypeName: "bigint", NotNull: true},
	{Name: "i2", TypeOID: 21, TypeName: "smallint"},
	{Name: "i4", TypeOID: 23, TypeName: "integer"},
	{Name: "i8", TypeOID: 20, TypeName: "bigint"},
	{Name: "f4", TypeOID: 700, TypeName: "real"},
	{Name: "f8", TypeOID: 701, TypeName: "double precision"},
	{Name: "n", TypeOID: 1700, TypeName: "numeric"},
	{Name: "t", TypeOID: 25, TypeName: "text"},
	{Name: "c", TypeOID: 1042, TypeName: "character(4)"},
	{Name: "e", TypeOID: 90001, TypeName: "mood", TypType: 'e'},
	{Name: "b", TypeOID: 16, TypeName: "boolean"},
	{Name: "u", TypeOID: 2950, TypeName: "uuid"},
	{Name: "d", TypeOID: 1082, TypeName: "date"},
	{Name: "tm", TypeOID: 1083, TypeName: "time without time zone"},
	{Name: "ts", TypeOID: 1114, TypeName: "timestamp without time zone"},
	{Name: "tz", TypeOID: 1184, TypeName: "timestamp with time zone"},
	{Name: "iv", TypeOID: 1186, TypeName: "interval"},
	{Name: "j", TypeOID: 3802, TypeName: "jsonb"},
	{Name: "by", TypeOID: 17, TypeName: "bytea"},
	{Name: "arr", TypeOID: 1007, TypeName: "integer[]", ElemOID: 23},
	{Name: "Mixed Case", TypeOID: 25, TypeName: "text"},
}

// num is a numeric value in its text form, e.g. "1.50" or "NaN".
type num string

// enum is an enum label.
type enum string

// makeRow encodes vals (column name -> Go value; absent or nil is NULL) in
// PostgreSQL's binary format and decodes them as parquetio does for a live
// row, which is also how an archived row reads back.
func makeRow(t testing.TB, s *parquetio.Schema, vals map[string]any) []parquetio.Value {
	t.Helper()
	m := pgtype.NewMap()
	cols := s.Columns()
	raw := make([][]byte, len(cols))
	for i, c := range cols {
		v, ok := vals[c.Name]
		if !ok || v == nil {
			continue
		}
		switch x := v.(type) {
		case enum:
			raw[i] = []byte(x)
			continue
		case num:
			var n pgtype.Numeric
			if err := n.Scan(string(x)); err != nil {
				t.Fatalf("numeric %q: %v", x, err)
			}
			v = n
		}
		b, err := m.Encode(c.TypeOID, pgx.BinaryFormatCode, v, make([]byte, 0, 16)) // non-nil: empty is not NULL
		if err != nil {
			t.Fatalf("encode %s = %#v: %v", c.Name, v, err)
		}
		raw[i] = b
	}
	row := make([]parquetio.Value, len(cols))
	var arena []byte
	if err := s.DecodeRow(raw, row, &arena); err != nil {
		t.Fatalf("decode row %v: %v", vals, err)
	}
	return row
}

func mustSchema(t testing.TB, cols []parquetio.Column) *parquetio.Schema {
	t.Helper()
	s, err := parquetio.NewSchema(cols)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustBind(t testing.TB, src string, cols []parquetio.Column) *Filter {
	t.Helper()
	e, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	f, err := Bind(e, cols)
	if err != nil {
		t.Fatalf("Bind(%q): %v", src, err)
	}
	return f
}
