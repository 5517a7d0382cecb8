package filter

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratahq/strata/internal/parquetio"
)

func ts(s string) pgtype.Timestamp {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return pgtype.Timestamp{Time: t, Valid: true}
}

func tstz(s string) pgtype.Timestamptz { return pgtype.Timestamptz{Time: ts(s).Time, Valid: true} }

func date(s string) pgtype.Date {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return pgtype.Date{Time: t, Valid: true}
}

func clock(h, m, s, us int64) pgtype.Time {
	return pgtype.Time{Microseconds: ((h*60+m)*60+s)*1e6 + us, Valid: true}
}

func uuid(s string) pgtype.UUID {
	u, ok := parseUUID(s)
	if !ok {
		panic(s)
	}
	return pgtype.UUID{Bytes: u, Valid: true}
}

var (
	posInf = pgtype.Infinity
	negInf = pgtype.NegativeInfinity
)

// matchRows are the rows of the evaluation tests, by id: typical values,
// extremes, all NULLs, zeros and empty values, and more edges.
var matchRows = []map[string]any{
	{"id": int64(1), "i2": int16(1), "i4": int32(10), "i8": int64(100), "f4": float32(1.5), "f8": 1.5,
		"n": num("1.50"), "t": "apple", "c": "ab  ", "e": enum("happy"), "b": true,
		"u": uuid("00000000-0000-0000-0000-000000000001"), "d": date("2024-11-01"), "tm": clock(8, 30, 0, 0),
		"ts": ts("2024-11-01T06:00:00Z"), "tz": tstz("2024-11-01T06:00:00Z"), "iv": pgtype.Interval{Days: 1, Valid: true},
		"j": map[string]any{"a": 1}, "by": []byte{1}, "arr": []int32{1, 2}, "Mixed Case": "X"},
	{"id": int64(2), "i2": int16(math.MinInt16), "i4": int32(math.MinInt32), "i8": int64(math.MaxInt64),
		"f4": float32(math.NaN()), "f8": math.NaN(), "n": num("NaN"), "t": "Apple", "c": "abc ", "e": enum("sad"),
		"b": false, "u": uuid("ffffffff-ffff-ffff-ffff-ffffffffffff"), "d": pgtype.Date{InfinityModifier: posInf, Valid: true},
		"tm": clock(24, 0, 0, 0), "ts": pgtype.Timestamp{InfinityModifier: posInf, Valid: true},
		"tz": pgtype.Timestamptz{InfinityModifier: negInf, Valid: true}, "by": []byte{}, "arr": []int32{}},
	{"id": int64(3)},
	{"id": int64(4), "i2": int16(0), "i4": int32(0), "i8": int64(0), "f4": float32(math.Copysign(0, -1)),
		"f8": math.Copysign(0, -1), "n": num("0"), "t": "", "c": "    ", "e": enum("ok"), "b": false,
		"u": uuid("00000000-0000-0000-0000-000000000000"), "d": pgtype.Date{InfinityModifier: negInf, Valid: true},
		"tm": clock(0, 0, 0, 0), "ts": pgtype.Timestamp{InfinityModifier: negInf, Valid: true},
		"tz": pgtype.Timestamptz{InfinityModifier: posInf, Valid: true}},
	{"id": int64(5), "i2": int16(math.MaxInt16), "i4": int32(2), "i8": int64(math.MinInt64), "f4": float32(math.Inf(1)),
		"f8": math.Inf(-1), "n": num("-Infinity"), "t": "apple pie", "c": "b\x01  ", "e": enum("happy"), "b": true,
		"u": uuid("7fffffff-ffff-ffff-ffff-ffffffffffff"), "d": date("2024-10-31"), "tm": clock(23, 59, 59, 999999),
		"ts": ts("2024-10-31T23:59:59.999999Z"), "tz": tstz("2024-11-01T05:59:59.999999Z")},
	{"id": int64(6), "i8": int64(-1), "f4": float32(math.Inf(-1)), "f8": math.Inf(1),
		"n": num("1234567890123456789012345678901234567890.000000000000000000001"), "t": "é",
		"d": date("2024-11-02"), "ts": ts("2024-11-01T06:00:00.000001Z"), "tz": tstz("2024-11-01T08:00:00+02:00")},
}

