package parquetio

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendText appends the value in PostgreSQL's text output form with
// DateStyle ISO, TimeZone UTC and IntervalStyle postgres, which reads back
// equal through COPY (text or CSV) or a ::type cast whatever the reading
// session's settings: booleans as t/f, floats as float8out writes them
// (shortest exact, NaN/Infinity/-Infinity), timestamptz in UTC with "+00",
// years before 1 with " BC", bytea as \x hex, arrays as {a,"b c",NULL}.
// A NULL appends nothing: its spelling belongs to the carrier (\N in COPY
// text, an empty unquoted field in CSV); check IsNull first.
func (v Value) AppendText(dst []byte) []byte {
	if v.IsNull() {
		return dst
	}
	if v.array {
		return v.appendArrayText(dst)
	}
	switch v.kind {
	case KindBool:
		if v.i != 0 {
			return append(dst, 't')
		}
		return append(dst, 'f')
	case KindInt16, KindInt32, KindInt64:
		return strconv.AppendInt(dst, v.i, 10)
	case KindFloat32, KindFloat64:
		return v.appendFloat(dst, false)
	case KindBytea:
		dst = append(dst, '\\', 'x')
		return hex.AppendEncode(dst, v.b)
	case KindUUID:
		return appendUUID(dst, v.b)
	}
	return v.appendTimeOrBytes(dst, false)
}

// appendTimeOrBytes writes date/time kinds (xsd: as to_json writes them),
// and the kinds whose stored bytes are their text (numeric, text, enum,
// interval, json, jsonb).
func (v Value) appendTimeOrBytes(dst []byte, xsd bool) []byte {
	switch v.kind {
	case KindDate:
		return appendDateValue(dst, int32(v.i))
	case KindTime:
		return appendClock(dst, v.i)
	case KindTimestamp:
		return appendTimestamp(dst, v.i, false, xsd)
	case KindTimestamptz:
		return appendTimestamp(dst, v.i, true, xsd)
	}
	return append(dst, v.b...)
}

// isTime reports whether k is a date/time kind whose JSON is a string of
// its (xsd) text form.
func isTime(k Kind) bool {
	return k == KindDate || k == KindTime || k == KindTimestamp || k == KindTimestamptz
}

// appendFloat writes a real or double precision as float4out/float8out do
// (extra_float_digits 1, the default since PostgreSQL 12); in JSON, NaN and
// ±Infinity are the strings "NaN", "Infinity" and "-Infinity", as to_json
// writes them, since JSON has no such numbers.
func (v Value) appendFloat(dst []byte, json bool) []byte {
	f, bits := v.Float64(), 64
	if v.kind == KindFloat32 {
		bits = 32
	}
	var special string
	switch {
	case math.IsNaN(f):
		special = "NaN"
	case math.IsInf(f, 1):
		special = "Infinity"
	case math.IsInf(f, -1):
		special = "-Infinity"
	default:
		return appendShortestFloat(dst, f, bits)
	}
	if json {
		return append(append(append(dst, '"'), special...), '"')
	}
	return append(dst, special...)
}

// appendShortestFloat writes a finite float with the fewest digits that
// read back to it, laid out as PostgreSQL's Ryu output does: fixed notation
// when the decimal exponent is in [-4, 6) for real and [-4, 15) for double
// precision ("0.0001", "123456", "100000000000000"), else "1.5e+20" (two
// exponent digits at least). strconv finds the same shortest, closest
// digits; the bounds are the floats nearest 1e-4 and the exact 1e6 and 1e15,
// so a value is on the side of a bound its shortest digits are.
func appendShortestFloat(dst []byte, f float64, bits int) []byte {
	lo, hi := 1e-4, 1e15
	if bits == 32 {
		lo, hi = float64(float32(1e-4)), 1e6
	}
	if a := math.Abs(f); a == 0 || (a >= lo && a < hi) {
		if bits == 64 && a >= 1e-3 && a < 1e9 {
			if r := math.Round(f * 1000); r/1000 == f {
				return appendThousandths(dst, int64(r))
			}
		}
		return strconv.AppendFloat(dst, f, 'f', -1, bits)
	}
	return strconv.AppendFloat(dst, f, 'e', -1, bits)
}

// appendThousandths writes r/1000 with at most 3 decimals, trailing zeros
// trimmed. It is the fast path of appendShortestFloat for a double f in
// [1e-3, 1e9) that is the double nearest r/1000 (prices, readings, scores
// rounded to a few decimals): one ulp of such a double is under 1.2e-7, so
// no other decimal with as few digits rounds to it, and strconv's shortest
// digits are those of r/1000 (TestThousandthsAreStrconvsShortest).
func appendThousandths(dst []byte, r int64) []byte {
	if r < 0 {
		dst, r = append(dst, '-'), -r
	}
	dst = strconv.AppendInt(dst, r/1000, 10)
	frac := r % 1000
	if frac == 0 {
		return dst
	}
	dst = append(dst, '.', byte('0'+frac/100))
	if frac%100 != 0 {
		dst = append(dst, byte('0'+frac/10%10))
		if frac%10 != 0 {
			dst = append(dst, byte('0'+frac%10))
		}
	}
	return dst
}

