package parquetio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/parquet-go/parquet-go"
)

// PostgreSQL counts timestamps from 2000-01-01; Parquet from 1970-01-01.
const (
	pgEpochMicros = 946684800000000
	pgEpochDays   = 10957
	microsPerDay  = 86400000000
)

// errShort reports a binary value of the wrong length: the query was not run
// with the schema's select list and result formats.
var errShort = errors.New("binary value has an unexpected length: run the query with Schema.SelectList and pgx.QueryResultFormats(Schema.ResultFormats())")

// scalarValue decodes one non-NULL value in PostgreSQL's binary format into
// a parquet.Value. Byte data is copied into *arena, because raw is only
// valid during the WriteRaw call.
func scalarValue(k Kind, raw []byte, arena *[]byte) (parquet.Value, error) {
	switch k {
	case KindBool:
		if len(raw) != 1 {
			return parquet.Value{}, errShort
		}
		return parquet.BooleanValue(raw[0] != 0), nil
	case KindInt16:
		if len(raw) != 2 {
			return parquet.Value{}, errShort
		}
		return parquet.Int32Value(int32(int16(binary.BigEndian.Uint16(raw)))), nil
	case KindInt32:
		if len(raw) != 4 {
			return parquet.Value{}, errShort
		}
		return parquet.Int32Value(int32(binary.BigEndian.Uint32(raw))), nil
	case KindFloat32:
		if len(raw) != 4 {
			return parquet.Value{}, errShort
		}
		return parquet.FloatValue(math.Float32frombits(binary.BigEndian.Uint32(raw))), nil
	case KindInt64, KindTime, KindFloat64:
		return fixed64Value(k, raw)
	case KindTimestamp, KindTimestamptz:
		return timestampValue(raw)
	case KindDate:
		return dateValue(raw)
	}
	return bytesValue(k, raw, arena)
}

func fixed64Value(k Kind, raw []byte) (parquet.Value, error) {
	if len(raw) != 8 {
		return parquet.Value{}, errShort
	}
	u := binary.BigEndian.Uint64(raw)
	if k == KindFloat64 {
		return parquet.DoubleValue(math.Float64frombits(u)), nil
	}
	return parquet.Int64Value(int64(u)), nil
}

// timestampValue converts to microseconds since 1970, keeping PostgreSQL's
// ±infinity sentinels (the int64 extremes) as they are.
func timestampValue(raw []byte) (parquet.Value, error) {
	if len(raw) != 8 {
		return parquet.Value{}, errShort
	}
	ts := int64(binary.BigEndian.Uint64(raw))
	if ts == math.MaxInt64 || ts == math.MinInt64 {
		return parquet.Int64Value(ts), nil
	}
	if ts >= math.MaxInt64-pgEpochMicros {
		return parquet.Value{}, errors.New("timestamp after year 294246 does not fit Parquet's microseconds since 1970: " +
			"correct the value or exclude the row")
	}
	return parquet.Int64Value(ts + pgEpochMicros), nil
}

// dateValue converts to days since 1970, keeping ±infinity (the int32 extremes).
func dateValue(raw []byte) (parquet.Value, error) {
	if len(raw) != 4 {
		return parquet.Value{}, errShort
	}
	d := int32(binary.BigEndian.Uint32(raw))
	if d == math.MaxInt32 || d == math.MinInt32 {
		return parquet.Int32Value(d), nil
	}
	return parquet.Int32Value(d + pgEpochDays), nil
}

// bytesValue decodes the kinds stored as byte arrays.
func bytesValue(k Kind, raw []byte, arena *[]byte) (parquet.Value, error) {
	start := len(*arena)
	var err error
	switch k {
	case KindNumeric:
		*arena, err = appendNumericBinary(*arena, raw)
	case KindInterval:
		*arena, err = appendIntervalBinary(*arena, raw)
	case KindJSONB:
		if len(raw) < 1 || raw[0] != 1 {
			return parquet.Value{}, fmt.Errorf("jsonb binary format version %v is not 1: upgrade Strata", raw[:min(len(raw), 1)])
		}
		*arena = append(*arena, raw[1:]...)
	case KindUUID:
		if len(raw) != 16 {
			return parquet.Value{}, errShort
		}
		*arena = append(*arena, raw...)
		return parquet.FixedLenByteArrayValue((*arena)[start:len(*arena):len(*arena)]), nil
	case KindText, KindEnum, KindBytea, KindJSON:
		*arena = append(*arena, raw...)
	default:
		return parquet.Value{}, fmt.Errorf("no decoder for kind %s", k)
	}
	if err != nil {
		return parquet.Value{}, err
	}
	return parquet.ByteArrayValue((*arena)[start:len(*arena):len(*arena)]), nil
}

