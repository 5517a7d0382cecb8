package parquetio_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/stratahq/strata/internal/parquetio"
)

// This file reads the encoders' output back without PostgreSQL, for the
// fuzz tests: PostgreSQL's text forms of dates, times, timestamps and
// arrays, and CSV with its quoting kept.

func want(ok bool, got any, format string, args ...any) error {
	if ok {
		return nil
	}
	return fmt.Errorf("got %#v, want "+format, append([]any{got}, args...)...)
}

// validUTF8 replaces each byte that is not UTF-8 with U+FFFD, as JSON
// output does.
func validUTF8(s string) string { return string([]rune(s)) }

func decodeJSON(b []byte, v *any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	return dec.Decode(v)
}

func jsonEqual(a, b any) bool { return reflect.DeepEqual(a, b) }

// floatReadsBack checks a float's JSON: a number that parses to the same
// bits, or the string NaN, Infinity or -Infinity.
func floatReadsBack(v parquetio.Value, got any) error {
	f := v.Float64()
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return want(got == string(v.AppendText(nil)), got, "the string %s", v.AppendText(nil))
	}
	n, ok := got.(json.Number)
	if !ok {
		return want(false, got, "a number")
	}
	return textReadsBack(v, n.String())
}

// textReadsBack parses text as PostgreSQL would read a value of v's type and
// checks that it is v.
func textReadsBack(v parquetio.Value, text string) error {
	if v.IsArray() {
		return arrayReadsBack(v, text)
	}
	k := v.Kind()
	switch k {
	case parquetio.KindBool:
		return want(text == map[bool]string{true: "t", false: "f"}[v.Bool()], text, "t or f")
	case parquetio.KindInt16, parquetio.KindInt32, parquetio.KindInt64:
		n, err := strconv.ParseInt(text, 10, 64)
		return want(err == nil && n == v.Int64(), text, "%d", v.Int64())
	case parquetio.KindFloat32, parquetio.KindFloat64:
		return floatTextReadsBack(v, text)
	case parquetio.KindBytea:
		b, err := hex.DecodeString(strings.TrimPrefix(text, `\x`))
		return want(err == nil && strings.HasPrefix(text, `\x`) && bytes.Equal(b, v.Bytes()), text, `\x%x`, v.Bytes())
	case parquetio.KindUUID:
		b, err := hex.DecodeString(strings.ReplaceAll(text, "-", ""))
		return want(err == nil && len(text) == 36 && bytes.Equal(b, v.Bytes()), text, "uuid %x", v.Bytes())
	case parquetio.KindDate, parquetio.KindTime, parquetio.KindTimestamp, parquetio.KindTimestamptz:
		n, err := parseTime(k, text)
		return want(err == nil && n == v.Int64(), text, "%d (%v)", v.Int64(), err)
	}
	return want(text == string(v.Bytes()), text, "%q", v.Bytes())
}

func floatTextReadsBack(v parquetio.Value, text string) error {
	bits := 64
	if v.Kind() == parquetio.KindFloat32 {
		bits = 32
	}
	f, err := strconv.ParseFloat(text, bits)
	switch text {
	case "NaN":
		f, err = math.NaN(), nil
	case "Infinity", "-Infinity":
		f, err = math.Inf(map[bool]int{true: -1, false: 1}[text[0] == '-']), nil
	}
	same := math.Float64bits(f) == math.Float64bits(v.Float64()) || (math.IsNaN(f) && math.IsNaN(v.Float64()))
	if bits == 32 {
		same = math.Float32bits(float32(f)) == math.Float32bits(float32(v.Float64())) || same
	}
	return want(err == nil && same, text, "%v", v.Float64())
}

// parseTime reads a date (days since 1970), time (microseconds since
// midnight) or timestamp (microseconds since 1970) in PostgreSQL's ISO text
// form or to_json's: "2024-11-01 12:00:00.5+00", "2024-11-01T12:00:00.5+00:00",
// " BC" at the end for years before 1, "infinity", "-infinity".
func parseTime(k parquetio.Kind, s string) (int64, error) {
	inf := map[string]int64{"infinity": math.MaxInt64, "-infinity": math.MinInt64}
	if k == parquetio.KindDate {
		inf = map[string]int64{"infinity": math.MaxInt32, "-infinity": math.MinInt32}
	}
	if n, ok := inf[s]; ok && k != parquetio.KindTime {
		return n, nil
	}
	if k == parquetio.KindTime {
		return parseClock(s)
	}
	s, bc := strings.CutSuffix(s, " BC")
	if k == parquetio.KindTimestamptz {
		var ok bool
		if s, ok = strings.CutSuffix(s, "+00:00"); !ok {
			if s, ok = strings.CutSuffix(s, "+00"); !ok {
				return 0, errors.New("no +00 offset")
			}
		}
	}
	date, clock, _ := strings.Cut(strings.Replace(s, "T", " ", 1), " ")
	days, err := parseDate(date, bc)
	if err != nil || k == parquetio.KindDate {
		return days, err
	}
	us, err := parseClock(clock)
	return days*86400000000 + us, err
}

func parseDate(s string, bc bool) (int64, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 3 || len(parts[0]) < 4 || len(parts[1]) != 2 || len(parts[2]) != 2 {
		return 0, fmt.Errorf("date %q is not YYYY-MM-DD", s)
	}
	y, err1 := strconv.ParseInt(parts[0], 10, 64)
	m, err2 := strconv.Atoi(parts[1])
	d, err3 := strconv.Atoi(parts[2])
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, err
	}
	if bc {
		y = 1 - y
	}
	return daysFromCivil(y, m, d), nil
}

