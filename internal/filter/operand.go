package filter

import (
	"bytes"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratahq/strata/internal/parquetio"
)

// operand is a literal bound to the type of its column.
type operand struct {
	// cmp returns the sign of (v - literal) for a non-NULL value v, and
	// false when v is of a kind the literal cannot be compared with. A
	// retrieval casts values of a file written before the column changed
	// type to the type the filter was bound to before it matches them
	// (package retrieve, types.go), so rows never meet this; row-group
	// bounds that do are not used.
	cmp func(v parquetio.Value) (int, bool)
	// arg is the SQL parameter and cast its cast, e.g. "::bigint".
	arg  any
	cast string
}

// bindOperands converts the literals compared with column c (one for a
// comparison, several for IN) and returns the SQL for the column, cast so
// that PostgreSQL compares as the archive does. at is the column's offset.
func bindOperands(c column, at int, lits []literal) (string, []operand, error) {
	colSQL := pgx.Identifier{c.name}.Sanitize()
	if c.array {
		return "", nil, errorf(at, "column %s is %s, an array: only IS NULL and IS NOT NULL can test it",
			quoteIdent(c.name), c.typeName)
	}
	var conv func(column, literal) (operand, error)
	switch c.kind {
	case parquetio.KindInt16, parquetio.KindInt32, parquetio.KindInt64:
		conv = intOperand
	case parquetio.KindFloat32, parquetio.KindFloat64:
		conv = floatOperand
	case parquetio.KindNumeric:
		conv = numericOperand
	case parquetio.KindText, parquetio.KindEnum:
		conv, colSQL = textOperand, colSQL+`::text COLLATE "C"`
	case parquetio.KindBool:
		conv = boolOperand
	case parquetio.KindUUID:
		conv = uuidOperand
	case parquetio.KindTime:
		conv = clockOperand
	case parquetio.KindDate, parquetio.KindTimestamp, parquetio.KindTimestamptz:
		return bindTimes(c, colSQL, lits)
	default:
		return "", nil, errorf(at, "column %s is %s, which a filter cannot compare: only IS NULL and IS NOT NULL can test it",
			quoteIdent(c.name), c.typeName)
	}
	ops := make([]operand, len(lits))
	for i, l := range lits {
		o, err := conv(c, l)
		if err != nil {
			return "", nil, err
		}
		ops[i] = o
	}
	return colSQL, ops, nil
}

// typeError is the error for a literal that does not suit its column.
func typeError(c column, l literal, want string) error {
	return errorf(l.pos, "column %s is %s: compare it with %s (found %s)", quoteIdent(c.name), c.typeName, want, l.describe())
}

// intOperand binds a number to a smallint, integer or bigint column. A
// literal that is no integer or is out of range compares exactly, as
// PostgreSQL compares an integer with a numeric: x = 1.5 is never TRUE,
// x < 1.5 is x <= 1, and a smallint is below 100000.
func intOperand(c column, l literal) (operand, error) {
	if l.kind != litNumber {
		return operand{}, typeError(c, l, "a number, e.g. "+quoteIdent(c.name)+" >= 100")
	}
	mant, exp := parseDecimal(l.text)
	r := ratOf(mant, exp)
	if r.IsInt() && r.Num().IsInt64() {
		i := r.Num().Int64()
		return operand{cmp: intCmp(i, false), arg: i, cast: "::bigint"}, nil
	}
	o := operand{arg: pgtype.Numeric{Int: mant, Exp: exp, Valid: true}, cast: "::numeric"}
	floor := new(big.Int).Div(r.Num(), r.Denom()) // Euclidean: the floor, as Denom > 0
	switch {
	case !floor.IsInt64() && r.Sign() > 0:
		o.cmp = constCmp(-1, isInt)
	case !floor.IsInt64():
		o.cmp = constCmp(1, isInt)
	default:
		o.cmp = intCmp(floor.Int64(), !r.IsInt())
	}
	return o, nil
}

