package filter

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/parquetio"
)

// statsOf builds statistics for one column from the values of a row.
func statsOf(t *testing.T, col string, min, max any, nulls int64) parquetio.ColumnStats {
	t.Helper()
	s := mustSchema(t, testColumns)
	lo := makeRow(t, s, map[string]any{col: min})[s.Index(col)]
	hi := makeRow(t, s, map[string]any{col: max})[s.Index(col)]
	return parquetio.ColumnStats{Min: lo, Max: hi, NullCount: nulls, HasMinMax: min != nil}
}

func TestMayMatchPrunesOnlyGroupsWhereNoRowCanMatch(t *testing.T) {
	st := map[string]parquetio.ColumnStats{
		"i8":  statsOf(t, "i8", int64(10), int64(20), 0),
		"i4":  statsOf(t, "i4", int32(7), int32(7), 3),
		"t":   statsOf(t, "t", "b", "d", 0),
		"c":   statsOf(t, "c", "b   ", "d   ", 0),
		"f8":  statsOf(t, "f8", 10.0, 20.0, 0),
		"n":   {NullCount: 0},
		"b":   statsOf(t, "b", true, true, 0),
		"ts":  statsOf(t, "ts", ts("2024-11-01T00:00:00Z"), ts("2024-11-02T00:00:00Z"), 0),
		"d":   statsOf(t, "d", date("2024-11-01"), date("2024-11-01"), 0),
		"u":   statsOf(t, "u", nil, nil, 100),
		"arr": {NullCount: 250},
	}
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{"i8 = 15", true}, {"i8 = 5", false}, {"i8 = 21", false}, {"i8 < 10", false}, {"i8 <= 10", true},
		{"i8 > 20", false}, {"i8 >= 20", true}, {"i8 < 10.5", true}, {"i8 > 20.5", false}, {"i8 <> 10", true},
		{"NOT i8 >= 10", false}, {"NOT i8 = 15", true},
		{"i8 IN (1, 2, 30)", false}, {"i8 IN (1, 15)", true}, {"i8 NOT IN (15)", true},
		{"i4 <> 7", false}, {"i4 NOT IN (1, 7)", false}, {"i4 NOT IN (1, 8)", true}, {"i4 = 7", true},
		{"i4 IS NULL", true}, {"i8 IS NULL", false}, {"i8 IS NOT NULL", true},
		{"t = 'a'", false}, {"t = 'c'", true}, {"t > 'd'", false}, {"t >= 'd'", true}, {"t < 'b'", false},
		{"t < 'B'", false}, {"t = 'dz'", false}, {"t = 'bz'", true},
		{"c = 'a'", true},    // character(n) is compared without its padding: no pruning
		{"f8 = 5", true},     // floats are never pruned by their bounds
		{"n = 1", true},      // numeric has no bounds
		{"n IS NULL", false}, // but a null count
		{"b = FALSE", false}, {"b = TRUE", true}, {"b < TRUE", false},
		{"ts < '2024-11-01'", false}, {"ts <= '2024-11-01'", true}, {"ts > '2024-11-01T23:00:00+02:00'", true},
		{"ts > '2024-11-02T03:00:00+02:00'", false},
		{"d = '2024-11-01'", true}, {"d > '2024-11-01T00:00:00Z'", false}, {"d >= '2024-11-01T00:00:00Z'", true},
		{"u IS NULL", true}, {"u IS NOT NULL", false}, {"u = '00000000000000000000000000000000'", false},
		{"u <> '00000000000000000000000000000000'", false}, {"u NOT IN ('00000000000000000000000000000000')", false},
		{"arr IS NOT NULL", true}, // an array's null count also counts NULL elements
		{"tz = 'infinity'", true}, // no statistics for tz: anything may be there
		{"i8 = 5 OR t = 'c'", true}, {"i8 = 15 AND t = 'a'", false}, {"NOT (i8 = 15 AND t = 'c')", true},
		{"NOT (i8 >= 10 OR u IS NULL)", false},
	} {
		f := mustBind(t, tc.src, testColumns)
		if got := f.MayMatch(st, 100); got != tc.want {
			t.Errorf("MayMatch(%s) = %v, want %v", tc.src, got, tc.want)
		}
	}
	if mustBind(t, "i8 IS NULL OR i8 IS NOT NULL", testColumns).MayMatch(st, 0) {
		t.Error("a group of no rows may match")
	}
	if !mustBind(t, "i8 = 5", testColumns).MayMatch(nil, 1) {
		t.Error("a group without statistics was pruned")
	}
}

