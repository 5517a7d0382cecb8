package filter

import "fmt"

// parsePredicate parses what follows a column name: op literal,
// [NOT] IN (literal, ...) or IS [NOT] NULL.
func (p *parser) parsePredicate(col ident) (Expr, error) {
	switch {
	case p.tok.kind == tokOp:
		op := p.tok.text
		if op == "!=" {
			op = "<>"
		}
		after := p.tok.raw
		if err := p.advance(); err != nil {
			return nil, err
		}
		lit, err := p.parseLiteral(fmt.Sprintf("after %q", after), col, op)
		if err != nil {
			return nil, err
		}
		return &cmpExpr{col: col, op: op, lit: lit}, nil
	case p.isKeyword("IN"):
		return p.parseIn(col, false)
	case p.isKeyword("NOT"):
		if err := p.advance(); err != nil {
			return nil, err
		}
		if !p.isKeyword("IN") {
			return nil, errorf(p.tok.pos, "expected IN after %s NOT, found %s", quoteIdent(col.name), p.tok.describe())
		}
		return p.parseIn(col, true)
	case p.isKeyword("IS"):
		return p.parseIs(col)
	}
	return nil, errorf(p.tok.pos, "expected an operator (= != <> < <= > >=), IN, NOT IN or IS after the column %s, found %s",
		quoteIdent(col.name), p.tok.describe())
}

// parseLiteral parses a string, a number, TRUE or FALSE; where says what
// the literal follows, for the error message.
func (p *parser) parseLiteral(where string, col ident, op string) (literal, error) {
	t := p.tok
	lit := literal{text: t.text, pos: t.pos}
	switch {
	case t.kind == tokString:
		lit.kind = litString
	case t.kind == tokNumber:
		lit.kind = litNumber
	case t.kind == tokKeyword && (t.text == "TRUE" || t.text == "FALSE"):
		lit.kind = litBool
	case t.kind == tokKeyword && t.text == "NULL":
		return literal{}, nullLiteralError(t.pos, col, op)
	default:
		return literal{}, errorf(t.pos, "expected a literal %s, found %s: "+
			"write a 'quoted string', a number such as -12, 3.5 or 1e3, TRUE or FALSE", where, t.describe())
	}
	return lit, p.advance()
}

// nullLiteralError explains that nothing equals NULL in SQL.
func nullLiteralError(at int, col ident, op string) error {
	test := "IS NULL"
	if op == "<>" {
		test = "IS NOT NULL"
	}
	if op == "IN" || op == "NOT IN" {
		return errorf(at, "NULL cannot be listed in IN: a comparison with NULL is never true; "+
			"add OR %s IS NULL (for IN) or AND %s IS NOT NULL (for NOT IN) instead",
			quoteIdent(col.name), quoteIdent(col.name))
	}
	return errorf(at, "NULL is not a value to compare with (a comparison with NULL is never true): write %s %s",
		quoteIdent(col.name), test)
}

// parseIn parses IN ( literal, ... ) at the IN keyword.
func (p *parser) parseIn(col ident, not bool) (Expr, error) {
	op := "IN"
	if not {
		op = "NOT IN"
	}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind != tokLParen {
		return nil, errorf(p.tok.pos, "expected \"(\" after %s, found %s: write %s %s ('a', 'b')",
			op, p.tok.describe(), quoteIdent(col.name), op)
	}
	e := &inExpr{col: col, not: not}
	where := fmt.Sprintf("after %s (", op)
	for {
		if err := p.advance(); err != nil {
			return nil, err
		}
		if len(e.lits) == MaxInList {
			return nil, errorf(p.tok.pos, "the IN list has more than %d values: split the filter or narrow it another way", MaxInList)
		}
		lit, err := p.parseLiteral(where, col, op)
		if err != nil {
			return nil, err
		}
		e.lits = append(e.lits, lit)
		where = `after ","`
		if p.tok.kind == tokRParen {
			return e, p.advance()
		}
		if p.tok.kind != tokComma {
			return nil, errorf(p.tok.pos, "expected \",\" or \")\" in the %s list, found %s", op, p.tok.describe())
		}
	}
}

// parseIs parses IS [NOT] NULL at the IS keyword.
func (p *parser) parseIs(col ident) (Expr, error) {
	if err := p.advance(); err != nil {
		return nil, err
	}
	e := &nullExpr{col: col}
	if p.isKeyword("NOT") {
		e.not = true
		if err := p.advance(); err != nil {
			return nil, err
		}
	}
	if !p.isKeyword("NULL") {
		is := "IS"
		if e.not {
			is = "IS NOT"
		}
		return nil, errorf(p.tok.pos, "expected NULL after %s, found %s: IS only tests for NULL; compare values with = or <>",
			is, p.tok.describe())
	}
	return e, p.advance()
}
