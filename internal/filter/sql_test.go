package filter

import (
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratahq/strata/internal/parquetio"
)

func TestSQLCastsEveryComparisonAndKeepsLiteralsOutOfTheText(t *testing.T) {
	day := time.Date(2024, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, src string
		base      int
		sql       string
		args      []any
	}{
		{"text compares bytewise and integers as bigint", "t = 'shipped' AND i8 >= 100", 0,
			`(("t"::text COLLATE "C" = $1::text) AND ("i8" >= $2::bigint))`, []any{"shipped", int64(100)}},
		{"placeholders start after argBase", "i4 = 1 OR i4 = 2", 3,
			`(("i4" = $4::bigint) OR ("i4" = $5::bigint))`, []any{int64(1), int64(2)}},
		{"NOT is pushed down to the conditions", "NOT (i4 IN (1, 2.5) OR t IS NULL)", 0,
			`(("i4" NOT IN ($1::bigint, $2::numeric)) AND ("t" IS NOT NULL))`,
			[]any{int64(1), pgtype.Numeric{Int: big.NewInt(25), Exp: -1, Valid: true}}},
		{"NOT flips comparisons", "NOT i8 < 5", 0, `("i8" >= $1::bigint)`, []any{int64(5)}},
		{"an integer out of range compares as numeric", "i2 < 100000", 0, `("i2" < $1::bigint)`, []any{int64(100000)}},
		{"floats compare as double precision", "f4 = 'NaN'", 0, `("f4" = $1::double precision)`, nil},
		{"numeric compares as numeric", "n <> 1e3", 0, `("n" <> $1::numeric)`,
			[]any{pgtype.Numeric{Int: big.NewInt(1), Exp: 3, Valid: true}}},
		{"an enum is cast to text", "e IN ('happy', 'sad')", 0, `("e"::text COLLATE "C" IN ($1::text, $2::text))`, []any{"happy", "sad"}},
		{"a whole day compares as a date", "d = '2024-11-01'", 0, `("d" = $1::date)`, []any{pgtype.Date{Time: day, Valid: true}}},
		{"a time of day compares a date as timestamp", "d < '2024-11-01T06:00:00Z'", 0, `("d"::timestamp < $1::timestamp)`,
			[]any{pgtype.Timestamp{Time: day.Add(6 * time.Hour), Valid: true}}},
		{"timestamp takes the UTC wall clock", "ts >= '2024-11-01T02:00:00+02:00'", 0, `("ts" >= $1::timestamp)`,
			[]any{pgtype.Timestamp{Time: day, Valid: true}}},
		{"infinity is a parameter too", "tz < 'infinity'", 0, `("tz" < $1::timestamptz)`,
			[]any{pgtype.Timestamptz{InfinityModifier: pgtype.Infinity, Valid: true}}},
		{"time, uuid and boolean are cast", "tm = '08:30' AND u = '00000000000000000000000000000001' AND b = TRUE", 0,
			`(("tm" = $1::time) AND ("u" = $2::uuid) AND ("b" = $3::boolean))`,
			[]any{pgtype.Time{Microseconds: 8.5 * 3600e6, Valid: true}, [16]byte{15: 1}, true}},
		{"a quoted name is quoted again", `"Mixed Case" IS NULL`, 0, `("Mixed Case" IS NULL)`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sql, args := mustBind(t, tc.src, testColumns).SQL(tc.base)
			if sql != tc.sql {
				t.Errorf("SQL\n got %s\nwant %s", sql, tc.sql)
			}
			if tc.args != nil && !reflect.DeepEqual(args, tc.args) {
				t.Errorf("args\n got %#v\nwant %#v", args, tc.args)
			}
			if want := strings.Count(tc.sql, "$"); len(args) != want {
				t.Errorf("%d args for %d placeholders", len(args), want)
			}
		})
	}
}