// pruneColumns are the columns of the pruning property test.
var pruneColumns = []string{"id", "i4", "i8", "f8", "n", "t", "c", "e", "b", "u", "d", "tm", "ts", "tz"}

// pruneValues are the values the property test draws from, by column, as
// Go values for makeRow and as filter literals.
var pruneValues = map[string][]any{
	"i4": {int32(-2), int32(0), int32(1), int32(3), int32(math.MaxInt32)},
	"i8": {int64(math.MinInt64), int64(-1), int64(0), int64(2), int64(5)},
	"f8": {math.NaN(), math.Copysign(0, -1), 0.0, 1.5, math.Inf(1), math.Inf(-1)},
	"n":  {num("NaN"), num("-1.5"), num("0"), num("2.50"), num("Infinity"), num("-Infinity")},
	"t":  {"", "a", "ab", "B", "b", "é"},
	"c":  {"a   ", "a\x01  ", "b   ", "    "},
	"e":  {enum("happy"), enum("ok"), enum("sad")},
	"b":  {true, false},
	"u":  {uuid("00000000-0000-0000-0000-000000000001"), uuid("7fffffff-0000-0000-0000-000000000000"), uuid("ffffffff-ffff-ffff-ffff-ffffffffffff")},
	"d":  {date("2024-10-31"), date("2024-11-01"), date("2024-11-03"), date("1999-01-01")},
	"tm": {clock(0, 0, 0, 0), clock(8, 30, 0, 0), clock(23, 59, 59, 999999), clock(24, 0, 0, 0)},
	"ts": {ts("2024-11-01T06:00:00Z"), ts("2024-11-01T06:00:00.000001Z"), ts("1970-01-01T00:00:00Z")},
	"tz": {tstz("2024-11-01T06:00:00Z"), tstz("2024-11-01T05:59:59.999999Z"), tstz("2030-01-01T00:00:00Z")},
}

var pruneLiterals = map[string][]string{
	"i4": {"-2", "0", "0.5", "1", "2", "3", "1e10", "-1e10"},
	"i8": {"-9223372036854775808", "-1", "-0.5", "0", "2", "4", "5", "6", "1e30"},
	"f8": {"'NaN'", "0", "-1", "1.5", "2", "'Infinity'", "'-Infinity'"},
	"n":  {"'NaN'", "-1.5", "0", "2.5", "3", "'Infinity'", "'-Infinity'"},
	"t":  {"''", "'a'", "'ab'", "'B'", "'b'", "'c'", "'é'"},
	"c":  {"'a'", "'a '", "'b'", "''", "'a\x01'"},
	"e":  {"'happy'", "'ok'", "'sad'", "'zzz'"},
	"b":  {"TRUE", "FALSE"},
	"u":  {"'00000000-0000-0000-0000-000000000001'", "'7fffffff000000000000000000000000'", "'80000000-0000-0000-0000-000000000000'"},
	"d":  {"'2024-11-01'", "'2024-11-01T00:00:00Z'", "'2024-11-01T12:00:00Z'", "'2024-11-02'", "'infinity'", "'-infinity'"},
	"tm": {"'00:00'", "'08:30'", "'12:00'", "'24:00'"},
	"ts": {"'2024-11-01T06:00:00Z'", "'2024-11-01T07:00:00+01:00'", "'1970-01-01'", "'infinity'"},
	"tz": {"'2024-11-01T06:00:00Z'", "'2024-11-01T06:00:00+01:00'", "'2030-01-01'", "'-infinity'"},
}

