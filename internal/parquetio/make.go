package parquetio

import "math"

// The constructors below build non-NULL values of a kind, for code that
// converts archived values to another type (package pgcast). Each takes
// the representation the matching accessor returns.

// IntValue returns a value of an integer kind, or a date (days since 1970,
// ±infinity as the int32 extremes), time (microseconds since midnight) or
// timestamp (microseconds since 1970, ±infinity as the int64 extremes).
func IntValue(k Kind, i int64) Value { return Value{kind: k, i: i} }

// FloatValue returns a real (f rounded to float32) or double precision value.
func FloatValue(k Kind, f float64) Value {
	if k == KindFloat32 {
		return Value{kind: k, i: int64(math.Float32bits(float32(f)))}
	}
	return Value{kind: KindFloat64, i: int64(math.Float64bits(f))}
}

// BoolValue returns a boolean value.
func BoolValue(b bool) Value {
	v := Value{kind: KindBool}
	if b {
		v.i = 1
	}
	return v
}

// BytesValue returns a value of a kind stored as bytes (text, numeric,
// enum, interval, json, jsonb, bytea, uuid), sharing b.
func BytesValue(k Kind, b []byte) Value { return Value{kind: k, b: b} }

// ArrayValue returns an array of elements of kind k (empty when elems is
// empty; NullArray is the NULL array), sharing elems.
func ArrayValue(k Kind, elems []Value) Value {
	if elems == nil {
		elems = []Value{}
	}
	return Value{kind: k, array: true, elems: elems}
}

// NullArray returns a NULL array of element kind k.
func NullArray(k Kind) Value { return Value{kind: k, array: true, null: true} }
