package parquetio

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendText appends the value in PostgreSQL's text input form, so that it
// reads back equal through COPY (text or CSV) or a ::type cast, whatever the
// session's DateStyle, TimeZone or IntervalStyle: booleans as t/f, floats
// shortest-exact with NaN/Infinity/-Infinity, timestamptz in UTC with "+00",
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

// appendTimeOrBytes writes date/time kinds, and the kinds whose stored bytes
// are their text (numeric, text, enum, interval, json, jsonb).
func (v Value) appendTimeOrBytes(dst []byte, iso bool) []byte {
	switch v.kind {
	case KindDate:
		return appendDateValue(dst, int32(v.i), iso)
	case KindTime:
		return appendClock(dst, v.i, iso)
	case KindTimestamp:
		return appendTimestamp(dst, v.i, false, iso)
	case KindTimestamptz:
		return appendTimestamp(dst, v.i, true, iso)
	}
	return append(dst, v.b...)
}

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
		return strconv.AppendFloat(dst, f, 'g', -1, bits)
	}
	if json {
		return append(append(append(dst, '"'), special...), '"')
	}
	return append(dst, special...)
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

// AppendJSON appends the value as JSON: NULL as null; booleans and integers
// as JSON literals and numbers; floats as numbers except NaN and ±Infinity,
// which are the strings "NaN", "Infinity", "-Infinity"; numeric as a string
// holding its exact decimal text (JSON readers would round it to a double);
// timestamps as RFC 3339 with 6 fractional digits (timestamptz ends in "Z",
// timestamp has no offset; years outside 1-9999 use ISO 8601 expanded years,
// and ±infinity is "infinity"/"-infinity"); time as "15:04:05.000000"; bytea
// as "\\x..." hex, as PostgreSQL's to_json writes it; uuid, text, enum and
// interval as strings; json and jsonb embedded as they are (json holding
// line breaks is compacted so that a row stays one JSON line); arrays as
// JSON arrays.
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
	case KindBool, KindInt16, KindInt32, KindInt64:
		return v.AppendText(dst)
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
	start := len(dst)
	dst = append(dst, '"')
	dst = v.appendTimeOrBytes(dst, true)
	if v.kind == KindDate || v.kind == KindTime || v.kind == KindTimestamp || v.kind == KindTimestamptz {
		return append(dst, '"')
	}
	return appendJSONString(dst[:start], v.b)
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
