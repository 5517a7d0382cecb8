package pgcast

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jnode is a parsed JSON value.
type jnode struct {
	kind byte   // '{' object, '[' array, '"' string, '0' number, 'l' literal (true, false, null)
	text []byte // a string's decoded bytes, a number's or literal's text
	keys [][]byte
	kids []*jnode
}

// maxJSONDepth bounds nesting, as PostgreSQL's stack depth limit does.
const maxJSONDepth = 10000

// appendJSONB appends json text as jsonb prints it: object keys without
// duplicates (the last wins) ordered by length, then bytewise; numbers as
// numeric prints them; strings with only ", \ and control characters
// escaped; ", " and ": " between items. The reason is PostgreSQL's when
// jsonb refuses the text (a \u0000 escape, a lone surrogate).
func appendJSONB(dst, src []byte) ([]byte, string) {
	p := &jparser{src: src}
	n, err := p.value(0)
	if err == nil {
		p.space()
		if p.pos != len(p.src) {
			err = fmt.Errorf("trailing text at byte %d", p.pos)
		}
	}
	if err != nil {
		return dst, "invalid input syntax for type json: " + err.Error()
	}
	return n.appendText(dst), ""
}

type jparser struct {
	src []byte
	pos int
}

func (p *jparser) space() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n' || p.src[p.pos] == '\r') {
		p.pos++
	}
}

func (p *jparser) value(depth int) (*jnode, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("nested too deeply")
	}
	p.space()
	if p.pos >= len(p.src) {
		return nil, fmt.Errorf("unexpected end")
	}
	switch c := p.src[p.pos]; {
	case c == '{' || c == '[':
		return p.container(c, depth)
	case c == '"':
		s, err := p.str()
		return &jnode{kind: '"', text: s}, err
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	}
	for _, lit := range []string{"true", "false", "null"} {
		if bytes.HasPrefix(p.src[p.pos:], []byte(lit)) {
			p.pos += len(lit)
			return &jnode{kind: 'l', text: []byte(lit)}, nil
		}
	}
	return nil, fmt.Errorf("unexpected %q at byte %d", p.src[p.pos], p.pos)
}

// container parses an object or an array at its opening bracket.
func (p *jparser) container(open byte, depth int) (*jnode, error) {
	n := &jnode{kind: open}
	closeb := byte(']')
	if open == '{' {
		closeb = '}'
	}
	p.pos++
	p.space()
	if p.pos < len(p.src) && p.src[p.pos] == closeb {
		p.pos++
		return n, nil
	}
	for {
		if open == '{' {
			if err := p.key(n); err != nil {
				return nil, err
			}
		}
		kid, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, kid)
		p.space()
		if p.pos >= len(p.src) {
			return nil, fmt.Errorf("unexpected end")
		}
		c := p.src[p.pos]
		p.pos++
		if c == closeb {
			return n, nil
		}
		if c != ',' {
			return nil, fmt.Errorf("unexpected %q at byte %d", c, p.pos-1)
		}
	}
}

// key parses an object key and its colon.
func (p *jparser) key(n *jnode) error {
	p.space()
	if p.pos >= len(p.src) || p.src[p.pos] != '"' {
		return fmt.Errorf("expected a key at byte %d", p.pos)
	}
	k, err := p.str()
	if err != nil {
		return err
	}
	p.space()
	if p.pos >= len(p.src) || p.src[p.pos] != ':' {
		return fmt.Errorf("expected ':' at byte %d", p.pos)
	}
	p.pos++
	n.keys = append(n.keys, k)
	return nil
}

// str parses a string at its quote and returns its decoded bytes.
func (p *jparser) str() ([]byte, error) {
	p.pos++
	var out []byte
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		switch {
		case c == '"':
			p.pos++
			return out, nil
		case c == '\\':
			r, err := p.escape()
			if err != nil {
				return nil, err
			}
			out = utf8.AppendRune(out, r)
		default:
			out = append(out, c)
			p.pos++
		}
	}
	return nil, fmt.Errorf("unterminated string")
}