// matchCases are expressions with the ids of matchRows they select.
var matchCases = []struct {
	src  string
	want []int64
}{
	{"i2 < 100000", []int64{1, 2, 4, 5}},
	{"i2 > -100000", []int64{1, 2, 4, 5}},
	{"i2 >= 32767.5", nil},
	{"i8 = 100", []int64{1}},
	{"i8 = 1.5", nil},
	{"i8 < 1.5", []int64{4, 5, 6}},
	{"i8 > -1.5 AND i8 < 0.5", []int64{4, 6}},
	{"i8 >= 9223372036854775807", []int64{2}},
	{"i8 > 9223372036854775807", nil},
	{"i8 < 1e30", []int64{1, 2, 4, 5, 6}},
	{"i8 <= -9223372036854775808", []int64{5}},
	{"i8 < -9223372036854775808.5", nil},
	{"i8 <> 1e2", []int64{2, 4, 5, 6}},
	{"i4 IN (10, 2, 2.5)", []int64{1, 5}},
	{"i4 NOT IN (10, 0)", []int64{2, 5}},
	{"NOT i4 = 10", []int64{2, 4, 5}},
	{"i4 <> 10 OR i4 IS NULL", []int64{2, 3, 4, 5, 6}},
	{"f8 = 'NaN'", []int64{2}},
	{"f8 > 1e308", []int64{2, 6}},
	{"f8 >= 'Infinity'", []int64{2, 6}},
	{"f8 < 'NaN'", []int64{1, 4, 5, 6}},
	{"f8 = 0", []int64{4}},
	{"f8 <> 1.5", []int64{2, 4, 5, 6}},
	{"NOT f8 < 2", []int64{2, 6}},
	{"f8 <= '-inf'", []int64{5}},
	{"f4 = 1.5", []int64{1}},
	{"f4 IN ('NaN', '-Infinity')", []int64{2, 6}},
	{"f4 > 1e38", []int64{2, 5}},
	{"n = 1.5", []int64{1}},
	{"n = 'NaN'", []int64{2}},
	{"n > 1e39", []int64{2, 6}},
	{"n < 0", []int64{5}},
	{"n >= '-Infinity'", []int64{1, 2, 4, 5, 6}},
	{"n > 'Infinity'", []int64{2}},
	{"n <> 0", []int64{1, 2, 5, 6}},
	{"n IN (0, 1.500)", []int64{1, 4}},
	{"t = 'apple'", []int64{1}},
	{"t < 'apple'", []int64{2, 4}},
	{"t > 'apple'", []int64{5, 6}},
	{"t >= 'b'", []int64{6}},
	{"t IN ('Apple', '')", []int64{2, 4}},
	{"t <> 'apple'", []int64{2, 4, 5, 6}},
	{`"Mixed Case" = 'X'`, []int64{1}},
	{"c = 'ab'", []int64{1}},
	{"c = 'ab  '", []int64{1}}, // as PostgreSQL: the literal is read as character, trailing spaces insignificant
	{"c = ''", []int64{4}},
	{"c > 'b'", []int64{5}},
	{"e = 'happy'", []int64{1, 5}},
	{"e < 'ok'", []int64{1, 5}},
	{"e NOT IN ('happy')", []int64{2, 4}},
	{"b = TRUE", []int64{1, 5}},
	{"b <> TRUE", []int64{2, 4}},
	{"NOT b = TRUE", []int64{2, 4}},
	{"b > FALSE", []int64{1, 5}},
	{"u = '00000000-0000-0000-0000-000000000001'", []int64{1}},
	{"u > '7FFFFFFF000000000000000000000000'", []int64{2, 5}},
	{"u < '80000000-0000-0000-0000-000000000000'", []int64{1, 4, 5}},
	{"d = '2024-11-01'", []int64{1}},
	{"d >= '2024-11-01'", []int64{1, 2, 6}},
	{"d < '2024-11-01T06:00:00Z'", []int64{1, 4, 5}},
	{"d > '2024-11-01T06:00:00Z'", []int64{2, 6}},
	{"d = '2024-11-01T02:00:00+02:00'", []int64{1}},
	{"d = 'infinity'", []int64{2}},
	{"d IN ('2024-10-31', '2024-11-02T00:00:00.5Z')", []int64{5}},
	{"tm >= '08:30'", []int64{1, 2, 5}},
	{"tm = '24:00:00'", []int64{2}},
	{"tm < '23:59:59.9999995'", []int64{1, 4, 5}},
	{"tm > '00:00'", []int64{1, 2, 5}},
	{"ts = '2024-11-01T06:00:00Z'", []int64{1}},
	{"ts = '2024-11-01T08:00:00+02:00'", []int64{1}},
	{"ts > '2024-11-01T06:00:00Z'", []int64{2, 6}},
	{"ts < '2024-11-01'", []int64{4, 5}},
	{"ts <= '2024-11-01T06:00:00.0000004Z'", []int64{1, 4, 5}},
	{"ts >= '2024-11-01T06:00:00.0000005Z'", []int64{2, 6}},
	{"ts < 'infinity'", []int64{1, 4, 5, 6}},
	{"tz = '2024-11-01T06:00:00Z'", []int64{1, 6}},
	{"tz < '2024-11-01T07:00:00+01:00'", []int64{2, 5}},
	{"tz >= '-infinity'", []int64{1, 2, 4, 5, 6}},
	{"iv IS NULL", []int64{2, 3, 4, 5, 6}},
	{"j IS NOT NULL", []int64{1}},
	{"by IS NOT NULL", []int64{1, 2}},
	{"arr IS NULL", []int64{3, 4, 5, 6}},
	{"t = 'apple' OR t IS NULL", []int64{1, 3}},
	{"NOT (t = 'apple' OR t IS NULL)", []int64{2, 4, 5, 6}},
	{"NOT (i4 = 10 AND t = 'zzz')", []int64{1, 2, 4, 5, 6}},
	{"NOT NOT b = TRUE", []int64{1, 5}},
	{"i2 IS NULL AND NOT t IS NULL", []int64{6}},
	{"NOT (b = TRUE OR b = FALSE)", nil},
}

