// Package transform loads a dataset's transform: one SQL SELECT over the
// placeholder {{source}} that turns Layer 3 rows (the columns of the source
// table, such as raw_id, raw_data and ingested_at) into Layer 2 rows whose
// column names are those of the analytics table:
//
//	SELECT (r.raw_data->>'customer_id')::bigint AS customer_id, ...
//	FROM {{source}} AS r
//
// Strata runs it once per source row, as a LATERAL subquery (see
// Transform.Lateral), so it knows which source row each output row came
// from and can let the latest record for a key win. Its Version, a hash of
// the file, is recorded with every batch for lineage.
package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// Transform is a loaded transform file. It is immutable and safe for
// concurrent use.
type Transform struct {
	text    string
	version string
	// before and after are the statement around {{source}}, without a
	// trailing ';'; alias is the text that follows {{source}} when the
	// author wrote no alias.
	before, after, alias string
}

// Load reads and checks the transform file at path: it must hold exactly
// one SQL statement, a SELECT (or WITH ... SELECT) that names {{source}}
// once, outside string literals and comments, and uses no parameters. A
// single ';' may end it. Errors name the file (and line) and say how to
// fix it.
func Load(path string) (*Transform, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("transform %s does not exist (datasets[].transform is relative to the config file's folder): %w", path, err)
	case err != nil:
		return nil, fmt.Errorf("transform %s: %w", path, err)
	}
	t, err := Parse(string(data))
	if err != nil {
		return nil, fmt.Errorf("transform %s: %w", path, err)
	}
	return t, nil
}

// MaxSize bounds a transform's text in bytes: a transform is one SELECT,
// and a larger text is almost surely the wrong file.
const MaxSize = 256 << 10

// Parse checks text as Load checks a file's (one SELECT or WITH ...
// SELECT naming {{source}} once, no parameters, at most MaxSize bytes)
// and returns it as a Transform: how a candidate transform given as text
// (strata compare --transform, the HTTP API) is read. Errors say what is
// wrong and how to fix it; the caller adds where the text came from.
func Parse(text string) (*Transform, error) {
	if len(text) > MaxSize {
		return nil, fmt.Errorf("is %d bytes, over the %d-byte limit of a transform (one SELECT ... FROM {{source}})", len(text), MaxSize)
	}
	return parse(text)
}

// Text returns the file's text, unchanged.
func (t *Transform) Text() string { return t.text }

// Version returns the lower-case hex SHA-256 of the file's bytes: it
// changes with any edit, comments and spacing included.
func (t *Transform) Version() string { return t.version }

// Lateral returns the transform with {{source}} replaced by the one row
// (SELECT outer.*), under the author's alias or, when the author wrote
// none, AS source. Run inside CROSS JOIN LATERAL, it transforms each row of
// the source table aliased outer on its own:
//
//	SELECT DISTINCT ON (key) t.*
//	FROM source_customers s CROSS JOIN LATERAL (<Lateral("s")>) t
//	WHERE s.raw_id = ANY($1)
//	ORDER BY key, s.raw_id DESC
//
// outer is spliced in as written: pass a fixed alias, never outside input.
// The result has no trailing ';' and ends outside any comment.
func (t *Transform) Lateral(outer string) string {
	return t.before + "(SELECT " + outer + ".*)" + t.alias + t.after
}

// notAlias lists the key words that may follow a FROM item: when one
// follows {{source}}, the author wrote no alias.
var notAlias = map[string]bool{
	"WHERE": true, "JOIN": true, "LEFT": true, "RIGHT": true, "INNER": true, "FULL": true,
	"CROSS": true, "NATURAL": true, "ON": true, "USING": true, "GROUP": true, "ORDER": true,
	"LIMIT": true, "OFFSET": true, "UNION": true, "EXCEPT": true, "INTERSECT": true,
	"WINDOW": true, "HAVING": true, "FETCH": true, "FOR": true, "LATERAL": true, "TABLESAMPLE": true,
}

// parse checks text and splits it around {{source}}.
func parse(text string) (*Transform, error) {
	sum := sha256.Sum256([]byte(text))
	t := &Transform{text: text, version: hex.EncodeToString(sum[:])}
	toks, lerr := tokenize(text)
	if lerr != nil {
		return nil, fmt.Errorf("line %d: %s", lineOf(text, lerr.offset), lerr.what)
	}
	code := significant(toks)
	if len(code) == 0 {
		return nil, errors.New("is empty (write one SELECT ... FROM {{source}} AS r)")
	}
	end, err := statementEnd(text, code)
	if err != nil {
		return nil, err
	}
	code = code[:end]
	if first := strings.ToUpper(text[code[0].start:code[0].end]); code[0].kind != tkWord || (first != "SELECT" && first != "WITH") {
		return nil, fmt.Errorf("line %d: starts with %q, not SELECT (a transform is one SELECT ... FROM {{source}})", lineOf(text, code[0].start), text[code[0].start:code[0].end])
	}
	at, err := findSource(text, code)
	if err != nil {
		return nil, err
	}
	body := text[:code[len(code)-1].end] // without a final ';' and the comments after it
	t.before, t.after = text[:code[at].start], body[code[at].end:]
	if !hasAlias(text, code[at+1:]) {
		t.alias = " AS source"
	}
	return t, nil
}

// significant drops white space and comments.
func significant(toks []token) []token {
	var out []token
	for _, tk := range toks {
		if !tk.kind.trivia() {
			out = append(out, tk)
		}
	}
	return out
}

// statementEnd returns how many of code's tokens form the statement: all
// of them, or all but a final ';'. A ';' anywhere else separates two
// statements, which a transform may not hold.
func statementEnd(text string, code []token) (int, error) {
	for i, tk := range code {
		if tk.kind != tkOther || text[tk.start] != ';' {
			continue
		}
		if i == len(code)-1 && i > 0 {
			return i, nil
		}
		return 0, fmt.Errorf("line %d: a ; ends a statement here, but a transform is one SELECT (remove the ; and whatever follows it)", lineOf(text, tk.start))
	}
	return len(code), nil
}

// findSource returns the index in code of the one {{source}}, and refuses
// parameters, which Strata's own query uses.
func findSource(text string, code []token) (int, error) {
	var at []int
	for i, tk := range code {
		switch tk.kind {
		case tkSource:
			at = append(at, i)
		case tkParam:
			return 0, fmt.Errorf("line %d: uses the parameter %s, but a transform takes none (write the value, or compute it from the source row)", lineOf(text, tk.start), text[tk.start:tk.end])
		}
	}
	switch len(at) {
	case 0:
		return 0, errors.New("has no {{source}} outside comments and strings (write SELECT ... FROM {{source}} AS r, exactly so spelt: Strata puts the source rows there)")
	case 1:
		return at[0], nil
	}
	lines := make([]string, len(at))
	for i, j := range at {
		lines[i] = fmt.Sprint(lineOf(text, code[j].start))
	}
	return 0, fmt.Errorf("names {{source}} %d times, on lines %s (name it once: it stands for one source row)", len(at), strings.Join(lines, ", "))
}

// hasAlias reports whether the tokens after {{source}} start with an
// alias: AS, or a name that is not a key word that may follow a FROM item.
func hasAlias(text string, rest []token) bool {
	if len(rest) == 0 {
		return false
	}
	switch tk := rest[0]; tk.kind {
	case tkQuoted:
		return true
	case tkWord:
		w := strings.ToUpper(text[tk.start:tk.end])
		return w == "AS" || !notAlias[w]
	}
	return false
}
