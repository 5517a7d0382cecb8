package filter

import (
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// SQL renders the filter as a boolean SQL expression for a WHERE clause,
// with the literals as parameters $argBase+1, $argBase+2, ... and returns
// it with their values, in order. Literal values never appear in the text;
// identifiers are quoted. Every parameter and every column that needs it
// is cast, so that PostgreSQL compares exactly as the archive does: text
// and enums bytewise (COLLATE "C"), integers with non-integers as numeric,
// real as double precision, a date with a time of day as timestamp.
func (f *Filter) SQL(argBase int) (string, []any) {
	w := &sqlWriter{base: argBase}
	f.root.writeSQL(f, w)
	return w.b.String(), w.args
}

// sqlWriter accumulates SQL text and its parameters.
type sqlWriter struct {
	b    strings.Builder
	args []any
	base int
}

// param writes the next placeholder, cast, for arg.
func (w *sqlWriter) param(o operand) {
	w.args = append(w.args, o.arg)
	w.b.WriteString("$")
	w.b.WriteString(strconv.Itoa(w.base + len(w.args)))
	w.b.WriteString(o.cast)
}

func (w *sqlWriter) chain(f *Filter, kids []node, sep string) {
	w.b.WriteString("(")
	for i, k := range kids {
		if i > 0 {
			w.b.WriteString(sep)
		}
		k.writeSQL(f, w)
	}
	w.b.WriteString(")")
}

func (n andNode) writeSQL(f *Filter, w *sqlWriter) { w.chain(f, n, " AND ") }

func (n orNode) writeSQL(f *Filter, w *sqlWriter) { w.chain(f, n, " OR ") }

func (n *cmpNode) writeSQL(f *Filter, w *sqlWriter) {
	w.b.WriteString("(" + n.colSQL + " " + opText[n.op] + " ")
	w.param(n.lit)
	w.b.WriteString(")")
}

func (n *inNode) writeSQL(f *Filter, w *sqlWriter) {
	w.b.WriteString("(" + n.colSQL)
	if n.not {
		w.b.WriteString(" NOT")
	}
	w.b.WriteString(" IN (")
	for i, l := range n.lits {
		if i > 0 {
			w.b.WriteString(", ")
		}
		w.param(l)
	}
	w.b.WriteString("))")
}

func (n *nullNode) writeSQL(f *Filter, w *sqlWriter) {
	w.b.WriteString("(" + pgx.Identifier{f.cols[n.col].name}.Sanitize() + " IS ")
	if n.not {
		w.b.WriteString("NOT ")
	}
	w.b.WriteString("NULL)")
}
