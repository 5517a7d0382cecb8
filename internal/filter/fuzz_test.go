package filter

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/parquetio"
)

// fuzzSeeds are valid and invalid expressions the fuzzer starts from.
var fuzzSeeds = []string{
	"status = 'shipped' AND amount >= 100",
	"region IN ('eu','us') OR region IS NULL",
	"updated_at >= '2024-11-01T06:00:00Z'",
	`NOT ("Mixed Case" <> 'it''s' OR n NOT IN (-1.5e3, .5, 7)) AND b IS NOT NULL`,
	"((i4 = 1 OR i8 = 2) AND NOT NOT f8 < 3) OR b >= TRUE",
	"d < '2024-11-01T06:00:00Z' OR ts IN ('infinity', '2024-11-01') AND tm > '08:30:00.5'",
	"u = '00000000-0000-0000-0000-000000000001' OR c = 'ab' OR e NOT IN ('ok') OR t < 'é'",
	"n > 'NaN' OR f4 = '-inf' OR i2 < 100000 OR iv IS NULL OR arr IS NOT NULL",
	`"a""; DROP" = 1`,
	"x; DROP TABLE y; --",
	"a = 1 OR 1=1",
	"a='x'AND(b<-1)OR\"c\"IN(1)",
	"a = NULL", "a IN ()", "(a = 1", "a = 1e1001", "a = 'x\x00'", "a = '\xff'",
}

// FuzzParse checks that Parse never panics, that every error is an *Error
// inside the text, that the canonical text of every tree parses back to
// the same tree and is never longer than its source, and that whatever
// binds to the test columns evaluates, prunes and renders without panics,
// consistently with SQL's three-valued logic.
func FuzzParse(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	s := mustSchema(f, testColumns)
	rows := make([][]parquetio.Value, len(matchRows))
	for i, r := range matchRows {
		rows[i] = makeRow(f, s, r)
	}
	f.Fuzz(func(t *testing.T, src string) {
		e, err := Parse(src)
		if err != nil {
			var perr *Error
			if !errors.As(err, &perr) || perr.Offset < 0 || perr.Offset > len(src) {
				t.Fatalf("Parse(%q) error %v: want an *Error with an offset within the text", src, err)
			}
			return
		}
		checkCanonical(t, src, e)
		if fl, err := Bind(e, testColumns); err == nil {
			checkBound(t, e, fl, s, rows)
		} else if !errors.As(err, new(*Error)) {
			t.Fatalf("Bind(%q) error %v is no *Error", src, err)
		}
	})
}

func checkCanonical(t *testing.T, src string, e Expr) {
	t.Helper()
	canon := e.String()
	if len(canon) > len(src) {
		t.Fatalf("String() of %q is %q, longer than the source", src, canon)
	}
	again, err := Parse(canon)
	if err != nil {
		t.Fatalf("Parse(%q) (the canonical text of %q): %v", canon, src, err)
	}
	if again.String() != canon || tree(again) != tree(e) {
		t.Fatalf("Parse(%q) gave %s, want %s", canon, tree(again), tree(e))
	}
}

// checkBound checks a bound filter against the reference evaluator and
// its SQL for one placeholder per argument.
func checkBound(t *testing.T, e Expr, f *Filter, s *parquetio.Schema, rows [][]parquetio.Value) {
	t.Helper()
	m := f.Matcher(s.Index)
	for _, row := range rows {
		if got, want := m.Match(row), refEval(t, e, s, row) == isTrue; got != want {
			t.Fatalf("%s on row %d: Match = %v, three-valued evaluation of the tree says %v", e, row[0].Int64(), got, want)
		}
	}
	f.MayMatch(nil, 1)
	sql, args := f.SQL(0)
	if n := strings.Count(sql, "$"); n != len(args) {
		t.Fatalf("%s: %d placeholders for %d args in %s", e, n, len(args), sql)
	}
}

// tri is a value of SQL's three-valued logic.
type tri int8

const (
	isFalse tri = iota
	isNull
	isTrue
)

// refEval evaluates e on row by the book: Kleene's AND, OR and NOT over the
// tree as parsed, each condition TRUE if it matches, FALSE if its negation
// does, NULL otherwise.
func refEval(t *testing.T, e Expr, s *parquetio.Schema, row []parquetio.Value) tri {
	switch e := e.(type) {
	case *andExpr:
		out := isTrue
		for _, k := range e.terms {
			out = min(out, refEval(t, k, s, row))
		}
		return out
	case *orExpr:
		out := isFalse
		for _, k := range e.terms {
			out = max(out, refEval(t, k, s, row))
		}
		return out
	case *notExpr:
		return isTrue - refEval(t, e.x, s, row)
	}
	leaf := mustBind(t, e.String(), testColumns).Matcher(s.Index)
	neg := mustBind(t, "NOT "+e.String(), testColumns).Matcher(s.Index)
	switch yes, no := leaf.Match(row), neg.Match(row); {
	case yes && no:
		t.Fatalf("%s is both TRUE and FALSE on row %d", e, row[0].Int64())
	case yes:
		return isTrue
	case no:
		return isFalse
	}
	return isNull
}

func TestNotPushDownAgreesWithThreeValuedLogic(t *testing.T) {
	s := mustSchema(t, testColumns)
	rows := make([][]parquetio.Value, len(matchRows))
	for i, r := range matchRows {
		rows[i] = makeRow(t, s, r)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 500 {
		e := mustParse(t, randomExpr(r, 4))
		checkBound(t, e, mustBind(t, e.String(), testColumns), s, rows)
	}
}