func TestHostileInputsAreCleanErrorsOrHarmless(t *testing.T) {
	cols := append([]parquetio.Column{{Name: `a"; DROP`, TypeOID: 20, TypeName: "bigint"}}, testColumns...)
	for _, tc := range []struct {
		src, err string // err empty: it binds, and its SQL is checked
	}{
		{"x; DROP TABLE y; --", `at offset 1: unexpected ";"`},
		{"a = 1 OR 1=1", "at offset 9: expected a column name, found the number 1"},
		{`"a""; DROP" = 1`, ""},
		{`"a""; DROP TABLE t; --" = 1`, `unknown column "a""; DROP TABLE t; --"`},
		{"t = 'x''); DROP TABLE y; --'", ""},
		{"t = 'x' UNION SELECT 1", "after a complete condition, found the column name UNION"},
		{"t = $1", `unexpected character '$'`},
		{"t = 'x'::text", `unexpected character ':'`},
		{`t = E'\x27'`, `expected a literal after "=", found the column name E`},
		{"t = 'a\x00b'", "NUL byte"},
		{"\xc3\x28 = 1", "invalid UTF-8 byte 0xc3"},
		{"t = '" + strings.Repeat("x", 5000) + "'", "more than the limit of 4096"},
		{strings.Repeat("NOT ", 1000) + "b = TRUE", "nesting deeper than 64"},
		{strings.Repeat("(", 2000) + strings.Repeat(")", 2000), "nesting deeper than 64"},
	} {
		t.Run(tc.src[:min(len(tc.src), 40)], func(t *testing.T) {
			e, err := Parse(tc.src)
			var f *Filter
			if err == nil {
				f, err = Bind(e, cols)
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			sql, args := f.SQL(0)
			if strings.Contains(sql, "'") || strings.Contains(strings.ReplaceAll(sql, `""`, ""), `"; DROP"`) {
				t.Errorf("SQL %s has a literal or a badly quoted name", sql)
			}
			if len(args) != 1 {
				t.Errorf("args %v, want the one literal", args)
			}
		})
	}
}

// The examples of the package comment and docs/FILTERS.md must stay true.
func TestTheDocumentedExamplesHold(t *testing.T) {
	cols := []parquetio.Column{
		{Name: "id", TypeOID: 20, TypeName: "bigint"}, {Name: "status", TypeOID: 25, TypeName: "text"},
		{Name: "amount", TypeOID: 1700, TypeName: "numeric"}, {Name: "region", TypeOID: 1043, TypeName: "character varying(8)"},
		{Name: "updated_at", TypeOID: 1184, TypeName: "timestamp with time zone"}, {Name: "kind", TypeOID: 25, TypeName: "text"},
		{Name: "Customer Id", TypeOID: 20, TypeName: "bigint"}, {Name: "CustomerId", TypeOID: 20, TypeName: "bigint"},
	}
	for _, src := range []string{
		"status = 'shipped' AND amount >= 100", "region IN ('eu', 'us') OR region IS NULL",
		"updated_at >= '2024-11-01T06:00:00Z'", `NOT (kind = 'test' OR "Customer Id" IS NULL)`,
	} {
		mustBind(t, src, cols)
	}
	sql, args := mustBind(t, "status = 'shipped' AND amount >= 100", cols).SQL(0)
	if want := `(("status"::text COLLATE "C" = $1::text) AND ("amount" >= $2::numeric))`; sql != want ||
		!reflect.DeepEqual(args, []any{"shipped", pgtype.Numeric{Int: big.NewInt(100), Valid: true}}) {
		t.Errorf("SQL %s %#v, want %s", sql, args, want)
	}
	for src, want := range map[string]string{
		"amount = )":       `where: at offset 9: expected a literal after "=", found ")": write a 'quoted string', a number such as -12, 3.5 or 1e3, TRUE or FALSE`,
		"a = NULL":         "where: at offset 4: NULL is not a value to compare with (a comparison with NULL is never true): write a IS NULL",
		"amout = 1":        "where: at offset 0: unknown column amout (the columns are id, status, amount, region, updated_at, kind, \"Customer Id\", \"CustomerId\")",
		"CustomerId = 1":   `where: at offset 0: unknown column customerid; unquoted names are folded to lower case: write "CustomerId" in double quotes (the columns are`,
		"amount = '100'":   `where: at offset 9: column amount is numeric: compare it with a number, e.g. amount > 1.5, or 'NaN', 'Infinity' or '-Infinity' (found the string '100')`,
		"status IN (NULL)": "where: at offset 11: NULL cannot be listed in IN",
	} {
		e, err := Parse(src)
		if err == nil {
			_, err = Bind(e, cols)
		}
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: error %v\nwant %s", src, err, want)
		}
	}
}
