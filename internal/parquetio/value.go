package parquetio

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/parquet-go/parquet-go"
)

// Value is one archived value, typed by its column, NULL aware. The zero
// Value is an untyped NULL. Values returned by a RowIter share memory with
// the iterator and are valid until its next call to Next; Clone keeps one.
type Value struct {
	kind  Kind
	null  bool
	array bool
	i     int64   // bool 0/1; integers; float bits; days or microseconds since 1970
	b     []byte  // text, numeric, interval, enum, bytea, json, uuid
	elems []Value // array elements
}

// NullValue returns a NULL of the given kind.
func NullValue(k Kind) Value { return Value{kind: k, null: true} }

// IsNull reports whether the value is SQL NULL.
func (v Value) IsNull() bool { return v.null || v.kind == KindInvalid }

// Kind is the value's kind (the element kind for arrays).
func (v Value) Kind() Kind { return v.kind }

// IsArray reports whether the value is an array (possibly empty or NULL).
func (v Value) IsArray() bool { return v.array }

// Elems returns an array's elements (nil for a scalar or a NULL array).
func (v Value) Elems() []Value { return v.elems }

// Int64 returns a smallint, integer or bigint value; for date the days since
// 1970, for time the microseconds since midnight, for timestamps the
// microseconds since 1970 (math.MaxInt64/MinInt64 for ±infinity).
func (v Value) Int64() int64 { return v.i }

// Float64 returns a real or double precision value.
func (v Value) Float64() float64 {
	if v.kind == KindFloat32 {
		return float64(math.Float32frombits(uint32(v.i)))
	}
	return math.Float64frombits(uint64(v.i))
}

// Bool returns a boolean value.
func (v Value) Bool() bool { return v.i != 0 }

// Bytes returns the bytes of a text-like, numeric, interval, json, bytea or
// uuid value (16 bytes). The slice is shared: do not modify it.
func (v Value) Bytes() []byte { return v.b }

// Time returns a timestamptz, timestamp or date as a UTC time.Time (a
// timestamp without time zone reads its wall clock as UTC). ok is false for
// other kinds, NULL and ±infinity.
func (v Value) Time() (t time.Time, ok bool) {
	if v.null || v.array {
		return time.Time{}, false
	}
	switch v.kind {
	case KindTimestamp, KindTimestamptz:
		if v.i == math.MaxInt64 || v.i == math.MinInt64 {
			return time.Time{}, false
		}
		return time.UnixMicro(v.i).UTC(), true
	case KindDate:
		if v.i == math.MaxInt32 || v.i == math.MinInt32 {
			return time.Time{}, false
		}
		return time.UnixMicro(v.i * microsPerDay).UTC(), true
	}
	return time.Time{}, false
}

// Clone returns a copy that shares no memory with the iterator.
func (v Value) Clone() Value {
	c := v
	if v.b != nil {
		c.b = append([]byte(nil), v.b...)
	}
	if v.elems != nil {
		c.elems = make([]Value, len(v.elems))
		for i, e := range v.elems {
			c.elems[i] = e.Clone()
		}
	}
	return c
}

// fromParquet converts a non-NULL parquet value of kind k, copying bytes
// into *arena.
func fromParquet(k Kind, pv parquet.Value, arena *[]byte) Value {
	v := Value{kind: k}
	switch k {
	case KindBool:
		if pv.Boolean() {
			v.i = 1
		}
	case KindInt16, KindInt32, KindDate:
		v.i = int64(pv.Int32())
	case KindInt64, KindTime, KindTimestamp, KindTimestamptz:
		v.i = pv.Int64()
	case KindFloat32:
		v.i = int64(math.Float32bits(pv.Float()))
	case KindFloat64:
		v.i = int64(math.Float64bits(pv.Double()))
	default:
		start := len(*arena)
		*arena = append(*arena, pv.ByteArray()...)
		v.b = (*arena)[start:len(*arena):len(*arena)]
	}
	return v
}

// fromStatBytes decodes a statistics bound (PLAIN encoding of the physical
// type) into a Value.
func fromStatBytes(k Kind, b []byte) (Value, bool) {
	v := Value{kind: k}
	switch k {
	case KindBool:
		if len(b) != 1 {
			return v, false
		}
		v.i = int64(b[0])
	case KindInt16, KindInt32, KindDate, KindFloat32:
		if len(b) != 4 {
			return v, false
		}
		u := binary.LittleEndian.Uint32(b)
		v.i = int64(int32(u))
		if k == KindFloat32 {
			v.i = int64(u)
		}
	case KindInt64, KindTime, KindTimestamp, KindTimestamptz, KindFloat64:
		if len(b) != 8 {
			return v, false
		}
		v.i = int64(binary.LittleEndian.Uint64(b))
	default:
		v.b = append([]byte(nil), b...)
	}
	return v, true
}

// StatBytes is v as a Parquet statistics bound: the PLAIN encoding of its
// physical type, what a file's footer holds. [ValueFromStat] reverses it,
// so statistics can be kept outside the file (the catalog does).
func (v Value) StatBytes() []byte {
	switch v.kind {
	case KindBool:
		return []byte{byte(v.i)}
	case KindInt16, KindInt32, KindDate, KindFloat32:
		return binary.LittleEndian.AppendUint32(nil, uint32(v.i))
	case KindInt64, KindTime, KindTimestamp, KindTimestamptz, KindFloat64:
		return binary.LittleEndian.AppendUint64(nil, uint64(v.i))
	}
	return append([]byte(nil), v.b...)
}

// ValueFromStat decodes a statistics bound of kind k (see StatBytes); ok
// is false when b is not one.
func ValueFromStat(k Kind, b []byte) (v Value, ok bool) { return fromStatBytes(k, b) }
