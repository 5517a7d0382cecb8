package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeTransform writes text to a .sql file in a fresh folder and returns its path.
func writeTransform(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "t.sql")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, text string) *Transform {
	t.Helper()
	tr, err := Load(writeTransform(t, text))
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestLateralReplacesSourceKeepingTheAuthorsAlias(t *testing.T) {
	tests := []struct{ name, sql, want string }{
		{"a bare alias is kept",
			"SELECT r.raw_data FROM {{source}} r",
			"SELECT r.raw_data FROM (SELECT s.*) r"},
		{"an AS alias is kept",
			"SELECT r.raw_data FROM {{source}} AS r WHERE true",
			"SELECT r.raw_data FROM (SELECT s.*) AS r WHERE true"},
		{"a lower-case as alias is kept",
			"select r.raw_data from {{source}} as r",
			"select r.raw_data from (SELECT s.*) as r"},
		{"a quoted alias is kept",
			`SELECT "R".raw_data FROM {{source}} "R"`,
			`SELECT "R".raw_data FROM (SELECT s.*) "R"`},
		{"an alias with column names is kept",
			"SELECT r.a FROM {{source}} r(a, b, c)",
			"SELECT r.a FROM (SELECT s.*) r(a, b, c)"},
		{"an alias after a comment is kept",
			"SELECT r.a FROM {{source}} /* the row */ r",
			"SELECT r.a FROM (SELECT s.*) /* the row */ r"},
		{"an alias right after the placeholder is kept",
			"SELECT r.a FROM {{source}}r",
			"SELECT r.a FROM (SELECT s.*)r"},
		{"no alias at the end gets AS source",
			"SELECT source.raw_data FROM {{source}}",
			"SELECT source.raw_data FROM (SELECT s.*) AS source"},
		{"no alias before WHERE gets AS source",
			"SELECT 1 FROM {{source}} WHERE raw_id > 0",
			"SELECT 1 FROM (SELECT s.*) AS source WHERE raw_id > 0"},
		{"no alias before a lower-case where gets AS source",
			"select 1 from {{source}}\n  where true",
			"select 1 from (SELECT s.*) AS source\n  where true"},
		{"no alias before a comma gets AS source",
			"SELECT e FROM {{source}}, json_array_elements(raw_data) e",
			"SELECT e FROM (SELECT s.*) AS source, json_array_elements(raw_data) e"},
		{"no alias before a closing parenthesis gets AS source",
			"SELECT * FROM (SELECT * FROM {{source}}) sub",
			"SELECT * FROM (SELECT * FROM (SELECT s.*) AS source) sub"},
		{"no alias before a line comment and GROUP BY gets AS source",
			"SELECT count(*) FROM {{source}} -- all\nGROUP BY 1",
			"SELECT count(*) FROM (SELECT s.*) AS source -- all\nGROUP BY 1"},
		{"a trailing semicolon and comment are dropped",
			"SELECT 1 FROM {{source}} r;\n-- done\n",
			"SELECT 1 FROM (SELECT s.*) r"},
		{"a trailing line comment is dropped, so nothing after Lateral is commented out",
			"SELECT 1 FROM {{source}} r -- no newline at the end",
			"SELECT 1 FROM (SELECT s.*) r"},
		{"a WITH query is a SELECT",
			"WITH x AS (SELECT * FROM {{source}} AS r) SELECT * FROM x",
			"WITH x AS (SELECT * FROM (SELECT s.*) AS r) SELECT * FROM x"},
		{"placeholders in comments and strings are left alone",
			"-- reads {{source}};\nSELECT '{{source}};' AS a, $q${{source}};$q$ AS b, E'it\\'s {{source}};' AS c, \"x;{{source}}\" /* {{source}}; /* nested; */ */ FROM {{source}} r",
			"-- reads {{source}};\nSELECT '{{source}};' AS a, $q${{source}};$q$ AS b, E'it\\'s {{source}};' AS c, \"x;{{source}}\" /* {{source}}; /* nested; */ */ FROM (SELECT s.*) r"},
		{"a doubled quote does not end a string",
			"SELECT 'it''s; {{source}}' FROM {{source}} r",
			"SELECT 'it''s; {{source}}' FROM (SELECT s.*) r"},
		{"a dollar inside a name is not a parameter",
			"SELECT r.a$1 FROM {{source}} r",
			"SELECT r.a$1 FROM (SELECT s.*) r"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := mustLoad(t, tt.sql).Lateral("s"); got != tt.want {
				t.Errorf("Lateral:\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestLateralKnowsTheKeyWordsThatAreNoAlias(t *testing.T) {
	for _, kw := range []string{
		"WHERE", "JOIN", "LEFT", "RIGHT", "INNER", "FULL", "CROSS", "NATURAL", "ON", "USING", "GROUP", "ORDER",
		"LIMIT", "OFFSET", "UNION", "EXCEPT", "INTERSECT", "WINDOW", "HAVING", "FETCH", "FOR", "LATERAL",
	} {
		for _, spelling := range []string{kw, strings.ToLower(kw)} {
			sql := "SELECT 1 FROM {{source}} " + spelling + " x"
			want := "SELECT 1 FROM (SELECT s.*) AS source " + spelling + " x"
			if got := mustLoad(t, sql).Lateral("s"); got != want {
				t.Errorf("Lateral(%q) = %q", sql, got)
			}
		}
	}
}

func TestLoadRefusesWhatIsNotOneSelectOverSource(t *testing.T) {
	tests := []struct{ name, sql, want string }{
		{"an empty file", "", "is empty (write one SELECT ... FROM {{source}} AS r)"},
		{"a file of comments", "-- nothing yet\n/* later */\n", "is empty (write one SELECT ... FROM {{source}} AS r)"},
		{"no placeholder", "SELECT 1 FROM source_customers",
			"has no {{source}} outside comments and strings (write SELECT ... FROM {{source}} AS r, exactly so spelt: Strata puts the source rows there)"},
		{"a placeholder spelt with spaces", "SELECT 1 FROM {{ source }}", "has no {{source}} outside comments and strings"},
		{"a placeholder only in a comment", "-- FROM {{source}}\nSELECT 1", "has no {{source}}"},
		{"two placeholders", "SELECT 1 FROM {{source}} a\nJOIN {{source}} b ON true",
			"names {{source}} 2 times, on lines 1, 2 (name it once: it stands for one source row)"},
		{"two statements", "SELECT 1 FROM {{source}} r;\nDELETE FROM customers",
			"line 1: a ; ends a statement here, but a transform is one SELECT (remove the ; and whatever follows it)"},
		{"two semicolons", "SELECT 1 FROM {{source}} r;;", "line 1: a ; ends a statement here"},
		{"a semicolon alone", ";", "line 1: a ; ends a statement here"},
		{"a statement that is not a SELECT", "\n\nDELETE FROM {{source}}",
			`line 3: starts with "DELETE", not SELECT (a transform is one SELECT ... FROM {{source}})`},
		{"a parameter", "SELECT 1 FROM {{source}} r\nWHERE r.raw_id > $1",
			"line 2: uses the parameter $1, but a transform takes none (write the value, or compute it from the source row)"},
		{"a string left open", "SELECT 1 FROM {{source}} r\nWHERE x = 'abc",
			"line 2: a string literal is not closed (add the closing ')"},
		{"a quoted name left open", `SELECT "a FROM {{source}}`, `line 1: a quoted identifier is not closed (add the closing ")`},
		{"a comment left open", "SELECT 1 /* a /* b */ FROM {{source}}", "line 1: a /* comment is not closed (add */)"},
		{"a dollar quote left open", "SELECT $fn$ x FROM {{source}}", "line 1: a $fn$-quoted string is not closed (add the closing $fn$)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeTransform(t, tt.sql)
			_, err := Load(path)
			if want := "transform " + path + ": " + tt.want; err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Load = %v\nwant   %s", err, want)
			}
		})
	}
}

func TestLoadSaysWhenTheFileIsMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.sql")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "transform "+path+" does not exist (datasets[].transform is relative to the config file's folder)") {
		t.Errorf("Load = %v", err)
	}
	if _, err := Load(t.TempDir()); err == nil {
		t.Error("Load of a folder succeeded")
	}
}

func TestVersionIsTheHashOfTheFile(t *testing.T) {
	text := "-- v1\nSELECT 1 FROM {{source}} r\n"
	tr := mustLoad(t, text)
	sum := sha256.Sum256([]byte(text))
	if tr.Version() != hex.EncodeToString(sum[:]) || tr.Text() != text {
		t.Errorf("Version = %s, Text = %q", tr.Version(), tr.Text())
	}
	if other := mustLoad(t, "-- v2\nSELECT 1 FROM {{source}} r\n"); other.Version() == tr.Version() {
		t.Error("a changed comment kept the version")
	}
}

func TestTheExampleTransformsLoad(t *testing.T) {
	for _, name := range []string{"customers", "scor_metrics", "orders"} {
		t.Run(name, func(t *testing.T) {
			tr, err := Load(filepath.Join("..", "..", "transforms", name+".sql"))
			if err != nil {
				t.Fatal(err)
			}
			if got := tr.Lateral("s"); !strings.Contains(got, "FROM (SELECT s.*) AS r") || strings.Contains(got, "{{source}}\n") {
				t.Errorf("Lateral = %s", got)
			}
		})
	}
}
