package filter

import "github.com/stratahq/strata/internal/parquetio"

// Matcher evaluates a Filter on rows of one layout. It is safe for
// concurrent use.
type Matcher struct {
	f   *Filter
	pos []int // per filter column, its position in a row, or -1
}

// Matcher returns an evaluator for rows laid out as index says: index(name)
// is the position of the named column in a row, or -1 when the rows lack
// it (a file written before the column was added), in which case the
// column reads as NULL. index is called once per column, here.
func (f *Filter) Matcher(index func(name string) int) *Matcher {
	pos := make([]int, len(f.cols))
	for i, c := range f.cols {
		pos[i] = index(c.name)
	}
	return &Matcher{f: f, pos: pos}
}

// Match reports whether the filter is TRUE for row. As in SQL's WHERE, a
// condition that is NULL (unknown, e.g. a comparison with a NULL value) is
// no match.
func (m *Matcher) Match(row []parquetio.Value) bool { return m.f.root.match(m, row) }

// value is filter column c of row, NULL when the row lacks it.
func (m *Matcher) value(row []parquetio.Value, c int) parquetio.Value {
	if p := m.pos[c]; p >= 0 && p < len(row) {
		return row[p]
	}
	return parquetio.Value{}
}

func (n andNode) match(m *Matcher, row []parquetio.Value) bool {
	for _, k := range n {
		if !k.match(m, row) {
			return false
		}
	}
	return true
}

func (n orNode) match(m *Matcher, row []parquetio.Value) bool {
	for _, k := range n {
		if k.match(m, row) {
			return true
		}
	}
	return false
}

func (n *cmpNode) match(m *Matcher, row []parquetio.Value) bool {
	v := m.value(row, n.col)
	if v.IsNull() || v.IsArray() {
		return false
	}
	c, ok := n.lit.cmp(v)
	return ok && n.op.holds(c)
}

// match is TRUE for IN when the value equals a literal, and for NOT IN
// when it equals none (the literals are never NULL).
func (n *inNode) match(m *Matcher, row []parquetio.Value) bool {
	v := m.value(row, n.col)
	if v.IsNull() || v.IsArray() {
		return false
	}
	for _, l := range n.lits {
		c, ok := l.cmp(v)
		if !ok {
			return false
		}
		if c == 0 {
			return !n.not
		}
	}
	return n.not
}

func (n *nullNode) match(m *Matcher, row []parquetio.Value) bool {
	return m.value(row, n.col).IsNull() != n.not
}