func appendUUID(dst, u []byte) []byte {
	if len(u) != 16 {
		return hex.AppendEncode(dst, u)
	}
	dst = hex.AppendEncode(dst, u[0:4])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, u[4:6])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, u[6:8])
	dst = append(dst, '-')
	dst = hex.AppendEncode(dst, u[8:10])
	dst = append(dst, '-')
	return hex.AppendEncode(dst, u[10:16])
}

// appendArrayText writes PostgreSQL's array literal, quoting elements as
// array_out does.
func (v Value) appendArrayText(dst []byte) []byte {
	dst = append(dst, '{')
	for i, e := range v.elems {
		if i > 0 {
			dst = append(dst, ',')
		}
		if e.IsNull() {
			dst = append(dst, "NULL"...)
			continue
		}
		start := len(dst)
		dst = e.AppendText(dst)
		if needsArrayQuote(dst[start:]) {
			elem := append([]byte(nil), dst[start:]...)
			dst = append(dst[:start], '"')
			for _, c := range elem {
				if c == '"' || c == '\\' {
					dst = append(dst, '\\')
				}
				dst = append(dst, c)
			}
			dst = append(dst, '"')
		}
	}
	return append(dst, '}')
}

func needsArrayQuote(s []byte) bool {
	if len(s) == 0 || (len(s) == 4 && bytes.EqualFold(s, []byte("NULL"))) {
		return true
	}
	for _, c := range s {
		switch c {
		case '"', '\\', '{', '}', ',', ' ', '\t', '\n', '\r', '\v', '\f':
			return true
		}
	}
	return false
}

// AppendJSON appends the value as PostgreSQL's to_json writes it in a
// session with TimeZone UTC, with one exception: numeric is a string
// holding its exact text ("12.340", "NaN"), since most JSON readers would
// round a number to a double. So: NULL as null; booleans as true/false;
// integers and finite floats as numbers (floats spelled as AppendText
// does); NaN and ±Infinity as the strings "NaN", "Infinity", "-Infinity";
// timestamptz as "2024-11-01T12:34:56.789+00:00", timestamp without the
// offset, date as "2024-11-01", time as "12:34:56.789" (fractions without
// trailing zeros, years before 1 ending in " BC", "infinity"/"-infinity");
// bytea as "\\x..." hex; uuid, text, enum and interval as strings; json
// and jsonb embedded as they are (json holding line breaks is compacted so
// that a row stays one JSON line); arrays as JSON arrays of these.
func (v Value) AppendJSON(dst []byte) []byte {
	if v.IsNull() {
		return append(dst, "null"...)
	}
	if v.array {
		dst = append(dst, '[')
		for i, e := range v.elems {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.AppendJSON(dst)
		}
		return append(dst, ']')
	}
	switch v.kind {
	case KindBool:
		if v.i != 0 {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case KindInt16, KindInt32, KindInt64:
		return strconv.AppendInt(dst, v.i, 10)
	case KindFloat32, KindFloat64:
		return v.appendFloat(dst, true)
	case KindJSON, KindJSONB:
		return appendRawJSON(dst, v.b)
	case KindBytea:
		dst = append(dst, '"', '\\', '\\', 'x')
		return append(hex.AppendEncode(dst, v.b), '"')
	case KindUUID:
		return append(appendUUID(append(dst, '"'), v.b), '"')
	}
	if isTime(v.kind) {
		return append(v.appendTimeOrBytes(append(dst, '"'), true), '"')
	}
	return appendJSONString(dst, v.b)
}

// AppendJSONText appends the value's text form (AppendText) as a JSON
// string, NULL as null: the source archive's raw payload, which is kept
// byte for byte as received rather than embedded as JSON.
func (v Value) AppendJSONText(dst []byte) []byte {
	if v.IsNull() {
		return append(dst, "null"...)
	}
	switch {
	case v.array, v.kind == KindBool, v.kind == KindBytea, v.kind == KindUUID, isTime(v.kind),
		v.kind == KindInt16, v.kind == KindInt32, v.kind == KindInt64, v.kind == KindFloat32, v.kind == KindFloat64:
		return appendJSONString(dst, v.AppendText(nil))
	}
	return appendJSONString(dst, v.b) // the stored bytes are the text
}

func appendRawJSON(dst, raw []byte) []byte {
	if bytes.IndexByte(raw, '\n') < 0 && bytes.IndexByte(raw, '\r') < 0 {
		return append(dst, raw...)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return appendJSONString(dst, raw) // not JSON after all: keep it as a string
	}
	return append(dst, buf.Bytes()...)
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s as a JSON string; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = appendJSONEscape(dst, c)
			i++
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}

func appendJSONEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
}
