package filter

import (
	"bytes"
	"encoding/hex"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/stratahq/strata/internal/parquetio"
)

// uuidOperand binds a string such as 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'
// to a uuid column; uuids order bytewise, as in PostgreSQL.
func uuidOperand(c column, l literal) (operand, error) {
	want := "a uuid in single quotes, e.g. " + quoteIdent(c.name) + " = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'"
	if l.kind != litString {
		return operand{}, typeError(c, l, want)
	}
	u, ok := parseUUID(l.text)
	if !ok {
		return operand{}, typeError(c, l, want)
	}
	cmp := func(v parquetio.Value) (int, bool) {
		if v.Kind() != parquetio.KindUUID {
			return 0, false
		}
		return bytes.Compare(v.Bytes(), u[:]), true
	}
	return operand{cmp: cmp, arg: u, cast: "::uuid"}, nil
}

// parseUUID reads 32 hex digits, plain or grouped 8-4-4-4-12 by hyphens.
func parseUUID(s string) ([16]byte, bool) {
	var u [16]byte
	if len(s) == 36 {
		if s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
			return u, false
		}
		s = s[:8] + s[9:13] + s[14:18] + s[19:23] + s[24:]
	}
	if len(s) != 32 {
		return u, false
	}
	_, err := hex.Decode(u[:], []byte(s))
	return u, err == nil
}

const microsPerDay = 86_400_000_000

// clockOperand binds 'HH:MM[:SS[.ffffff]]' to a time column (24:00:00 is
// the end of the day, as in PostgreSQL).
func clockOperand(c column, l literal) (operand, error) {
	us, ok := parseClock(l.text)
	if l.kind != litString || !ok {
		return operand{}, typeError(c, l, "a time of day in single quotes, HH:MM[:SS[.ffffff]], e.g. "+
			quoteIdent(c.name)+" >= '08:30:00'")
	}
	cmp := func(v parquetio.Value) (int, bool) {
		if v.Kind() != parquetio.KindTime {
			return 0, false
		}
		return cmpInt64(v.Int64(), us), true
	}
	return operand{cmp: cmp, arg: pgtype.Time{Microseconds: us, Valid: true}, cast: "::time"}, nil
}

// parseClock reads HH:MM[:SS[.fraction]] into microseconds since
// midnight, rounding the fraction to microseconds; at most 24:00:00.
func parseClock(s string) (int64, bool) {
	if len(s) < 5 || s[2] != ':' {
		return 0, false
	}
	h, okH := twoDigits(s[0:2])
	m, okM := twoDigits(s[3:5])
	sec, okS, rest := int64(0), true, s[5:]
	if rest != "" {
		if len(rest) < 3 || rest[0] != ':' {
			return 0, false
		}
		sec, okS = twoDigits(rest[1:3])
		rest = rest[3:]
	}
	frac, okF := fraction(rest)
	us := ((h*60+m)*60+sec)*1e6 + frac
	if !okH || !okM || !okS || !okF || m > 59 || sec > 59 || us > microsPerDay {
		return 0, false
	}
	return us, true
}

func twoDigits(s string) (int64, bool) {
	if !isDigit(s[0]) || !isDigit(s[1]) {
		return 0, false
	}
	return int64(s[0]-'0')*10 + int64(s[1]-'0'), true
}

// fraction reads "" or "." and digits as microseconds, rounded half up.
func fraction(s string) (int64, bool) {
	if s == "" {
		return 0, true
	}
	if s[0] != '.' || len(s) == 1 {
		return 0, false
	}
	var us int64
	for i, c := range []byte(s[1:]) {
		if !isDigit(c) {
			return 0, false
		}
		switch {
		case i < 6:
			us = us*10 + int64(c-'0')
		case i == 6 && c >= '5':
			us++
		}
	}
	for i := len(s) - 1; i < 6; i++ {
		us *= 10
	}
	return us, true
}

