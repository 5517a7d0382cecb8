package filter

import "strings"

// Expr is a parsed filter expression. Its String is the canonical text:
// keywords in upper case, identifiers quoted only when they must be, the
// parentheses the structure needs and a space only where two words would
// otherwise run together. Parse accepts it and yields the same tree, and it
// is never longer than the text it was parsed from, so it also fits the
// limits.
type Expr interface {
	String() string
	write(w *textWriter)
}

// andExpr is a conjunction of two or more terms, none of them an andExpr.
type andExpr struct{ terms []Expr }

// orExpr is a disjunction of two or more terms, none of them an orExpr.
type orExpr struct{ terms []Expr }

// notExpr is NOT x.
type notExpr struct{ x Expr }

// cmpExpr is col op lit.
type cmpExpr struct {
	col ident
	op  string // = <> < <= > >=
	lit literal
}

// inExpr is col [NOT] IN (lits...).
type inExpr struct {
	col  ident
	not  bool
	lits []literal
}

// nullExpr is col IS [NOT] NULL.
type nullExpr struct {
	col ident
	not bool
}

// ident is a column name as PostgreSQL resolves it, at a byte offset.
type ident struct {
	name string
	pos  int
}

// litKind is the syntactic kind of a literal.
type litKind uint8

const (
	litString litKind = iota
	litNumber
	litBool
)

// literal is a constant as written: text is the unescaped string, the
// number as written, or TRUE/FALSE.
type literal struct {
	kind litKind
	text string
	pos  int
}

func (l literal) describe() string {
	switch l.kind {
	case litString:
		return "the string " + clip(quoteString(l.text))
	case litNumber:
		return "the number " + clip(l.text)
	}
	return l.text
}

// textWriter builds canonical text from tokens.
type textWriter struct{ b strings.Builder }

// tok appends one token, after a space only when it and the previous
// token would otherwise lex as one.
func (w *textWriter) tok(s string) {
	if n := w.b.Len(); n > 0 && isWordByte(w.b.String()[n-1]) && isWordByte(s[0]) {
		w.b.WriteByte(' ')
	}
	w.b.WriteString(s)
}

func isWordByte(c byte) bool { return isIdentByte(c) || c == '.' }

func exprString(e Expr) string {
	var w textWriter
	e.write(&w)
	return w.b.String()
}

func (e *andExpr) String() string  { return exprString(e) }
func (e *orExpr) String() string   { return exprString(e) }
func (e *notExpr) String() string  { return exprString(e) }
func (e *cmpExpr) String() string  { return exprString(e) }
func (e *inExpr) String() string   { return exprString(e) }
func (e *nullExpr) String() string { return exprString(e) }

func (e *andExpr) write(w *textWriter) {
	for i, t := range e.terms {
		if i > 0 {
			w.tok("AND")
		}
		_, isOr := t.(*orExpr)
		writeTerm(w, t, isOr)
	}
}

func (e *orExpr) write(w *textWriter) {
	for i, t := range e.terms {
		if i > 0 {
			w.tok("OR")
		}
		t.write(w)
	}
}

func (e *notExpr) write(w *textWriter) {
	w.tok("NOT")
	_, isAnd := e.x.(*andExpr)
	_, isOr := e.x.(*orExpr)
	writeTerm(w, e.x, isAnd || isOr)
}

// writeTerm writes t, in parentheses when its precedence needs them.
func writeTerm(w *textWriter, t Expr, paren bool) {
	if paren {
		w.tok("(")
	}
	t.write(w)
	if paren {
		w.tok(")")
	}
}

func (e *cmpExpr) write(w *textWriter) {
	w.tok(quoteIdent(e.col.name))
	w.tok(e.op)
	e.lit.write(w)
}

func (e *inExpr) write(w *textWriter) {
	w.tok(quoteIdent(e.col.name))
	if e.not {
		w.tok("NOT")
	}
	w.tok("IN")
	w.tok("(")
	for i, l := range e.lits {
		if i > 0 {
			w.tok(",")
		}
		l.write(w)
	}
	w.tok(")")
}

func (e *nullExpr) write(w *textWriter) {
	w.tok(quoteIdent(e.col.name))
	w.tok("IS")
	if e.not {
		w.tok("NOT")
	}
	w.tok("NULL")
}

func (l literal) write(w *textWriter) {
	if l.kind == litString {
		w.tok(quoteString(l.text))
		return
	}
	w.tok(l.text)
}

func quoteString(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// quoteIdent writes a column name bare when the lexer reads it back as
// the same name, in double quotes otherwise.
func quoteIdent(name string) string {
	bare := name != "" && isIdentStart(name[0]) && !keywords[strings.ToUpper(name)]
	for i := 0; i < len(name) && bare; i++ {
		bare = isIdentByte(name[i]) && !('A' <= name[i] && name[i] <= 'Z')
	}
	if bare {
		return name
	}
	return `"` + strings.ReplaceAll(name, `"`, `""`) + `"`
}
