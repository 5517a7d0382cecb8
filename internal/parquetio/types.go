package parquetio

import (
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// Kind is the family of a column's values, after domains are resolved and
// arrays are reduced to their element.
type Kind uint8

// Kinds of values. KindInvalid is never the kind of a column in a Schema.
const (
	KindInvalid Kind = iota
	KindBool
	KindInt16
	KindInt32
	KindInt64
	KindFloat32
	KindFloat64
	KindNumeric
	KindText
	KindEnum
	KindBytea
	KindJSON
	KindJSONB
	KindUUID
	KindDate
	KindTime
	KindTimestamp
	KindTimestamptz
	KindInterval
)

var kindNames = [...]string{
	KindInvalid: "invalid", KindBool: "boolean", KindInt16: "smallint", KindInt32: "integer",
	KindInt64: "bigint", KindFloat32: "real", KindFloat64: "double precision",
	KindNumeric: "numeric", KindText: "text", KindEnum: "enum", KindBytea: "bytea",
	KindJSON: "json", KindJSONB: "jsonb", KindUUID: "uuid", KindDate: "date", KindTime: "time",
	KindTimestamp: "timestamp", KindTimestamptz: "timestamptz", KindInterval: "interval",
}

// String names the kind as PostgreSQL does.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// supportedTypes is what an unsupported-type error lists.
const supportedTypes = "smallint, integer, bigint, real, double precision, numeric, text, " +
	"varchar, char(n), name, citext, boolean, timestamptz, timestamp, date, time, interval, " +
	"uuid, json, jsonb, bytea, enums, domains over these, one-dimensional arrays of these"

// builtinKinds maps the OIDs of built-in PostgreSQL types (stable across
// servers and versions) to their kind.
var builtinKinds = map[uint32]Kind{
	16: KindBool, 17: KindBytea, 19: KindText, 20: KindInt64, 21: KindInt16, 23: KindInt32,
	25: KindText, 114: KindJSON, 700: KindFloat32, 701: KindFloat64, 1042: KindText,
	1043: KindText, 1082: KindDate, 1083: KindTime, 1114: KindTimestamp,
	1184: KindTimestamptz, 1186: KindInterval, 1700: KindNumeric, 2950: KindUUID,
	3802: KindJSONB,
}

// scalarKind maps a non-domain type to its kind, KindInvalid if unsupported.
func scalarKind(oid uint32, typtype byte, name string) Kind {
	if typtype == 'e' {
		return KindEnum
	}
	if typtype != 0 && typtype != 'b' {
		return KindInvalid
	}
	if k, ok := builtinKinds[oid]; ok {
		return k
	}
	// citext is an extension type with a per-database OID; its binary form
	// is text's.
	if name == "citext" || strings.HasSuffix(name, ".citext") {
		return KindText
	}
	return KindInvalid
}

// colType is how one column is stored.
type colType struct {
	kind    Kind
	array   bool // a 1-D PostgreSQL array stored as a Parquet LIST
	notNull bool
	// Definition levels of an empty array, a NULL element and a present
	// value (a NULL value is always level 0; scalars use only defValue).
	defEmpty, defNullElem, defValue int
}

func newColType(k Kind, array, notNull bool) colType {
	t := colType{kind: k, array: array, notNull: notNull}
	base := 1
	if notNull {
		base = 0
	}
	if array {
		t.defEmpty, t.defNullElem, t.defValue = base, base+1, base+2
	} else {
		t.defValue = base
	}
	return t
}

// leafNode is the Parquet type of a value of kind k. Sorted-ish, repetitive
// integer and time columns get delta encoding (encodingFor); dictionaries
// are chosen per file (dictModeOf).
func leafNode(k Kind) parquet.Node {
	switch k {
	case KindBool:
		return parquet.Leaf(parquet.BooleanType)
	case KindInt16:
		return parquet.Int(16)
	case KindInt32:
		return parquet.Int(32)
	case KindInt64:
		return parquet.Int(64)
	case KindFloat32:
		return parquet.Leaf(parquet.FloatType)
	case KindFloat64:
		return parquet.Leaf(parquet.DoubleType)
	case KindNumeric, KindText, KindInterval:
		return parquet.String()
	case KindEnum:
		return parquet.Enum()
	case KindBytea:
		return parquet.Leaf(parquet.ByteArrayType)
	case KindJSON, KindJSONB:
		return parquet.JSON()
	case KindUUID:
		return parquet.UUID()
	case KindDate:
		return parquet.Date()
	case KindTime:
		return parquet.TimeAdjusted(parquet.Microsecond, false)
	case KindTimestamp:
		return parquet.TimestampAdjusted(parquet.Microsecond, false)
	case KindTimestamptz:
		return parquet.TimestampAdjusted(parquet.Microsecond, true)
	}
	return nil
}

// encodingFor picks the encoding of a leaf that is not dictionary encoded,
// nil meaning parquet-go's default for its type (PLAIN; byte arrays
// DELTA_LENGTH_BYTE_ARRAY). Integers and times get DELTA_BINARY_PACKED: it
// stores the differences between neighbours in as few bits as a block of
// them needs, so sorted or clustered values (keys, times, ids of a range)
// cost a few bits instead of 4 or 8 bytes, and random ones at most a bit
// more than their range needs. Every Parquet reader decodes it (it is part
// of the format since 2.0).
func encodingFor(k Kind) encoding.Encoding {
	switch k {
	case KindInt16, KindInt32, KindInt64, KindDate, KindTime, KindTimestamp, KindTimestamptz:
		return &parquet.DeltaBinaryPacked
	}
	return nil
}

// Dictionary encoding. A column of a low-cardinality kind (status,
// country, category, prices, scores, small integers) costs a few bits per
// value with a dictionary instead of its bytes. parquet-go switches a
// column from dictionary to PLAIN for the rest of the row group once its
// dictionary outgrows dictionaryMaxBytes, checked when a page is cut; the
// encoder cuts the pages of dictionary columns every dictPageRows rows so
// that the check happens (with 512 KiB page buffers and 4-byte indexes a
// page would otherwise hold a whole row group).
const (
	dictionaryMaxBytes = 256 << 10
	dictPageRows       = 8192
)

// dictMode is how a kind's columns choose dictionary encoding.
type dictMode uint8

const (
	dictNever  dictMode = iota
	dictAlways          // enums: a handful of labels by definition
	// dictSampled: when the file's first rows show few distinct values
	// (wantDictionary). Keys, random measures and free text keep their
	// encoding: for them a dictionary would cost the indexes of every page
	// until the fallback, and for byte arrays the fallback (PLAIN) is
	// larger than their own DELTA_LENGTH_BYTE_ARRAY.
	dictSampled
)

func dictModeOf(k Kind) dictMode {
	switch k {
	case KindEnum:
		return dictAlways
	case KindText, KindNumeric, KindInt16, KindInt32, KindFloat32, KindFloat64:
		return dictSampled
	}
	return dictNever
}

// nodeFor is the Parquet node of a whole column, dictionary encoded or not.
func nodeFor(t colType, dict bool) parquet.Node {
	n := leafNode(t.kind)
	if dict {
		n = parquet.Encoded(n, &parquet.RLEDictionary)
	} else if enc := encodingFor(t.kind); enc != nil && !t.array {
		n = parquet.Encoded(n, enc)
	}
	if t.array {
		n = parquet.List(parquet.Optional(n))
	}
	if !t.notNull {
		n = parquet.Optional(n)
	}
	return n
}

// orderedGroup is a Parquet group whose fields keep the PostgreSQL column
// order (parquet.Group sorts them by name), so a file's columns read in the
// table's order by any tool.
type orderedGroup struct {
	parquet.Group
	fields []parquet.Field
}

func newOrderedGroup(names []string, nodes []parquet.Node) orderedGroup {
	g := make(parquet.Group, len(names))
	for i, n := range names {
		g[n] = nodes[i]
	}
	byName := make(map[string]parquet.Field, len(names))
	for _, f := range g.Fields() {
		byName[f.Name()] = f
	}
	fields := make([]parquet.Field, len(names))
	for i, n := range names {
		fields[i] = byName[n]
	}
	return orderedGroup{Group: g, fields: fields}
}

// Fields returns the fields in column order.
func (g orderedGroup) Fields() []parquet.Field { return g.fields }