// bindTimes binds literals to a date, timestamp or timestamptz column.
// Values and literals compare as microseconds since 1970 UTC (a timestamp
// without time zone by its wall clock read as UTC, a date at its midnight),
// with ±infinity at the ends. In SQL a date column is compared as a date
// when every literal is a whole day, else cast to timestamp.
func bindTimes(c column, colSQL string, lits []literal) (string, []operand, error) {
	micros := make([]int64, len(lits))
	days := c.kind == parquetio.KindDate
	for i, l := range lits {
		us, ok := parseTimeLiteral(l)
		if !ok {
			return "", nil, typeError(c, l, "a time in single quotes: RFC 3339 with an offset, e.g. '2024-11-01T06:00:00Z' or "+
				"'2024-11-01T08:00:00+02:00', a date such as '2024-11-01' (midnight UTC), or 'infinity' or '-infinity'")
		}
		micros[i] = us
		days = days && (us == math.MaxInt64 || us == math.MinInt64 || us%microsPerDay == 0)
	}
	kind := c.kind
	if kind == parquetio.KindDate && !days {
		kind, colSQL = parquetio.KindTimestamp, colSQL+"::timestamp"
	}
	ops := make([]operand, len(lits))
	for i, us := range micros {
		arg, cast := timeArg(kind, us)
		ops[i] = operand{cmp: timeCmp(us), arg: arg, cast: cast}
	}
	return colSQL, ops, nil
}

// parseTimeLiteral reads 'infinity', '-infinity', a date (midnight UTC) or
// an RFC 3339 time, rounded to microseconds, as microseconds since 1970.
func parseTimeLiteral(l literal) (int64, bool) {
	if l.kind != litString {
		return 0, false
	}
	switch strings.ToLower(l.text) {
	case "infinity", "+infinity":
		return math.MaxInt64, true
	case "-infinity":
		return math.MinInt64, true
	}
	layout := time.RFC3339Nano
	if len(l.text) == len(time.DateOnly) {
		layout = time.DateOnly
	}
	t, err := time.Parse(layout, l.text)
	if err != nil {
		return 0, false
	}
	return t.Round(time.Microsecond).UnixMicro(), true
}

// timeCmp compares a date, timestamp or timestamptz value with us.
func timeCmp(us int64) func(parquetio.Value) (int, bool) {
	return func(v parquetio.Value) (int, bool) {
		switch v.Kind() {
		case parquetio.KindTimestamp, parquetio.KindTimestamptz:
			return cmpInt64(v.Int64(), us), true
		case parquetio.KindDate:
			return cmpInt64(dateMicros(v.Int64()), us), true
		}
		return 0, false
	}
}

// dateMicros is a date (days since 1970, ±infinity as the int32
// extremes) as microseconds since 1970, ±infinity as the int64 extremes.
func dateMicros(days int64) int64 {
	switch days {
	case math.MaxInt32:
		return math.MaxInt64
	case math.MinInt32:
		return math.MinInt64
	}
	return days * microsPerDay
}

// timeArg is the SQL parameter for us compared as kind, with its cast.
func timeArg(kind parquetio.Kind, us int64) (any, string) {
	inf := pgtype.Finite
	switch us {
	case math.MaxInt64:
		inf = pgtype.Infinity
	case math.MinInt64:
		inf = pgtype.NegativeInfinity
	}
	t := time.UnixMicro(us).UTC()
	if inf != pgtype.Finite {
		t = time.Time{}
	}
	switch kind {
	case parquetio.KindDate:
		return pgtype.Date{Time: t, InfinityModifier: inf, Valid: true}, "::date"
	case parquetio.KindTimestamp:
		return pgtype.Timestamp{Time: t, InfinityModifier: inf, Valid: true}, "::timestamp"
	}
	return pgtype.Timestamptz{Time: t, InfinityModifier: inf, Valid: true}, "::timestamptz"
}
