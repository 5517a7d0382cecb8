package parquetio

import (
	"math"
	"strconv"
)

func appendInt(dst []byte, v int64) []byte { return strconv.AppendInt(dst, v, 10) }

// appendPadded appends v (>= 0) zero-padded to width digits.
func appendPadded(dst []byte, v, width int) []byte {
	if v >= 0 { // the widths times use, digit by digit
		switch {
		case width == 2 && v < 100:
			return append(dst, byte('0'+v/10), byte('0'+v%10))
		case width == 4 && v < 10000:
			return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
		case width == 6 && v < 1000000:
			return append(dst, byte('0'+v/100000), byte('0'+v/10000%10), byte('0'+v/1000%10),
				byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
		}
	}
	var buf [20]byte
	b := strconv.AppendInt(buf[:0], int64(v), 10)
	for i := len(b); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, b...)
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date with
// astronomical year numbering (year 0 is 1 BC), after Howard Hinnant's
// days_from_civil inverse.
func civil(days int64) (year int64, month, day int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		month = int(mp + 3)
	} else {
		month = int(mp - 9)
	}
	year = yoe + era*400
	if month <= 2 {
		year++
	}
	return year, month, day
}

// floorDiv divides rounding toward negative infinity.
func floorDiv(a, b int64) (q, r int64) {
	q, r = a/b, a%b
	if r < 0 {
		q--
		r += b
	}
	return q, r
}

// appendDate writes days since 1970 as YYYY-MM-DD, as PostgreSQL does with
// DateStyle ISO: years before 1 as the year counted back ("0044-03-15" for
// 44 BC), bc set so that the caller ends the value with " BC".
func appendDate(dst []byte, days int64) (out []byte, bc bool) {
	y, m, d := civil(days)
	if y <= 0 {
		y, bc = 1-y, true
	}
	dst = appendPadded(dst, int(y), 4)
	dst = append(dst, '-')
	dst = appendPadded(dst, m, 2)
	dst = append(dst, '-')
	dst = appendPadded(dst, d, 2)
	return dst, bc
}

// appendClock writes micros since midnight as HH:MM:SS[.ffffff], trailing
// zeros of the fraction trimmed, as PostgreSQL does.
func appendClock(dst []byte, micros int64) []byte {
	secs, frac := micros/1e6, micros%1e6
	dst = appendPadded(dst, int(secs/3600), 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, int(secs/60%60), 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, int(secs%60), 2)
	return appendFraction(dst, frac)
}

func appendFraction(dst []byte, frac int64) []byte {
	if frac == 0 {
		return dst
	}
	dst = append(dst, '.')
	start := len(dst)
	dst = appendPadded(dst, int(frac), 6)
	for len(dst) > start+1 && dst[len(dst)-1] == '0' {
		dst = dst[:len(dst)-1]
	}
	return dst
}

// appendTimestamp writes microseconds since 1970 as PostgreSQL writes a
// timestamp in a session with DateStyle ISO and TimeZone UTC. Text form
// (xsd false), what a ::timestamptz cast reads back whatever the reading
// session's DateStyle and TimeZone: "2024-01-02 03:04:05.5+00". JSON form
// (xsd true), as to_json and row_to_json write it: "2024-01-02T03:04:05.5+00:00".
// A timestamp without time zone has no offset; years before 1 end in " BC".
func appendTimestamp(dst []byte, us int64, tz, xsd bool) []byte {
	if us == math.MaxInt64 {
		return append(dst, "infinity"...)
	}
	if us == math.MinInt64 {
		return append(dst, "-infinity"...)
	}
	days, rem := floorDiv(us, microsPerDay)
	dst, bc := appendDate(dst, days)
	if xsd {
		dst = append(dst, 'T')
	} else {
		dst = append(dst, ' ')
	}
	dst = appendClock(dst, rem)
	switch {
	case tz && xsd:
		dst = append(dst, "+00:00"...)
	case tz:
		dst = append(dst, "+00"...)
	}
	if bc {
		dst = append(dst, " BC"...)
	}
	return dst
}

// appendDateValue writes a date (days since 1970) or ±infinity.
func appendDateValue(dst []byte, days int32) []byte {
	switch days {
	case math.MaxInt32:
		return append(dst, "infinity"...)
	case math.MinInt32:
		return append(dst, "-infinity"...)
	}
	dst, bc := appendDate(dst, int64(days))
	if bc {
		dst = append(dst, " BC"...)
	}
	return dst
}

// appendInterval writes months, days and microseconds as PostgreSQL's
// interval_out does with IntervalStyle "postgres", which its input parses
// back to the same three fields.
func appendInterval(dst []byte, months, days int32, micros int64) []byte {
	if months == math.MaxInt32 && days == math.MaxInt32 && micros == math.MaxInt64 {
		return append(dst, "infinity"...)
	}
	if months == math.MinInt32 && days == math.MinInt32 && micros == math.MinInt64 {
		return append(dst, "-infinity"...)
	}
	isZero, isBefore := true, false
	part := func(v int64, unit string) {
		if v == 0 {
			return
		}
		if !isZero {
			dst = append(dst, ' ')
		}
		if isBefore && v > 0 {
			dst = append(dst, '+')
		}
		dst = appendInt(dst, v)
		dst = append(dst, ' ')
		dst = append(dst, unit...)
		if v != 1 {
			dst = append(dst, 's')
		}
		isBefore, isZero = v < 0, false
	}
	part(int64(months/12), "year")
	part(int64(months%12), "mon")
	part(int64(days), "day")
	if isZero || micros != 0 {
		if !isZero {
			dst = append(dst, ' ')
		}
		switch {
		case micros < 0:
			dst = append(dst, '-')
		case isBefore:
			dst = append(dst, '+')
		}
		dst = appendAbsClock(dst, micros)
	}
	return dst
}

// appendAbsClock writes |micros| as H...H:MM:SS[.ffffff] (hours unbounded).
func appendAbsClock(dst []byte, micros int64) []byte {
	u := uint64(micros)
	if micros < 0 {
		u = uint64(-(micros + 1)) + 1 // no overflow for MinInt64
	}
	secs, frac := u/1e6, int64(u%1e6)
	dst = appendPadded(dst, int(secs/3600), 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, int(secs/60%60), 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, int(secs%60), 2)
	return appendFraction(dst, frac)
}

// dayCache remembers the date text of the last day a timestamp fell on:
// rows of an archived day share it, and writing it is half of a
// timestamp's cost.
type dayCache struct {
	day  int64
	text []byte // "YYYY-MM-DD"; nil until the first timestamp
	bc   bool
}

// appendTimestamp writes what appendTimestamp(dst, us, tz, false) writes.
func (c *dayCache) appendTimestamp(dst []byte, us int64, tz bool) []byte {
	if us == math.MaxInt64 || us == math.MinInt64 {
		return appendTimestamp(dst, us, tz, false)
	}
	days, rem := floorDiv(us, microsPerDay)
	if c.text == nil || days != c.day {
		c.day = days
		c.text, c.bc = appendDate(c.text[:0], days)
	}
	dst = append(dst, c.text...)
	dst = append(dst, ' ')
	dst = appendClock(dst, rem)
	if tz {
		dst = append(dst, "+00"...)
	}
	if c.bc {
		dst = append(dst, " BC"...)
	}
	return dst
}