// randomExpr builds a random expression over the pruning columns.
func randomExpr(r *rand.Rand, depth int) string {
	if depth > 0 && r.IntN(3) > 0 {
		a, b := randomExpr(r, depth-1), randomExpr(r, depth-1)
		switch r.IntN(3) {
		case 0:
			return "(" + a + " AND " + b + ")"
		case 1:
			return "(" + a + " OR " + b + ")"
		}
		return "NOT (" + a + ")"
	}
	col := pruneColumns[1+r.IntN(len(pruneColumns)-1)]
	lits := pruneLiterals[col]
	lit := func() string { return lits[r.IntN(len(lits))] }
	switch r.IntN(8) {
	case 0:
		return col + " IS NULL"
	case 1:
		return col + " IS NOT NULL"
	case 2:
		return fmt.Sprintf("%s IN (%s, %s)", col, lit(), lit())
	case 3:
		return fmt.Sprintf("%s NOT IN (%s, %s)", col, lit(), lit())
	}
	return col + " " + []string{"=", "<>", "<", "<=", ">", ">="}[r.IntN(6)] + " " + lit()
}

// randomFile writes rows of random values (some columns NULL in whole row
// groups) to a Parquet file with small row groups and opens it.
func randomFile(t *testing.T, r *rand.Rand, s *parquetio.Schema) *parquetio.Reader {
	t.Helper()
	var buf bytes.Buffer
	w, err := parquetio.NewWriter(&buf, s, parquetio.WriterOptions{RowGroupRows: 8, Compression: "none"})
	if err != nil {
		t.Fatal(err)
	}
	var nullCol string
	for id := range 80 {
		if id%8 == 0 {
			nullCol = pruneColumns[1+r.IntN(len(pruneColumns)-1)]
		}
		vals := map[string]any{"id": int64(id)}
		for col, pool := range pruneValues {
			if col != nullCol && r.IntN(5) > 0 {
				vals[col] = pool[r.IntN(len(pool))]
			}
		}
		if err := w.WriteValues(makeRow(t, s, vals)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	rd, err := parquetio.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

// A row group that holds a matching row must never be pruned, whatever
// the statistics Parquet wrote for it; and pruning must happen.
func TestMayMatchNeverPrunesAGroupWithAMatchingRow(t *testing.T) {
	var cols []parquetio.Column
	for _, name := range pruneColumns {
		cols = append(cols, testColumns[mustSchema(t, testColumns).Index(name)])
	}
	s := mustSchema(t, cols)
	var checked, pruned int
	for seed := range uint64(40) {
		r := rand.New(rand.NewPCG(seed, 7))
		file := randomFile(t, r, s)
		groups := readGroups(t, file)
		for range 60 {
			src := randomExpr(r, 3)
			f := mustBind(t, src, cols)
			m := f.Matcher(s.Index)
			for g, rows := range groups {
				matches := 0
				for _, row := range rows {
					if m.Match(row) {
						matches++
					}
				}
				may := f.MayMatch(file.RowGroupStats(g), file.RowGroupRows(g))
				if matches > 0 && !may {
					t.Fatalf("seed %d: %s: row group %d has %d matching rows but MayMatch is false (stats %s)",
						seed, src, g, matches, describeStats(file.RowGroupStats(g)))
				}
				checked++
				if !may {
					pruned++
				}
			}
		}
	}
	t.Logf("%d row groups checked, %d pruned", checked, pruned)
	if pruned < checked/20 {
		t.Errorf("only %d of %d row groups pruned: MayMatch prunes too little to be tested", pruned, checked)
	}
}

// readGroups reads every row group's rows, cloned.
func readGroups(t *testing.T, file *parquetio.Reader) [][][]parquetio.Value {
	t.Helper()
	groups := make([][][]parquetio.Value, file.RowGroups())
	for g := range groups {
		it, err := file.Rows(context.Background(), nil, func(i int) bool { return i == g })
		if err != nil {
			t.Fatal(err)
		}
		for it.Next() {
			row := make([]parquetio.Value, len(it.Row()))
			for i, v := range it.Row() {
				row[i] = v.Clone()
			}
			groups[g] = append(groups[g], row)
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return groups
}

func describeStats(st map[string]parquetio.ColumnStats) string {
	var b strings.Builder
	for name, s := range st {
		fmt.Fprintf(&b, "%s[%s..%s nulls %d] ", name, s.Min.AppendText(nil), s.Max.AppendText(nil), s.NullCount)
	}
	return b.String()
}
