package pgcast

import (
	"math/big"
	"strconv"
	"strings"
)

// decClass tells finite numerics from NaN and the infinities.
type decClass uint8

const (
	decFinite decClass = iota
	decNaN
	decPosInf
	decNegInf
)

// decimal is a numeric value as PostgreSQL keeps it: unscaled / 10^scale,
// where scale is the display scale (the digits shown after the point).
type decimal struct {
	class    decClass
	unscaled *big.Int
	scale    int32
}

var bigTen = big.NewInt(10)

func pow10(n int32) *big.Int { return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil) }

// parseDecimal reads a numeric as written: an optional sign, digits with
// an optional point, an optional exponent (JSON numbers, C's %g), or NaN,
// Infinity, -Infinity. The display scale is the digits after the point
// less the exponent, at least 0, as PostgreSQL's numeric input sets it.
func parseDecimal(s string) (decimal, bool) {
	switch s {
	case "NaN":
		return decimal{class: decNaN}, true
	case "Infinity":
		return decimal{class: decPosInf}, true
	case "-Infinity":
		return decimal{class: decNegInf}, true
	}
	var exp int64
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(s[i+1:], 10, 32)
		if err != nil {
			return decimal{}, false
		}
		exp, s = e, s[:i]
	}
	frac := int64(0)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		frac = int64(len(s) - i - 1)
		s = s[:i] + s[i+1:]
	}
	u, ok := new(big.Int).SetString(s, 10)
	if !ok || strings.HasPrefix(s, "+") {
		return decimal{}, false
	}
	scale := frac - exp
	if scale < 0 {
		u.Mul(u, pow10(int32(-scale)))
		scale = 0
	}
	if scale > 1<<20 {
		return decimal{}, false
	}
	return decimal{unscaled: u, scale: int32(scale)}, true
}

// decimalOfInt is an integer as numeric (scale 0).
func decimalOfInt(i int64) decimal { return decimal{unscaled: big.NewInt(i)} }

// round returns d rounded (half away from zero, as PostgreSQL rounds
// numerics) or padded to scale digits after the point.
func (d decimal) round(scale int32) decimal {
	if d.class != decFinite || scale == d.scale {
		return d
	}
	if scale > d.scale {
		u := new(big.Int).Mul(d.unscaled, pow10(scale-d.scale))
		return decimal{unscaled: u, scale: scale}
	}
	p := pow10(d.scale - scale)
	q, r := new(big.Int).QuoRem(d.unscaled, p, new(big.Int)) // truncates toward zero
	if r.Sign() != 0 && new(big.Int).Mul(new(big.Int).Abs(r), big.NewInt(2)).Cmp(p) >= 0 {
		if d.unscaled.Sign() < 0 {
			q.Sub(q, big.NewInt(1))
		} else {
			q.Add(q, big.NewInt(1))
		}
	}
	if scale < 0 { // numeric(p, -s): rounded to tens, hundreds, ...; shown without a point
		return decimal{unscaled: q.Mul(q, pow10(-scale))}
	}
	return decimal{unscaled: q, scale: scale}
}

// intDigits is the number of digits before the point (0 for |d| < 1).
func (d decimal) intDigits() int {
	q := new(big.Int).Quo(new(big.Int).Abs(d.unscaled), pow10(d.scale))
	if q.Sign() == 0 {
		return 0
	}
	return len(q.String())
}

// typmod applies numeric(precision, scale) as PostgreSQL's apply_typmod
// does: round to the scale, then refuse a value with more than
// precision - scale digits before the point, and the infinities.
func (d decimal) typmod(precision, scale int) (decimal, string) {
	if precision == 0 || d.class == decNaN {
		return d, ""
	}
	if d.class != decFinite {
		return d, "numeric field overflow: a numeric(" + strconv.Itoa(precision) + "," + strconv.Itoa(scale) + ") cannot hold an infinite value"
	}
	r := d.round(int32(scale))
	if r.intDigits() > precision-scale {
		return d, "numeric field overflow: a numeric(" + strconv.Itoa(precision) + "," + strconv.Itoa(scale) +
			") must round to an absolute value less than 10^" + strconv.Itoa(precision-scale)
	}
	return r, ""
}

// appendText writes d as numeric_out does: every digit of the display scale.
func (d decimal) appendText(dst []byte) []byte {
	switch d.class {
	case decNaN:
		return append(dst, "NaN"...)
	case decPosInf:
		return append(dst, "Infinity"...)
	case decNegInf:
		return append(dst, "-Infinity"...)
	}
	s := new(big.Int).Abs(d.unscaled).String()
	if d.unscaled.Sign() < 0 {
		dst = append(dst, '-')
	}
	if d.scale <= 0 {
		return append(dst, s...)
	}
	if len(s) <= int(d.scale) {
		s = strings.Repeat("0", int(d.scale)-len(s)+1) + s
	}
	cut := len(s) - int(d.scale)
	dst = append(dst, s[:cut]...)
	dst = append(dst, '.')
	return append(dst, s[cut:]...)
}
