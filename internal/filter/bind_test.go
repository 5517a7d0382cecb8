package filter

import (
	"errors"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/parquetio"
)

func TestBindErrorsNameTheColumnTheTypeAndTheFix(t *testing.T) {
	withCapital := append([]parquetio.Column{{Name: "Amount", TypeOID: 1700, TypeName: "numeric(12,2)"}}, testColumns...)
	for _, tc := range []struct {
		name, src string
		offset    int
		msg       string
	}{
		{"an unknown column lists the columns", "i4 > 1 AND nope = 1", 11,
			`unknown column nope (the columns are "Amount", id, i2, i4, i8, f4, f8, n, t, c, e, b, u, d, tm, ts, tz, iv, j, by, arr, "Mixed Case")`},
		{"a name that differs only in case is explained", "Amount > 1", 0,
			`unknown column amount; unquoted names are folded to lower case: write "Amount" in double quotes`},
		{"an integer wants a number", "i4 = 'ten'", 5, "column i4 is integer: compare it with a number, e.g. i4 >= 100 (found the string 'ten')"},
		{"an integer refuses a boolean", "i2 IN (1, TRUE)", 10, "column i2 is smallint: compare it with a number, e.g. i2 >= 100 (found TRUE)"},
		{"text wants a string", "t = 5", 4, "column t is text: compare it with a string in single quotes, e.g. t = 'shipped' (found the number 5)"},
		{"an enum wants a string", "e = 1", 4, "column e is mood: compare it with a string"},
		{"a boolean wants TRUE or FALSE", "b = 1", 4, "column b is boolean: compare it with TRUE or FALSE (found the number 1)"},
		{"a float wants a number or a special value", "f8 = 'abc'", 5, "compare it with a number, e.g. f8 > 1.5, or 'NaN', 'Infinity' or '-Infinity'"},
		{"a float literal out of range is refused", "f8 < 1e309", 5, "the number 1e309 is out of range for double precision (column f8)"},
		{"numeric wants a number or a special value", "n = '1.5'", 4, "column n is numeric: compare it with a number"},
		{"a uuid must parse", "u = 'not-a-uuid'", 4, "column u is uuid: compare it with a uuid in single quotes"},
		{"a timestamp needs an offset", "ts = '2024-11-01 06:00:00'", 5, "RFC 3339 with an offset, e.g. '2024-11-01T06:00:00Z'"},
		{"a date must be a real date", "d = '2024-13-01'", 4, "column d is date: compare it with a time in single quotes"},
		{"a time of day must be one", "tm = '25:00'", 5, "HH:MM[:SS[.ffffff]]"},
		{"a time of day past midnight is refused", "tm < '24:00:00.000001'", 5, "HH:MM[:SS[.ffffff]]"},
		{"an interval cannot be compared", "iv = '1 day'", 0, "column iv is interval, which a filter cannot compare: only IS NULL and IS NOT NULL can test it"},
		{"jsonb cannot be compared", "j IN ('x')", 0, "column j is jsonb, which a filter cannot compare"},
		{"bytea cannot be compared", "NOT by <> 'x'", 4, "column by is bytea, which a filter cannot compare"},
		{"an array cannot be compared", "arr = 1", 0, "column arr is integer[], an array: only IS NULL and IS NOT NULL can test it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := Parse(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			f, err := Bind(e, withCapital)
			var perr *Error
			if !errors.As(err, &perr) {
				t.Fatalf("Bind(%q) = %v, %v; want an *Error", tc.src, f, err)
			}
			if perr.Offset != tc.offset || !strings.Contains(perr.Msg, tc.msg) {
				t.Errorf("Bind(%q) error %q\nwant offset %d and a message containing %q", tc.src, err, tc.offset, tc.msg)
			}
		})
	}
}

func TestBindRefusesColumnsParquetioCannotDescribe(t *testing.T) {
	e, _ := Parse("p = 1")
	_, err := Bind(e, []parquetio.Column{{Name: "p", TypeOID: 600, TypeName: "point"}})
	var perr *Error
	if err == nil || errors.As(err, &perr) || !strings.Contains(err.Error(), "cannot archive") {
		t.Errorf("Bind on a point column: %v, want parquetio's error, not an *Error", err)
	}
}

func TestBindAcceptsEveryLiteralForm(t *testing.T) {
	for _, src := range []string{
		"i8 = -12", "i8 < 3.5", "i8 > 1e3", "i2 < 100000", "f4 = 'inf'", "f8 = '+Infinity'", "f8 <> '-INF'", "n = 'nan'",
		"u = 'A0EEBC999C0B4EF8BB6D6BB9BD380A11'", "d > '2024-11-01T06:00:00.123456789+05:30'", "tz = 'INFINITY'",
		"ts > '0001-01-01T00:00:00Z'", "tm = '07:00'", "tm = '24:00'", "tm = '23:59:59.1'", "c = 'ab'", "e IN ('sad', 'x')",
		"iv IS NOT NULL", "arr IS NULL", `"Mixed Case" <> ''`,
	} {
		if _, err := Bind(mustParse(t, src), testColumns); err != nil {
			t.Errorf("Bind(%q): %v", src, err)
		}
	}
}

func mustParse(t testing.TB, src string) Expr {
	t.Helper()
	e, err := Parse(src)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return e
}
