package filter

import (
	"errors"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratahq/strata/internal/parquetio"
)

// special reads the strings PostgreSQL accepts for the non-finite values
// of real, double precision and numeric: 'NaN', 'Infinity', '-Infinity'
// (also '+Infinity', 'inf', '+inf', '-inf'), in any case.
func special(s string) (float64, bool) {
	switch strings.ToLower(s) {
	case "nan":
		return math.NaN(), true
	case "infinity", "+infinity", "inf", "+inf":
		return math.Inf(1), true
	case "-infinity", "-inf":
		return math.Inf(-1), true
	}
	return 0, false
}

// floatOperand binds a number or a special value to a real or double
// precision column. A real value is widened to double precision, as
// PostgreSQL does when it compares real with double precision.
func floatOperand(c column, l literal) (operand, error) {
	var f float64
	switch l.kind {
	case litNumber:
		var err error
		if f, err = strconv.ParseFloat(l.text, 64); errors.Is(err, strconv.ErrRange) {
			return operand{}, errorf(l.pos, "the number %s is out of range for %s (column %s)",
				clip(l.text), c.typeName, quoteIdent(c.name))
		}
	case litString:
		var ok bool
		if f, ok = special(l.text); !ok {
			return operand{}, typeError(c, l, wantFloatFor(c))
		}
	default:
		return operand{}, typeError(c, l, wantFloatFor(c))
	}
	cmp := func(v parquetio.Value) (int, bool) {
		if k := v.Kind(); k != parquetio.KindFloat32 && k != parquetio.KindFloat64 {
			return 0, false
		}
		return pgCmpFloat(v.Float64(), f), true
	}
	return operand{cmp: cmp, arg: f, cast: "::double precision"}, nil
}

func wantFloatFor(c column) string {
	return "a number, e.g. " + quoteIdent(c.name) + " > 1.5, or 'NaN', 'Infinity' or '-Infinity'"
}

// numClass orders numeric values as PostgreSQL does: -Infinity, the finite
// numbers, Infinity, then NaN (which equals NaN).
type numClass int8

const (
	numNegInf numClass = iota
	numFinite
	numPosInf
	numNaN
)

// numericValue is a numeric value or literal.
type numericValue struct {
	class numClass
	r     *big.Rat // when finite
}

func (a numericValue) cmp(b numericValue) int {
	if a.class != b.class || a.class != numFinite {
		return cmpInt64(int64(a.class), int64(b.class))
	}
	return a.r.Cmp(b.r)
}

// parseNumericText reads numeric's text form as archived ("123.4500",
// "NaN", "Infinity", "-Infinity").
func parseNumericText(b []byte) (numericValue, bool) {
	switch string(b) {
	case "NaN":
		return numericValue{class: numNaN}, true
	case "Infinity":
		return numericValue{class: numPosInf}, true
	case "-Infinity":
		return numericValue{class: numNegInf}, true
	}
	r, ok := new(big.Rat).SetString(string(b))
	return numericValue{class: numFinite, r: r}, ok
}

// numericOperand binds a number or a special value to a numeric column;
// values compare exactly.
func numericOperand(c column, l literal) (operand, error) {
	var lit numericValue
	var arg pgtype.Numeric
	switch l.kind {
	case litNumber:
		mant, exp := parseDecimal(l.text)
		lit = numericValue{class: numFinite, r: ratOf(mant, exp)}
		arg = pgtype.Numeric{Int: mant, Exp: exp, Valid: true}
	case litString:
		f, ok := special(l.text)
		if !ok {
			return operand{}, typeError(c, l, wantFloatFor(c))
		}
		lit, arg = specialNumeric(f)
	default:
		return operand{}, typeError(c, l, wantFloatFor(c))
	}
	cmp := func(v parquetio.Value) (int, bool) {
		if v.Kind() != parquetio.KindNumeric {
			return 0, false
		}
		n, ok := parseNumericText(v.Bytes())
		if !ok {
			return 0, false
		}
		return n.cmp(lit), true
	}
	return operand{cmp: cmp, arg: arg, cast: "::numeric"}, nil
}

// specialNumeric is the numeric NaN or ±Infinity.
func specialNumeric(f float64) (numericValue, pgtype.Numeric) {
	switch {
	case math.IsNaN(f):
		return numericValue{class: numNaN}, pgtype.Numeric{NaN: true, Valid: true}
	case f > 0:
		return numericValue{class: numPosInf}, pgtype.Numeric{InfinityModifier: pgtype.Infinity, Valid: true}
	}
	return numericValue{class: numNegInf}, pgtype.Numeric{InfinityModifier: pgtype.NegativeInfinity, Valid: true}
}
