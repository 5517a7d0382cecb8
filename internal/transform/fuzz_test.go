package transform

import (
	"strings"
	"testing"
)

// FuzzParse checks that parse never panics and that what it accepts gives
// a Lateral that lexes cleanly, names no {{source}} and holds no ';' in its
// code, so it can sit inside Strata's own query.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"SELECT r.a FROM {{source}} AS r", "select 1 from {{source}} where x;", "SELECT '{{source}}' FROM {{source}} r -- c",
		"SELECT $q$;$q$ FROM {{source}}", "WITH x AS (SELECT * FROM {{source}}) SELECT * FROM x", "/* /* */ */ SELECT 1 FROM {{source}}r",
		"SELECT E'\\';' FROM {{source}} \"r\"", "SELECT 1 FROM {{source}}, y", "SELECT a$1 FROM {{source}} r(a)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		tr, err := parse(text)
		if err != nil {
			return
		}
		lateral := tr.Lateral("s")
		toks, lerr := tokenize(lateral)
		if lerr != nil {
			t.Fatalf("Lateral of %q does not lex: %s\n%s", text, lerr.what, lateral)
		}
		for _, tk := range toks {
			switch {
			case tk.kind == tkSource:
				t.Fatalf("Lateral of %q still names {{source}}: %s", text, lateral)
			case tk.kind == tkOther && lateral[tk.start] == ';':
				t.Fatalf("Lateral of %q holds a ';': %s", text, lateral)
			}
		}
		textToks, _ := tokenize(text)
		if n := rowCount(lateral, toks) - rowCount(text, textToks); n != 1 {
			t.Fatalf("Lateral of %q puts the row in %d times: %s", text, n, lateral)
		}
	})
}

// rowCount counts the code tokens of sql that start (SELECT s.*).
func rowCount(sql string, toks []token) int {
	n := 0
	for _, tk := range toks {
		if !tk.kind.trivia() && strings.HasPrefix(sql[tk.start:], "(SELECT s.*)") {
			n++
		}
	}
	return n
}