// Numeric sign words of PostgreSQL's binary numeric.
const (
	numericPos  = 0x0000
	numericNeg  = 0x4000
	numericNaN  = 0xC000
	numericPInf = 0xD000
	numericNInf = 0xF000
)

// appendNumericBinary renders a binary numeric (ndigits, weight, sign,
// dscale, then base-10000 digits) exactly as PostgreSQL's numeric_out does.
func appendNumericBinary(dst, raw []byte) ([]byte, error) {
	if len(raw) < 8 {
		return dst, errShort
	}
	ndigits := int(binary.BigEndian.Uint16(raw))
	weight := int(int16(binary.BigEndian.Uint16(raw[2:])))
	sign := binary.BigEndian.Uint16(raw[4:])
	dscale := int(binary.BigEndian.Uint16(raw[6:]))
	if len(raw) != 8+2*ndigits {
		return dst, errShort
	}
	switch sign {
	case numericNaN:
		return append(dst, "NaN"...), nil
	case numericPInf:
		return append(dst, "Infinity"...), nil
	case numericNInf:
		return append(dst, "-Infinity"...), nil
	case numericNeg:
		dst = append(dst, '-')
	case numericPos:
	default:
		return dst, fmt.Errorf("numeric sign 0x%04x is unknown", sign)
	}
	digit := func(i int) int {
		if i < 0 || i >= ndigits {
			return 0
		}
		return int(binary.BigEndian.Uint16(raw[8+2*i:]))
	}
	if weight < 0 {
		dst = append(dst, '0')
	}
	for i := 0; i <= weight; i++ {
		if i == 0 {
			dst = appendInt(dst, int64(digit(0)))
		} else {
			dst = appendPadded(dst, digit(i), 4)
		}
	}
	if dscale > 0 {
		dst = append(dst, '.')
		end := len(dst) + dscale
		for i := weight + 1; len(dst) < end; i++ {
			dst = appendPadded(dst, digit(i), 4)
		}
		dst = dst[:end]
	}
	return dst, nil
}

// appendIntervalBinary renders a binary interval (int64 microseconds, int32
// days, int32 months) in the "postgres" IntervalStyle.
func appendIntervalBinary(dst, raw []byte) ([]byte, error) {
	if len(raw) != 16 {
		return dst, errShort
	}
	micros := int64(binary.BigEndian.Uint64(raw))
	days := int32(binary.BigEndian.Uint32(raw[8:]))
	months := int32(binary.BigEndian.Uint32(raw[12:]))
	return appendInterval(dst, months, days, micros), nil
}

// arrayHeader is the start of PostgreSQL's binary array format.
type arrayHeader struct {
	n    int    // number of elements
	rest []byte // the elements, each int32 length (-1 for NULL) + bytes
}

func parseArrayHeader(raw []byte) (arrayHeader, error) {
	if len(raw) < 12 {
		return arrayHeader{}, errShort
	}
	ndim := int32(binary.BigEndian.Uint32(raw))
	switch {
	case ndim == 0:
		return arrayHeader{}, nil
	case ndim != 1:
		return arrayHeader{}, fmt.Errorf("array has %d dimensions; Strata archives one-dimensional arrays only: "+
			"flatten the array or convert it to text or json", ndim)
	case len(raw) < 20:
		return arrayHeader{}, errShort
	}
	n := int32(binary.BigEndian.Uint32(raw[12:]))
	lbound := int32(binary.BigEndian.Uint32(raw[16:]))
	if lbound != 1 {
		return arrayHeader{}, fmt.Errorf("array has lower bound %d; Strata archives arrays starting at 1 only: "+
			"renumber it (e.g. array(SELECT unnest(a)))", lbound)
	}
	return arrayHeader{n: int(n), rest: raw[20:]}, nil
}

// next returns the next element (nil for NULL).
func (h *arrayHeader) next() ([]byte, error) {
	if len(h.rest) < 4 {
		return nil, errShort
	}
	l := int32(binary.BigEndian.Uint32(h.rest))
	h.rest = h.rest[4:]
	if l < 0 {
		return nil, nil
	}
	if int(l) > len(h.rest) {
		return nil, errShort
	}
	e := h.rest[:l:l]
	h.rest = h.rest[l:]
	if e == nil {
		e = []byte{}
	}
	return e, nil
}
