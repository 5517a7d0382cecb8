package filter

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tokEOF     tokKind = iota
	tokIdent           // a column name, folded (bare) or unescaped (quoted)
	tokKeyword         // AND, OR, NOT, IN, IS, NULL, TRUE, FALSE (upper case)
	tokString          // a string literal, unescaped
	tokNumber          // a number literal, as written
	tokOp              // = != <> < <= > >=
	tokLParen
	tokRParen
	tokComma
)

// token is one lexical token. raw is its source text, for messages.
type token struct {
	kind tokKind
	text string
	raw  string
	pos  int
}

// describe names the token for an error message.
func (t token) describe() string {
	switch t.kind {
	case tokEOF:
		return "the end of the expression"
	case tokString:
		return "the string " + clip(t.raw)
	case tokNumber:
		return "the number " + t.raw
	case tokIdent:
		return "the column name " + clip(t.raw)
	}
	return strconv.Quote(t.raw)
}

// clip shortens long token text in messages.
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	cut := 37
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "IN": true, "IS": true,
	"NULL": true, "TRUE": true, "FALSE": true,
}

// lexer splits an expression into tokens, one at a time.
type lexer struct {
	src string
	pos int
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isIdentStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isIdentByte(c byte) bool { return isIdentStart(c) || isDigit(c) }

// next returns the next token, or an error for text that is no token.
func (l *lexer) next() (token, error) {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
	start := l.pos
	if start == len(l.src) {
		return token{kind: tokEOF, pos: start}, nil
	}
	c := l.src[start]
	switch {
	case c == '(' || c == ')' || c == ',':
		l.pos++
		return token{kind: punctKind(c), text: string(c), raw: string(c), pos: start}, nil
	case c == '=' || c == '!' || c == '<' || c == '>':
		return l.op()
	case c == '\'':
		return l.quoted('\'', tokString)
	case c == '"':
		return l.quoted('"', tokIdent)
	case isDigit(c) || c == '.' || c == '-':
		return l.number()
	case isIdentStart(c):
		return l.word(), nil
	}
	return token{}, l.unexpected(start)
}

// unexpected is the error for a character that starts no token.
func (l *lexer) unexpected(at int) error {
	r, _ := utf8.DecodeRuneInString(l.src[at:])
	switch {
	case r == ';':
		return errorf(at, `unexpected ";": a filter is one expression, not statements`)
	case unicode.IsSpace(r):
		return errorf(at, "unexpected character %U, a non-ASCII space: separate words with plain spaces", r)
	case r >= utf8.RuneSelf:
		return errorf(at, `unexpected character %q: write a column name with non-ASCII letters in double quotes, e.g. "%c"`, r, r)
	}
	return errorf(at, "unexpected character %q: expected a column name, a literal, an operator (= != <> < <= > >=), a parenthesis or a comma", r)
}

// op lexes a comparison operator.
func (l *lexer) op() (token, error) {
	start := l.pos
	two := ""
	if start+2 <= len(l.src) {
		two = l.src[start : start+2]
	}
	text := l.src[start : start+1]
	switch two {
	case "!=", "<>", "<=", ">=":
		text = two
	case "==":
		return token{}, errorf(start, `"==" is not an operator: use = to test equality`)
	}
	if text == "!" {
		return token{}, errorf(start, `unexpected "!": use != or <> for "not equal", and NOT to negate a condition`)
	}
	l.pos += len(text)
	return token{kind: tokOp, text: text, raw: text, pos: start}, nil
}

// quoted lexes a string literal (q = ') or a quoted identifier (q = "),
// where a doubled quote stands for one.
func (l *lexer) quoted(q byte, kind tokKind) (token, error) {
	start := l.pos
	var b strings.Builder
	for i := start + 1; i < len(l.src); i++ {
		if l.src[i] != q {
			b.WriteByte(l.src[i])
			continue
		}
		if i+1 < len(l.src) && l.src[i+1] == q {
			b.WriteByte(q)
			i++
			continue
		}
		l.pos = i + 1
		tok := token{kind: kind, text: b.String(), raw: l.src[start:l.pos], pos: start}
		if kind == tokIdent && tok.text == "" {
			return token{}, errorf(start, `empty quoted identifier "": a column name has at least one character`)
		}
		return tok, nil
	}
	if kind == tokString {
		return token{}, errorf(start, "unterminated string: end it with ' (write '' for a quote inside it)")
	}
	return token{}, errorf(start, `unterminated quoted identifier: end it with " (write "" for a quote inside it)`)
}

// word lexes a keyword or a bare identifier, which PostgreSQL folds to
// lower case.
func (l *lexer) word() token {
	start := l.pos
	for l.pos < len(l.src) && isIdentByte(l.src[l.pos]) {
		l.pos++
	}
	raw := l.src[start:l.pos]
	if up := strings.ToUpper(raw); keywords[up] {
		return token{kind: tokKeyword, text: up, raw: raw, pos: start}
	}
	return token{kind: tokIdent, text: strings.ToLower(raw), raw: raw, pos: start}
}

func punctKind(c byte) tokKind {
	switch c {
	case '(':
		return tokLParen
	case ')':
		return tokRParen
	}
	return tokComma
}

// maxExponent bounds the exponent of a number literal, as PostgreSQL's
// numeric input does, so that no literal costs more than a few thousand
// digits to compare with.
const maxExponent = 1000

// number lexes -?(digits[.digits]|.digits)([eE][+-]?digits)?.
func (l *lexer) number() (token, error) {
	start, src := l.pos, l.src
	i := start
	if src[i] == '-' {
		i++
	}
	whole := digitsAt(src, i)
	i += whole
	frac := 0
	if i < len(src) && src[i] == '.' {
		frac = digitsAt(src, i+1)
		i += 1 + frac
	}
	if whole+frac == 0 {
		return token{}, l.notANumber(start)
	}
	if i < len(src) && (src[i] == 'e' || src[i] == 'E') {
		j := i + 1
		if j < len(src) && (src[j] == '+' || src[j] == '-') {
			j++
		}
		n := digitsAt(src, j)
		if n == 0 {
			return token{}, l.malformed(start)
		}
		if e, err := strconv.Atoi(src[j : j+n]); err != nil || e > maxExponent {
			return token{}, errorf(i, "exponent of %s is out of range: it must be between -%d and %d",
				clip(src[start:j+n]), maxExponent, maxExponent)
		}
		i = j + n
	}
	if i < len(src) && (isIdentByte(src[i]) || src[i] == '.') {
		return token{}, l.malformed(start)
	}
	l.pos = i
	return token{kind: tokNumber, text: src[start:i], raw: src[start:i], pos: start}, nil
}

func digitsAt(s string, i int) int {
	n := 0
	for i+n < len(s) && isDigit(s[i+n]) {
		n++
	}
	return n
}

// notANumber is the error for a "-" or "." that starts no number.
func (l *lexer) notANumber(at int) error {
	if strings.HasPrefix(l.src[at:], "--") {
		return errorf(at, `unexpected "--": a filter has no comments`)
	}
	if l.src[at] == '-' {
		return errorf(at, `unexpected "-": write a negative number with its sign touching the digits, e.g. -5`)
	}
	return errorf(at, `unexpected ".": a number has a digit before or after its point, e.g. 0.5`)
}

// malformed is the error for a number followed by letters or a second point.
func (l *lexer) malformed(at int) error {
	end := at + 1
	for end < len(l.src) && (isIdentByte(l.src[end]) || l.src[end] == '.' || l.src[end] == '+' || l.src[end] == '-') {
		end++
	}
	return errorf(at, "malformed number %q: write numbers as 12, -3.5 or 1e3 and separate them from words with a space",
		clip(l.src[at:end]))
}
