package filter

import "github.com/stratahq/strata/internal/parquetio"

// group is a row group's statistics, keyed by column name, and row count.
type group struct {
	stats map[string]parquetio.ColumnStats
	rows  int64
}

// MayMatch reports whether a row of a row group with these statistics
// (keyed by column name) and this many rows could make the filter TRUE. It
// returns false only when no row can (a group of no rows cannot): a column
// without statistics may hold anything, and one whose statistics have no
// minimum and maximum anything that its null count does not rule out. Minimum and maximum are used for integers,
// booleans, text and enums (bytewise), uuid, date, time and timestamps;
// not for real and double precision (Parquet writers order NaN
// inconsistently), numeric, or character(n).
func (f *Filter) MayMatch(stats map[string]parquetio.ColumnStats, rows int64) bool {
	if rows <= 0 {
		return false
	}
	return f.root.mayMatch(f, &group{stats: stats, rows: rows})
}

func (n andNode) mayMatch(f *Filter, g *group) bool {
	for _, k := range n {
		if !k.mayMatch(f, g) {
			return false
		}
	}
	return true
}

func (n orNode) mayMatch(f *Filter, g *group) bool {
	for _, k := range n {
		if k.mayMatch(f, g) {
			return true
		}
	}
	return false
}

// What a group's statistics tell of a column's values.
type known uint8

const (
	knownNothing known = iota // anything may be there
	knownNoValue              // every value is NULL: no comparison is TRUE
	knownBounds               // the values lie between the bounds
)

// bounds returns how the group's minimum and maximum of column c compare
// with o, when they are known.
func (g *group) bounds(f *Filter, c int, o operand) (lo, hi int, k known) {
	col := f.cols[c]
	st, ok := g.stats[col.name]
	switch {
	case !ok:
		return 0, 0, knownNothing
	case st.NullCount >= g.rows && !col.array:
		return 0, 0, knownNoValue
	case !st.HasMinMax || !ordered(col) || st.Min.IsNull() || st.Max.IsNull():
		return 0, 0, knownNothing
	}
	lo, okLo := o.cmp(st.Min)
	hi, okHi := o.cmp(st.Max)
	if !okLo || !okHi {
		return 0, 0, knownNothing
	}
	return lo, hi, knownBounds
}

// ordered reports whether Parquet statistics order c's values as the
// filter does.
func ordered(c column) bool {
	switch c.kind {
	case parquetio.KindFloat32, parquetio.KindFloat64, parquetio.KindNumeric:
		return false
	case parquetio.KindText:
		return !c.bpchar
	}
	return true
}

func (n *cmpNode) mayMatch(f *Filter, g *group) bool {
	lo, hi, k := g.bounds(f, n.col, n.lit)
	return k == knownNothing || k == knownBounds && n.op.mayHold(lo, hi)
}

// mayMatch: IN may match when one literal may equal a value; NOT IN
// unless every value equals one literal.
func (n *inNode) mayMatch(f *Filter, g *group) bool {
	for _, l := range n.lits {
		lo, hi, k := g.bounds(f, n.col, l)
		switch {
		case k == knownNothing:
			return true
		case k == knownNoValue:
			return false
		case opEQ.mayHold(lo, hi) && !n.not:
			return true
		case !opNE.mayHold(lo, hi) && n.not:
			return false
		}
	}
	return n.not
}

// mayMatch uses the null count: IS NULL needs a NULL, IS NOT NULL a value.
// An array column's null count also counts empty arrays and NULL elements,
// so it can rule out IS NULL but not IS NOT NULL.
func (n *nullNode) mayMatch(f *Filter, g *group) bool {
	col := f.cols[n.col]
	st, ok := g.stats[col.name]
	switch {
	case !ok:
		return true
	case n.not:
		return col.array || st.NullCount < g.rows
	}
	return st.NullCount > 0
}
