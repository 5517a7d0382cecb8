package filter

import "github.com/stratahq/strata/internal/parquetio"

// op is a comparison operator.
type op uint8

const (
	opEQ op = iota
	opNE
	opLT
	opLE
	opGT
	opGE
)

var opText = [...]string{opEQ: "=", opNE: "<>", opLT: "<", opLE: "<=", opGT: ">", opGE: ">="}

func parseOp(s string) op {
	for o, t := range opText {
		if t == s {
			return op(o)
		}
	}
	panic("filter: unknown operator " + s) // the parser produces only the six above
}

// negate returns the operator that is TRUE exactly when o is FALSE, for
// non-NULL operands of a total order.
func (o op) negate() op {
	return [...]op{opEQ: opNE, opNE: opEQ, opLT: opGE, opLE: opGT, opGT: opLE, opGE: opLT}[o]
}

// holds reports whether o holds when the row's value compares as c (the
// sign of value - literal).
func (o op) holds(c int) bool {
	switch o {
	case opEQ:
		return c == 0
	case opNE:
		return c != 0
	case opLT:
		return c < 0
	case opLE:
		return c <= 0
	case opGT:
		return c > 0
	}
	return c >= 0
}

// mayHold reports whether o can hold for some value between a group's
// minimum and maximum, which compare with the literal as lo and hi.
func (o op) mayHold(lo, hi int) bool {
	switch o {
	case opEQ:
		return lo <= 0 && hi >= 0
	case opNE:
		return lo != 0 || hi != 0
	case opLT:
		return lo < 0
	case opLE:
		return lo <= 0
	case opGT:
		return hi > 0
	}
	return hi >= 0
}

// node is a bound condition. With NOT pushed down to the leaves a tree is
// monotone, so a node is TRUE for a row exactly when its AND-children are
// all TRUE or one of its OR-children is: FALSE and NULL need no telling
// apart.
type node interface {
	// match reports whether the condition is TRUE for the row.
	match(m *Matcher, row []parquetio.Value) bool
	// mayMatch reports whether the condition can be TRUE for a row of g.
	mayMatch(f *Filter, g *group) bool
	// writeSQL renders the condition as a parenthesised SQL expression.
	writeSQL(f *Filter, w *sqlWriter)
}

type andNode []node

type orNode []node

// cmpNode is col op literal.
type cmpNode struct {
	col    int // in Filter.cols
	op     op
	lit    operand
	colSQL string
}

// inNode is col [NOT] IN (literals).
type inNode struct {
	col    int
	not    bool
	lits   []operand
	colSQL string
}

// nullNode is col IS [NOT] NULL.
type nullNode struct {
	col int
	not bool
}
