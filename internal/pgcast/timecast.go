package pgcast

import (
	"math"

	"github.com/stratahq/strata/internal/parquetio"
)

const microsPerDay = 86_400_000_000

// pgEpochMicros is 2000-01-01 in microseconds since 1970.
const pgEpochMicros = 946_684_800_000_000

// isTimestamp reports whether k is date, timestamp or timestamptz.
func isTimestamp(k parquetio.Kind) bool {
	return k == parquetio.KindDate || k == parquetio.KindTimestamp || k == parquetio.KindTimestamptz
}

// instant is a date, timestamp or timestamptz value as microseconds since
// 1970 UTC (a date at its midnight, a timestamp by its wall clock),
// ±infinity as the int64 extremes; ok is false for a date whose midnight
// does not fit.
func instant(v parquetio.Value) (int64, bool) {
	if v.Kind() != parquetio.KindDate {
		return v.Int64(), true
	}
	switch d := v.Int64(); d {
	case math.MaxInt32:
		return math.MaxInt64, true
	case math.MinInt32:
		return math.MinInt64, true
	default:
		if d > (math.MaxInt64-1)/microsPerDay || d < (math.MinInt64+1)/microsPerDay {
			return 0, false
		}
		return d * microsPerDay, true
	}
}

// toTimestamp casts date, timestamp and timestamptz among themselves, in
// UTC: a date becomes its midnight, a time of day its date, ±infinity
// stays; then the target's fractional digits round the microseconds (half
// away from zero, as PostgreSQL does).
func toTimestamp(f, t Type) scalarConv {
	if !isTimestamp(f.Kind) {
		return nil
	}
	k := t.Kind
	return func(v parquetio.Value, _ *[]byte) (parquetio.Value, string) {
		us, ok := instant(v)
		if !ok {
			return parquetio.Value{}, "date out of range for " + k.String()
		}
		if k == parquetio.KindDate {
			switch us {
			case math.MaxInt64:
				return parquetio.IntValue(k, math.MaxInt32), ""
			case math.MinInt64:
				return parquetio.IntValue(k, math.MinInt32), ""
			}
			return parquetio.IntValue(k, floorDiv(us, microsPerDay)), ""
		}
		if us != math.MaxInt64 && us != math.MinInt64 && t.Fraction >= 0 && t.Fraction < 6 {
			// PostgreSQL rounds half away from zero on its own epoch, 2000-01-01.
			us = roundFraction(us-pgEpochMicros, t.Fraction) + pgEpochMicros
		}
		return parquetio.IntValue(k, us), ""
	}
}

// toTime casts time (to another precision), timestamp and timestamptz
// (their time of day in UTC; ±infinity has none and becomes NULL, as in
// PostgreSQL) to time.
func toTime(f, t Type) (scalarConv, bool) {
	if f.Kind != parquetio.KindTime && f.Kind != parquetio.KindTimestamp && f.Kind != parquetio.KindTimestamptz {
		return nil, false
	}
	conv := func(v parquetio.Value, _ *[]byte) (parquetio.Value, string) {
		us := v.Int64()
		if f.Kind != parquetio.KindTime {
			if us == math.MaxInt64 || us == math.MinInt64 {
				return parquetio.NullValue(parquetio.KindTime), ""
			}
			_, us = floorDivMod(us, microsPerDay)
		}
		return parquetio.IntValue(parquetio.KindTime, roundFraction(us, t.Fraction)), ""
	}
	return conv, f.Kind == parquetio.KindTime
}

// roundFraction rounds microseconds to digits fractional digits of a
// second (-1 or 6: unchanged), half away from zero.
func roundFraction(us int64, digits int) int64 {
	if digits < 0 || digits >= 6 {
		return us
	}
	unit := int64(math.Pow10(6 - digits))
	if us < 0 {
		return -((-us + unit/2) / unit * unit)
	}
	return (us + unit/2) / unit * unit
}

func floorDiv(a, b int64) int64 {
	q, _ := floorDivMod(a, b)
	return q
}

func floorDivMod(a, b int64) (int64, int64) {
	q, r := a/b, a%b
	if r < 0 {
		q, r = q-1, r+b
	}
	return q, r
}

// toJSON casts json and jsonb both ways: jsonb's text is valid json, and
// json becomes jsonb's normalized text.
func toJSON(f, t Type) scalarConv {
	switch {
	case f.Kind == parquetio.KindJSONB && t.Kind == parquetio.KindJSON,
		f.Kind == t.Kind:
		return func(v parquetio.Value, _ *[]byte) (parquetio.Value, string) {
			return parquetio.BytesValue(t.Kind, v.Bytes()), ""
		}
	case f.Kind == parquetio.KindJSON && t.Kind == parquetio.KindJSONB:
		return func(v parquetio.Value, arena *[]byte) (parquetio.Value, string) {
			start := len(*arena)
			out, reason := appendJSONB(*arena, v.Bytes())
			if reason != "" {
				return parquetio.Value{}, reason
			}
			*arena = out
			return parquetio.BytesValue(parquetio.KindJSONB, out[start:len(out):len(out)]), ""
		}
	}
	return nil
}
