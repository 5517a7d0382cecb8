package filter

import (
	"strings"
	"unicode/utf8"
)

// Parse parses src into an expression tree. It never builds SQL: the tree
// is bound to a schema with Bind. An empty or blank src is an error
// (callers skip filtering when no expression was given). Every error is an
// *Error.
func Parse(src string) (Expr, error) {
	if err := checkText(src); err != nil {
		return nil, err
	}
	p := &parser{lx: lexer{src: src}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokEOF {
		return nil, errorf(p.tok.pos, "expected AND, OR or the end after a complete condition, found %s: "+
			"join conditions with AND or OR", p.tok.describe())
	}
	return e, nil
}

// checkText rejects text that is too long, blank, or not clean UTF-8.
func checkText(src string) error {
	if len(src) > MaxBytes {
		return errorf(MaxBytes, "the expression is %d bytes, more than the limit of %d: "+
			"shorten it, e.g. with IN lists instead of chains of OR", len(src), MaxBytes)
	}
	if strings.TrimLeft(src, " \t\n\r\f\v") == "" {
		return errorf(0, "the expression is empty: write a condition such as status = 'shipped'")
	}
	for i := 0; i < len(src); {
		r, n := utf8.DecodeRuneInString(src[i:])
		if r == utf8.RuneError && n == 1 {
			return errorf(i, "invalid UTF-8 byte 0x%02x: the expression must be UTF-8 text", src[i])
		}
		if r == 0 {
			return errorf(i, "NUL byte: the expression must be text without NUL characters")
		}
		i += n
	}
	return nil
}

// parser is a recursive-descent parser with one token of lookahead.
type parser struct {
	lx    lexer
	tok   token
	depth int // open parentheses and NOTs
}

func (p *parser) advance() error {
	t, err := p.lx.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) isKeyword(kw string) bool {
	return p.tok.kind == tokKeyword && p.tok.text == kw
}

// enter counts one level of nesting at the current token.
func (p *parser) enter() error {
	if p.depth++; p.depth > MaxDepth {
		return errorf(p.tok.pos, "nesting deeper than %d levels of parentheses and NOT: simplify the expression", MaxDepth)
	}
	return nil
}

// parseOr parses and ( OR and )*.
func (p *parser) parseOr() (Expr, error) { return p.parseChain("OR", p.parseAnd) }

// parseAnd parses not ( AND not )*.
func (p *parser) parseAnd() (Expr, error) { return p.parseChain("AND", p.parseNot) }

// parseChain parses term ( kw term )*. A parenthesised chain of the same
// operator is spliced in, which changes no meaning: (a AND b) AND c is
// a AND b AND c.
func (p *parser) parseChain(kw string, term func() (Expr, error)) (Expr, error) {
	var terms []Expr
	for {
		t, err := term()
		if err != nil {
			return nil, err
		}
		terms = append(terms, chainTerms(kw, t)...)
		if !p.isKeyword(kw) {
			break
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	switch {
	case len(terms) == 1:
		return terms[0], nil
	case kw == "AND":
		return &andExpr{terms: terms}, nil
	}
	return &orExpr{terms: terms}, nil
}

// chainTerms returns the terms of t if it is a kw chain, else t alone.
func chainTerms(kw string, t Expr) []Expr {
	if a, ok := t.(*andExpr); ok && kw == "AND" {
		return a.terms
	}
	if o, ok := t.(*orExpr); ok && kw == "OR" {
		return o.terms
	}
	return []Expr{t}
}

// parseNot parses NOT not | primary.
func (p *parser) parseNot() (Expr, error) {
	if !p.isKeyword("NOT") {
		return p.parsePrimary()
	}
	if err := p.enter(); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	p.depth--
	return &notExpr{x: x}, nil
}

// parsePrimary parses ( expr ) or a predicate on a column.
func (p *parser) parsePrimary() (Expr, error) {
	switch p.tok.kind {
	case tokLParen:
		return p.parseParen()
	case tokIdent:
		col := ident{name: p.tok.text, pos: p.tok.pos}
		if err := p.advance(); err != nil {
			return nil, err
		}
		return p.parsePredicate(col)
	case tokString, tokNumber:
		return nil, errorf(p.tok.pos, "expected a column name, found %s: write the column first, e.g. amount > 5", p.tok.describe())
	case tokKeyword:
		if p.tok.text != "AND" && p.tok.text != "OR" {
			return nil, errorf(p.tok.pos, "expected a column name, found the keyword %s: "+
				"write the column first, and quote a column named like a keyword, e.g. \"%s\"",
				p.tok.text, strings.ToLower(p.tok.text))
		}
	}
	return nil, errorf(p.tok.pos, "expected a condition (a column name, NOT or a parenthesis), found %s", p.tok.describe())
}

func (p *parser) parseParen() (Expr, error) {
	open := p.tok.pos
	if err := p.enter(); err != nil {
		return nil, err
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tokRParen {
		return nil, errorf(p.tok.pos, "expected \")\" to close the parenthesis at offset %d, found %s", open, p.tok.describe())
	}
	p.depth--
	return e, p.advance()
}