// daysFromCivil is the inverse of the proleptic Gregorian calendar
// (Howard Hinnant's days_from_civil).
func daysFromCivil(y int64, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	doy := (153*int64((m+9)%12)+2)/5 + int64(d) - 1
	return era*146097 + yoe*365 + yoe/4 - yoe/100 + doy - 719468
}

func parseClock(s string) (int64, error) {
	hms, frac, hasFrac := strings.Cut(s, ".")
	parts := strings.Split(hms, ":")
	if len(parts) != 3 || (hasFrac && (len(frac) == 0 || len(frac) > 6 || strings.HasSuffix(frac, "0"))) {
		return 0, fmt.Errorf("time %q is not HH:MM:SS[.ffffff] without trailing zeros", s)
	}
	var us int64
	for _, p := range parts {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil || len(p) != 2 {
			return 0, fmt.Errorf("time %q: %q", s, p)
		}
		us = us*60 + n
	}
	us *= 1e6
	if hasFrac {
		f, err := strconv.ParseInt((frac + "00000")[:6], 10, 64)
		if err != nil {
			return 0, err
		}
		us += f
	}
	return us, nil
}

// arrayReadsBack parses an array literal as array_in does and checks each
// element, NULL included.
func arrayReadsBack(v parquetio.Value, s string) error {
	elems, err := parseArray(s)
	if err != nil || len(elems) != len(v.Elems()) {
		return want(false, s, "%d elements (%v)", len(v.Elems()), err)
	}
	for i, e := range v.Elems() {
		if (elems[i] == nil) != e.IsNull() {
			return want(false, s, "element %d NULL=%v", i, e.IsNull())
		}
		if elems[i] != nil {
			if err := textReadsBack(e, *elems[i]); err != nil {
				return fmt.Errorf("array %s element %d: %w", s, i, err)
			}
		}
	}
	return nil
}

// parseArray splits a one-dimensional array literal into its elements (nil
// for NULL) as array_in does: quoted elements with backslash escapes,
// unquoted ones with escapes and trimmed of ASCII white space, an unquoted
// NULL (any case) is NULL.
func parseArray(s string) ([]*string, error) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, fmt.Errorf("%q is not {...}", s)
	}
	body, elems := s[1:len(s)-1], []*string{}
	for i := 0; body != ""; i++ {
		e, quoted, next, err := arrayElement(body, i)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		if !quoted && strings.EqualFold(e, "NULL") {
			elems = append(elems, nil)
		} else {
			elems = append(elems, &e)
		}
		if i = next; i == len(body) {
			break
		}
		if body[i] != ',' {
			return nil, fmt.Errorf("%q: %q after an element", s, body[i])
		}
	}
	return elems, nil
}

// arrayElement reads the element of body starting at i and returns it and
// where it ends.
func arrayElement(body string, i int) (e string, quoted bool, next int, err error) {
	var b strings.Builder
	quoted = i < len(body) && body[i] == '"'
	if quoted {
		i++
	}
	for ; i < len(body); i++ {
		c := body[i]
		switch {
		case c == '\\':
			if i++; i == len(body) {
				return "", false, 0, errors.New("a backslash at the end")
			}
			c = body[i]
		case quoted && c == '"':
			return b.String(), true, i + 1, nil
		case !quoted && c == ',':
			return strings.Trim(b.String(), " \t\n\r\v\f"), false, i, nil
		case !quoted && (c == '"' || c == '{' || c == '}'):
			return "", false, 0, fmt.Errorf("%q in an unquoted element", c)
		}
		b.WriteByte(c)
	}
	if quoted {
		return "", false, 0, errors.New("an unterminated quoted element")
	}
	return strings.Trim(b.String(), " \t\n\r\v\f"), false, i, nil
}

type csvField struct {
	text   string
	quoted bool
}

// readCSV reads RFC 4180 CSV strictly, keeping whether each field was
// quoted (NULL is an empty unquoted field): every record ends with \n, a
// quote only opens a field or doubles inside a quoted one.
func readCSV(b []byte) ([][]csvField, error) {
	var recs [][]csvField
	var rec []csvField
	for i := 0; i < len(b); {
		f, next, err := csvFieldAt(b, i)
		if err != nil {
			return nil, err
		}
		rec = append(rec, f)
		if i = next; i == len(b) {
			return nil, errors.New("the last record has no line break")
		}
		switch b[i] {
		case ',':
		case '\n':
			recs, rec = append(recs, rec), nil
		default:
			return nil, fmt.Errorf("%q after a field at %d", b[i], i)
		}
		i++
	}
	return recs, nil
}

func csvFieldAt(b []byte, i int) (csvField, int, error) {
	if i < len(b) && b[i] == '"' {
		var text []byte
		for i++; i < len(b); i++ {
			if b[i] == '"' {
				if i+1 < len(b) && b[i+1] == '"' {
					i++
				} else {
					return csvField{string(text), true}, i + 1, nil
				}
			}
			text = append(text, b[i])
		}
		return csvField{}, 0, errors.New("an unterminated quoted field")
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '\n' {
		if b[j] == '"' || b[j] == '\r' {
			return csvField{}, 0, fmt.Errorf("%q in an unquoted field at %d", b[j], j)
		}
		j++
	}
	return csvField{string(b[i:j]), false}, j, nil
}
