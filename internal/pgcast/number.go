package pgcast

import (
	"math"
	"math/big"
	"strconv"

	"github.com/stratahq/strata/internal/parquetio"
)

// intRange is the range of an integer kind.
func intRange(k parquetio.Kind) (lo, hi int64) {
	switch k {
	case parquetio.KindInt16:
		return math.MinInt16, math.MaxInt16
	case parquetio.KindInt32:
		return math.MinInt32, math.MaxInt32
	}
	return math.MinInt64, math.MaxInt64
}

// outOfRange is PostgreSQL's reason for an integer that does not fit.
func outOfRange(k parquetio.Kind) string { return k.String() + " out of range" }

// toInt casts integers (range checked), floats (rounded half to even, as
// rint does) and numerics (rounded half away from zero) to an integer kind.
func toInt(f, t Type) scalarConv {
	lo, hi := intRange(t.Kind)
	k := t.Kind
	fit := func(i int64) (parquetio.Value, string) {
		if i < lo || i > hi {
			return parquetio.Value{}, outOfRange(k)
		}
		return parquetio.IntValue(k, i), ""
	}
	switch {
	case isInt(f.Kind):
		return func(v parquetio.Value, _ *[]byte) (parquetio.Value, string) { return fit(v.Int64()) }
	case f.Kind == parquetio.KindFloat32 || f.Kind == parquetio.KindFloat64:
		return func(v parquetio.Value, _ *[]byte) (parquetio.Value, string) {
			x := math.RoundToEven(v.Float64())
			if math.IsNaN(x) || x < -9223372036854775808.0 || x >= 9223372036854775808.0 {
				return parquetio.Value{}, outOfRange(k)
			}
			return fit(int64(x))
		}
	case f.Kind == parquetio.KindNumeric:
		return func(v parquetio.Value, _ *[]byte) (parquetio.Value, string) {
			d, ok := parseDecimal(string(v.Bytes()))
			switch {
			case !ok:
				return parquetio.Value{}, "not a numeric"
			case d.class == decNaN:
				return parquetio.Value{}, "cannot convert NaN to " + k.String()
			case d.class != decFinite:
				return parquetio.Value{}, "cannot convert infinity to " + k.String()
			}
			r := d.round(0).unscaled
			if !r.IsInt64() {
				return parquetio.Value{}, outOfRange(k)
			}
			return fit(r.Int64())
		}
	}
	return nil
}

// toFloat casts integers (rounded to nearest), floats (real to double
// precision exactly, double precision to real refusing overflow and
// underflow) and numerics (their text read as float8in and float4in read
// it) to real or double precision.
func toFloat(f, t Type) scalarConv {
	k := t.Kind
	bits := 64
	if k == parquetio.KindFloat32 {
		bits = 32
	}
	switch {
	case isInt(f.Kind):
		return func(v parquetio.Value, _ *[]byte) (parquetio.Value, string) {
			if k == parquetio.KindFloat32 {
				return parquetio.FloatValue(k, float64(float32(v.Int64()))), ""
			}
			return parquetio.FloatValue(k, float64(v.Int64())), ""
		}
	case f.Kind == parquetio.KindFloat32 || f.Kind == parquetio.KindFloat64:
		return func(v parquetio.Value, _ *[]byte) (parquetio.Value, string) {
			x := v.Float64()
			if k == parquetio.KindFloat32 {
				y := float32(x)
				if math.IsInf(float64(y), 0) && !math.IsInf(x, 0) {
					return parquetio.Value{}, "value out of range: overflow"
				}
				if y == 0 && x != 0 {
					return parquetio.Value{}, "value out of range: underflow"
				}
			}
			return parquetio.FloatValue(k, x), ""
		}
	case f.Kind == parquetio.KindNumeric:
		return func(v parquetio.Value, _ *[]byte) (parquetio.Value, string) {
			return numericToFloat(string(v.Bytes()), k, bits)
		}
	}
	return nil
}

