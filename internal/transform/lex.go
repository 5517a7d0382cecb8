package transform

import (
	"fmt"
	"strings"
)

// tokenKind classifies the pieces of a transform's SQL, as far as Load
// needs to: enough to tell code from strings and comments.
type tokenKind int

const (
	tkSpace       tokenKind = iota
	tkComment               // /* ... */, which nest
	tkLineComment           // -- to the end of the line
	tkString                // '...', E'...', $tag$...$tag$
	tkQuoted                // "identifier"
	tkWord                  // identifier or key word
	tkParam                 // $1
	tkSource                // the placeholder {{source}}
	tkOther                 // a number or one character of punctuation
)

// placeholder is where the source rows go.
const placeholder = "{{source}}"

type token struct {
	kind       tokenKind
	start, end int // byte offsets in the text
}

// lexError is a string or comment that the text leaves open.
type lexError struct {
	offset int
	what   string
}

// tokenize splits sql into tokens, following PostgreSQL's lexical rules for
// quoting and comments.
func tokenize(sql string) ([]token, *lexError) {
	var toks []token
	for i := 0; i < len(sql); {
		kind, end, err := next(sql, i)
		if err != nil {
			return nil, err
		}
		toks = append(toks, token{kind, i, end})
		i = end
	}
	return toks, nil
}

// next scans the token that starts at sql[i], returning its kind and end.
func next(sql string, i int) (tokenKind, int, *lexError) {
	c, rest := sql[i], sql[i:]
	switch {
	case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
		return tkSpace, i + 1, nil
	case strings.HasPrefix(rest, "--"):
		end := strings.IndexByte(rest, '\n')
		if end < 0 {
			return tkLineComment, len(sql), nil
		}
		return tkLineComment, i + end, nil
	case strings.HasPrefix(rest, "/*"):
		return blockComment(sql, i)
	case c == '\'':
		return quoted(sql, i, i+1, '\'', false, "string literal")
	case c == '"':
		return quoted(sql, i, i+1, '"', false, "quoted identifier")
	case (c == 'E' || c == 'e') && strings.HasPrefix(rest[1:], "'"):
		return quoted(sql, i, i+2, '\'', true, "string literal")
	case c == '$':
		return dollar(sql, i)
	case strings.HasPrefix(rest, placeholder):
		return tkSource, i + len(placeholder), nil
	case isIdentStart(c):
		end := i + 1
		for end < len(sql) && isIdentPart(sql[end]) {
			end++
		}
		return tkWord, end, nil
	case c >= '0' && c <= '9':
		end := i + 1
		for end < len(sql) && (isIdentPart(sql[end]) || sql[end] == '.') {
			end++
		}
		return tkOther, end, nil
	}
	return tkOther, i + 1, nil
}

// quoted scans a string or quoted identifier whose body starts at body and
// that ends at an unescaped quote; a doubled quote is one quote, and with
// backslash a \ escapes the next byte.
func quoted(sql string, start, body int, quote byte, backslash bool, what string) (tokenKind, int, *lexError) {
	kind := tkString
	if quote == '"' {
		kind = tkQuoted
	}
	for j := body; j < len(sql); j++ {
		switch {
		case backslash && sql[j] == '\\':
			j++
		case sql[j] == quote && j+1 < len(sql) && sql[j+1] == quote:
			j++
		case sql[j] == quote:
			return kind, j + 1, nil
		}
	}
	return 0, 0, &lexError{start, fmt.Sprintf("a %s is not closed (add the closing %c)", what, quote)}
}

// blockComment scans a /* */ comment; PostgreSQL's nest.
func blockComment(sql string, start int) (tokenKind, int, *lexError) {
	depth := 0
	for j := start; j+1 < len(sql); j++ {
		switch sql[j : j+2] {
		case "/*":
			depth++
			j++
		case "*/":
			depth--
			j++
			if depth == 0 {
				return tkComment, j + 1, nil
			}
		}
	}
	return 0, 0, &lexError{start, "a /* comment is not closed (add */)"}
}

// dollar scans $1 (a parameter), $tag$...$tag$ or $$...$$ (a string), or
// a lone $.
func dollar(sql string, start int) (tokenKind, int, *lexError) {
	j := start + 1
	if j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
		for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
			j++
		}
		return tkParam, j, nil
	}
	for j < len(sql) && isIdentPart(sql[j]) && sql[j] != '$' {
		j++
	}
	if j >= len(sql) || sql[j] != '$' {
		return tkOther, start + 1, nil
	}
	delim := sql[start : j+1]
	end := strings.Index(sql[j+1:], delim)
	if end < 0 {
		return 0, 0, &lexError{start, fmt.Sprintf("a %s-quoted string is not closed (add the closing %s)", delim, delim)}
	}
	return tkString, j + 1 + end + len(delim), nil
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '$' }

// trivia reports tokens that only separate others.
func (k tokenKind) trivia() bool { return k == tkSpace || k == tkComment || k == tkLineComment }

// lineOf returns the 1-based line of offset in text.
func lineOf(text string, offset int) int { return strings.Count(text[:offset], "\n") + 1 }