func TestMatchFollowsPostgreSQLSemanticsOnEveryKind(t *testing.T) {
	s := mustSchema(t, testColumns)
	rows := make([][]parquetio.Value, len(matchRows))
	for i, r := range matchRows {
		rows[i] = makeRow(t, s, r)
	}
	for _, tc := range matchCases {
		t.Run(tc.src, func(t *testing.T) {
			m := mustBind(t, tc.src, testColumns).Matcher(s.Index)
			var got []int64
			for _, r := range rows {
				if m.Match(r) {
					got = append(got, r[0].Int64())
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%s selects %v, want %v", tc.src, got, tc.want)
			}
		})
	}
}

func TestAColumnMissingFromTheRowsReadsAsNull(t *testing.T) {
	s := mustSchema(t, testColumns)
	row := makeRow(t, s, matchRows[0])
	without := func(name string) int {
		if name == "t" {
			return -1
		}
		return s.Index(name)
	}
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{"t IS NULL", true},
		{"t IS NOT NULL", false},
		{"t = 'apple'", false},
		{"t <> 'apple'", false},
		{"NOT t = 'apple'", false},
		{"t NOT IN ('x')", false},
		{"t = 'apple' OR i4 = 10", true},
		{"t IS NULL AND i4 = 10", true},
	} {
		if got := mustBind(t, tc.src, testColumns).Matcher(without).Match(row); got != tc.want {
			t.Errorf("%s on a row without t = %v, want %v", tc.src, got, tc.want)
		}
	}
}

func TestAValueOfAnotherKindReadsAsNull(t *testing.T) {
	// A file written when i4 was text: its values cannot be compared with a number.
	old := []parquetio.Column{{Name: "i4", TypeOID: 25, TypeName: "text"}}
	row := makeRow(t, mustSchema(t, old), map[string]any{"i4": "10"})
	for src, want := range map[string]bool{"i4 = 10": false, "i4 <> 10": false, "i4 NOT IN (1)": false, "i4 IS NOT NULL": true} {
		m := mustBind(t, src, testColumns).Matcher(func(string) int { return 0 })
		if got := m.Match(row); got != want {
			t.Errorf("%s on a text value = %v, want %v", src, got, want)
		}
	}
}

func TestColumnsListsEachColumnOnceInOrderOfUse(t *testing.T) {
	f := mustBind(t, `t = 'a' OR (i4 > 1 AND NOT t IS NULL) OR "Mixed Case" IN ('x') OR i4 < 0`, testColumns)
	if got, want := fmt.Sprint(f.Columns()), "[t i4 Mixed Case]"; got != want {
		t.Errorf("Columns() = %s, want %s", got, want)
	}
}
