package filter

import (
	"fmt"
	"strings"

	"github.com/stratahq/strata/internal/parquetio"
)

// Filter is an expression bound to a schema: type-checked, with its
// literals converted to the types of their columns and NOT pushed down to
// the conditions (exact under SQL's three-valued logic), so that what is
// left is a tree of AND and OR over conditions that are each TRUE, FALSE or
// NULL. A Filter is immutable and safe for concurrent use.
type Filter struct {
	root node
	cols []column // the columns read, in order of first use
}

// column is a column the filter reads.
type column struct {
	name     string
	typeName string // as format_type spells it, for messages
	kind     parquetio.Kind
	array    bool
	bpchar   bool // character(n): compared without its trailing spaces
}

// Bind type-checks e against the columns of the data and returns the
// Filter. Every problem with the expression (an unknown column, a literal
// of the wrong type, a comparison on a type that has no order) is an
// *Error at the offending name or literal; columns that parquetio cannot
// describe are an ordinary error.
func Bind(e Expr, cols []parquetio.Column) (*Filter, error) {
	s, err := parquetio.NewSchema(cols)
	if err != nil {
		return nil, fmt.Errorf("bind filter: %w", err)
	}
	b := &binder{schema: s, cols: cols, index: map[string]int{}}
	root, err := b.bind(e, false)
	if err != nil {
		return nil, err
	}
	return &Filter{root: root, cols: b.used}, nil
}

// Columns lists the names of the columns the filter reads, without
// duplicates, in order of first use.
func (f *Filter) Columns() []string {
	names := make([]string, len(f.cols))
	for i, c := range f.cols {
		names[i] = c.name
	}
	return names
}

// binder binds one expression.
type binder struct {
	schema *parquetio.Schema
	cols   []parquetio.Column
	used   []column
	index  map[string]int // name -> position in used
}

// bind converts e, negated when neg, pushing NOT down: NOT (a AND b) is
// NOT a OR NOT b, NOT x < 1 is x >= 1, NOT x IN (..) is x NOT IN (..),
// NOT x IS NULL is x IS NOT NULL. Each holds for TRUE, FALSE and NULL.
func (b *binder) bind(e Expr, neg bool) (node, error) {
	switch e := e.(type) {
	case *andExpr:
		return b.bindAll(e.terms, neg, !neg)
	case *orExpr:
		return b.bindAll(e.terms, neg, neg)
	case *notExpr:
		return b.bind(e.x, !neg)
	case *nullExpr:
		c, err := b.column(e.col)
		return &nullNode{col: c, not: e.not != neg}, err
	case *cmpExpr:
		return b.bindCmp(e, neg)
	case *inExpr:
		return b.bindIn(e, neg)
	}
	return nil, fmt.Errorf("bind filter: %T is not an expression from filter.Parse", e)
}

// bindAll binds the terms of a chain into an AND (and) or an OR.
func (b *binder) bindAll(terms []Expr, neg, and bool) (node, error) {
	kids := make([]node, len(terms))
	for i, t := range terms {
		k, err := b.bind(t, neg)
		if err != nil {
			return nil, err
		}
		kids[i] = k
	}
	if and {
		return andNode(kids), nil
	}
	return orNode(kids), nil
}

func (b *binder) bindCmp(e *cmpExpr, neg bool) (node, error) {
	c, err := b.column(e.col)
	if err != nil {
		return nil, err
	}
	col := b.used[c]
	colSQL, ops, err := bindOperands(col, e.col.pos, []literal{e.lit})
	if err != nil {
		return nil, err
	}
	o := parseOp(e.op)
	if neg {
		o = o.negate()
	}
	return &cmpNode{col: c, op: o, lit: ops[0], colSQL: colSQL}, nil
}

func (b *binder) bindIn(e *inExpr, neg bool) (node, error) {
	c, err := b.column(e.col)
	if err != nil {
		return nil, err
	}
	colSQL, ops, err := bindOperands(b.used[c], e.col.pos, e.lits)
	if err != nil {
		return nil, err
	}
	return &inNode{col: c, not: e.not != neg, lits: ops, colSQL: colSQL}, nil
}

// column resolves a name to its position in b.used, adding it on first use.
func (b *binder) column(id ident) (int, error) {
	if i, ok := b.index[id.name]; ok {
		return i, nil
	}
	i := b.schema.Index(id.name)
	if i < 0 {
		return 0, b.unknown(id)
	}
	k, array := b.schema.Kind(i)
	c := b.cols[i]
	typeName := c.TypeName
	if typeName == "" {
		typeName = k.String()
	}
	b.used = append(b.used, column{name: c.Name, typeName: typeName, kind: k, array: array, bpchar: isBpchar(c)})
	b.index[id.name] = len(b.used) - 1
	return len(b.used) - 1, nil
}

// bpcharOID is the OID of character(n).
const bpcharOID = 1042

func isBpchar(c parquetio.Column) bool {
	return c.TypeOID == bpcharOID || (c.TypType == 'd' && c.BaseOID == bpcharOID)
}

// unknown is the error for a name that is no column, listing the columns
// and suggesting the quoted spelling when only the case differs.
func (b *binder) unknown(id ident) error {
	names := make([]string, len(b.cols))
	hint := ""
	for i, c := range b.cols {
		names[i] = quoteIdent(c.Name)
		if hint == "" && strings.EqualFold(c.Name, id.name) {
			hint = fmt.Sprintf("; unquoted names are folded to lower case: write %s in double quotes", quoteIdent(c.Name))
		}
	}
	return errorf(id.pos, "unknown column %s%s (the columns are %s)", quoteIdent(id.name), hint, strings.Join(names, ", "))
}