// numericToFloat reads a numeric's text as float8in or float4in does:
// rounded to nearest, refusing a finite value that overflows or becomes 0.
func numericToFloat(s string, k parquetio.Kind, bits int) (parquetio.Value, string) {
	switch s {
	case "NaN":
		return parquetio.FloatValue(k, math.NaN()), ""
	case "Infinity":
		return parquetio.FloatValue(k, math.Inf(1)), ""
	case "-Infinity":
		return parquetio.FloatValue(k, math.Inf(-1)), ""
	}
	x, err := strconv.ParseFloat(s, bits)
	if err != nil || math.IsInf(x, 0) {
		return parquetio.Value{}, "out of range for type " + k.String()
	}
	if x == 0 {
		if d, ok := parseDecimal(s); !ok || d.unscaled.Sign() != 0 {
			return parquetio.Value{}, "out of range for type " + k.String()
		}
	}
	return parquetio.FloatValue(k, x), ""
}

// toNumeric casts integers, floats (rounded to 15 significant digits for
// double precision and 6 for real, as PostgreSQL's float8_numeric and
// float4_numeric print them) and numerics to numeric, then applies the
// target's precision and scale.
func toNumeric(f, t Type) scalarConv {
	var read func(v parquetio.Value) (decimal, string)
	switch {
	case isInt(f.Kind):
		read = func(v parquetio.Value) (decimal, string) { return decimalOfInt(v.Int64()), "" }
	case f.Kind == parquetio.KindFloat32 || f.Kind == parquetio.KindFloat64:
		digits := 15
		if f.Kind == parquetio.KindFloat32 {
			digits = 6
		}
		read = func(v parquetio.Value) (decimal, string) { return decimalOfFloat(v.Float64(), digits), "" }
	case f.Kind == parquetio.KindNumeric:
		if t.Precision == 0 {
			return func(v parquetio.Value, _ *[]byte) (parquetio.Value, string) { return v, "" }
		}
		read = func(v parquetio.Value) (decimal, string) {
			d, ok := parseDecimal(string(v.Bytes()))
			if !ok {
				return d, "not a numeric"
			}
			return d, ""
		}
	default:
		return nil
	}
	return func(v parquetio.Value, arena *[]byte) (parquetio.Value, string) {
		d, reason := read(v)
		if reason == "" {
			d, reason = d.typmod(t.Precision, t.Scale)
		}
		if reason != "" {
			return parquetio.Value{}, reason
		}
		start := len(*arena)
		*arena = d.appendText(*arena)
		return parquetio.BytesValue(parquetio.KindNumeric, (*arena)[start:len(*arena):len(*arena)]), ""
	}
}

// decimalOfFloat is x printed with %.{digits}g and read as numeric.
func decimalOfFloat(x float64, digits int) decimal {
	switch {
	case math.IsNaN(x):
		return decimal{class: decNaN}
	case math.IsInf(x, 1):
		return decimal{class: decPosInf}
	case math.IsInf(x, -1):
		return decimal{class: decNegInf}
	}
	s := strconv.FormatFloat(x, 'e', digits-1, 64) // d.ddde±XX, rounded half to even as printf does
	mant, exp := s, 0
	if i := indexE(s); i >= 0 {
		mant = s[:i]
		exp, _ = strconv.Atoi(s[i+1:])
	}
	neg := mant[0] == '-'
	digitsOnly := []byte{}
	for _, c := range []byte(mant) {
		if c >= '0' && c <= '9' {
			digitsOnly = append(digitsOnly, c)
		}
	}
	for len(digitsOnly) > 1 && digitsOnly[len(digitsOnly)-1] == '0' { // %g drops trailing zeros
		digitsOnly = digitsOnly[:len(digitsOnly)-1]
	}
	u, _ := new(big.Int).SetString(string(digitsOnly), 10)
	if neg {
		u.Neg(u)
	}
	scale := int32(len(digitsOnly) - 1 - exp)
	if scale < 0 {
		return decimal{unscaled: u.Mul(u, pow10(-scale))}
	}
	return decimal{unscaled: u, scale: scale}
}

func indexE(s string) int {
	for i := range len(s) {
		if s[i] == 'e' {
			return i
		}
	}
	return -1
}