var simpleEscapes = map[byte]rune{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// escape decodes the escape at a backslash, a surrogate pair as one rune.
func (p *jparser) escape() (rune, error) {
	if p.pos+1 >= len(p.src) {
		return 0, fmt.Errorf("unterminated string")
	}
	c := p.src[p.pos+1]
	if r, ok := simpleEscapes[c]; ok {
		p.pos += 2
		return r, nil
	}
	r, ok := p.hex4(p.pos + 1)
	if !ok {
		return 0, fmt.Errorf("invalid escape at byte %d", p.pos)
	}
	p.pos += 6
	switch {
	case r == 0:
		return 0, fmt.Errorf("unsupported Unicode escape sequence \\u0000")
	case utf16.IsSurrogate(r) && r < 0xdc00:
		if lo, ok := p.hex4(p.pos + 1); ok && p.src[p.pos] == '\\' && lo >= 0xdc00 && lo <= 0xdfff {
			p.pos += 6
			return utf16.DecodeRune(r, lo), nil
		}
		return 0, fmt.Errorf("a Unicode high surrogate must be followed by a low surrogate")
	case utf16.IsSurrogate(r):
		return 0, fmt.Errorf("a Unicode low surrogate must follow a high surrogate")
	}
	return r, nil
}

// hex4 reads 'u' and four hex digits at src[at:].
func (p *jparser) hex4(at int) (rune, bool) {
	if at < 1 || at+5 > len(p.src) || p.src[at] != 'u' {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.src[at+1:at+5]), 16, 32)
	return rune(v), err == nil
}

// number parses a number and keeps it as numeric prints it.
func (p *jparser) number() (*jnode, error) {
	start := p.pos
	for p.pos < len(p.src) && bytes.IndexByte([]byte("+-0123456789.eE"), p.src[p.pos]) >= 0 {
		p.pos++
	}
	d, ok := parseDecimal(string(p.src[start:p.pos]))
	if !ok || d.class != decFinite {
		return nil, fmt.Errorf("invalid number %q", p.src[start:p.pos])
	}
	return &jnode{kind: '0', text: d.appendText(nil)}, nil
}

// appendText writes n as jsonb_out does.
func (n *jnode) appendText(dst []byte) []byte {
	switch n.kind {
	case '"':
		return appendJSONBString(dst, n.text)
	case '[':
		dst = append(dst, '[')
		for i, k := range n.kids {
			if i > 0 {
				dst = append(dst, ", "...)
			}
			dst = k.appendText(dst)
		}
		return append(dst, ']')
	case '{':
		return n.appendObject(dst)
	}
	return append(dst, n.text...)
}

// appendObject writes the pairs of an object, the last of duplicate keys
// only, keys ordered by length, then bytewise.
func (n *jnode) appendObject(dst []byte) []byte {
	idx := make([]int, len(n.keys))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		ka, kb := n.keys[a], n.keys[b]
		if len(ka) != len(kb) {
			return len(ka) - len(kb)
		}
		return bytes.Compare(ka, kb)
	})
	dst = append(dst, '{')
	first := true
	for j, i := range idx {
		if j+1 < len(idx) && bytes.Equal(n.keys[i], n.keys[idx[j+1]]) {
			continue // a later duplicate follows: it wins
		}
		if !first {
			dst = append(dst, ", "...)
		}
		first = false
		dst = appendJSONBString(dst, n.keys[i])
		dst = append(dst, ": "...)
		dst = n.kids[i].appendText(dst)
	}
	return append(dst, '}')
}

// jsonbEscapes are the characters escape_json writes with a backslash
// and a letter; it writes other control characters as \u00XX.
var jsonbEscapes = map[byte]string{'"': `\"`, '\\': `\\`, '\b': `\b`, '\f': `\f`, '\n': `\n`, '\r': `\r`, '\t': `\t`}

// appendJSONBString quotes s as PostgreSQL's escape_json does.
func appendJSONBString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for _, c := range s {
		if e, ok := jsonbEscapes[c]; ok {
			dst = append(dst, e...)
		} else if c < 0x20 {
			dst = fmt.Appendf(dst, `\u%04x`, c)
		} else {
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