func isInt(k parquetio.Kind) bool {
	return k == parquetio.KindInt16 || k == parquetio.KindInt32 || k == parquetio.KindInt64
}

// intCmp compares an integer value with n, or with a number just above n
// (between n and n+1) when frac.
func intCmp(n int64, frac bool) func(parquetio.Value) (int, bool) {
	return func(v parquetio.Value) (int, bool) {
		if !isInt(v.Kind()) {
			return 0, false
		}
		x := v.Int64()
		switch {
		case x < n || (x == n && frac):
			return -1, true
		case x > n:
			return 1, true
		}
		return 0, true
	}
}

// constCmp compares every value of an accepted kind as c.
func constCmp(c int, accept func(parquetio.Kind) bool) func(parquetio.Value) (int, bool) {
	return func(v parquetio.Value) (int, bool) { return c, accept(v.Kind()) }
}

// parseDecimal splits a number literal (-?digits[.digits][e[+-]digits],
// checked by the lexer) into mant * 10^exp.
func parseDecimal(s string) (mant *big.Int, exp int32) {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, _ := strconv.Atoi(s[i+1:]) // at most maxExponent in magnitude
		exp, s = int32(e), s[:i]
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		exp -= int32(len(s) - i - 1)
		s = s[:i] + s[i+1:]
	}
	mant, _ = new(big.Int).SetString(s, 10) // "-" and "" cannot occur: the lexer wants a digit
	return mant, exp
}

// ratOf is mant * 10^exp.
func ratOf(mant *big.Int, exp int32) *big.Rat {
	p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs32(exp))), nil)
	if exp >= 0 {
		return new(big.Rat).SetInt(new(big.Int).Mul(mant, p))
	}
	return new(big.Rat).SetFrac(mant, p)
}

func abs32(x int32) int32 {
	if x < 0 {
		return -x
	}
	return x
}

// textOperand binds a string to a text-like or enum column. Values compare
// bytewise, as PostgreSQL does under COLLATE "C"; for a character(n)
// column the value and the literal lose their trailing spaces first, as
// PostgreSQL compares character(n) with a string literal (which it reads
// as character).
func textOperand(c column, l literal) (operand, error) {
	if l.kind != litString {
		return operand{}, typeError(c, l, "a string in single quotes, e.g. "+quoteIdent(c.name)+" = 'shipped'")
	}
	lit, bpchar := []byte(l.text), c.bpchar
	if bpchar {
		lit = bytes.TrimRight(lit, " ")
	}
	cmp := func(v parquetio.Value) (int, bool) {
		k := v.Kind()
		if k != parquetio.KindText && k != parquetio.KindEnum {
			return 0, false
		}
		b := v.Bytes()
		if bpchar {
			b = bytes.TrimRight(b, " ")
		}
		return bytes.Compare(b, lit), true
	}
	return operand{cmp: cmp, arg: string(lit), cast: "::text"}, nil
}

// boolOperand binds TRUE or FALSE to a boolean column (FALSE < TRUE).
func boolOperand(c column, l literal) (operand, error) {
	if l.kind != litBool {
		return operand{}, typeError(c, l, "TRUE or FALSE")
	}
	lit := l.text == "TRUE"
	cmp := func(v parquetio.Value) (int, bool) {
		if v.Kind() != parquetio.KindBool {
			return 0, false
		}
		return boolInt(v.Bool()) - boolInt(lit), true
	}
	return operand{cmp: cmp, arg: lit, cast: "::boolean"}, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// cmpInt64 is the sign of a - b.
func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pgCmpFloat orders floats as PostgreSQL does: NaN equals NaN and is above
// every number, -0 equals 0.
func pgCmpFloat(a, b float64) int {
	switch an, bn := math.IsNaN(a), math.IsNaN(b); {
	case an || bn:
		return boolInt(an) - boolInt(bn)
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
