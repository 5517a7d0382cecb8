package pgcast

import (
	"bytes"
	"unicode/utf8"

	"github.com/stratahq/strata/internal/parquetio"
)

// nameMaxBytes is the longest name PostgreSQL keeps (NAMEDATALEN - 1).
const nameMaxBytes = 63

// toString casts to text, varchar(n), char(n), name or citext: a string
// type keeps its characters (a char(n) loses its trailing blanks first,
// unless the target is char too); any other scalar becomes its text output.
// Then the target's length applies as an assignment does: a longer value
// is an error unless what is cut is blanks; char(n) pads with blanks; name
// cuts at 63 bytes. Order is kept between unpadded string types only.
func toString(f, t Type) (scalarConv, bool) {
	trim := f.Bpchar && !t.Bpchar
	conv := func(v parquetio.Value, arena *[]byte) (parquetio.Value, string) {
		start := len(*arena)
		*arena = appendValueText(*arena, v)
		s := (*arena)[start:]
		if trim {
			s = bytes.TrimRight(s, " ")
		}
		s, reason := fitLength(s, t)
		if reason != "" {
			return parquetio.Value{}, reason
		}
		if len(s) > len((*arena)[start:]) { // padded: copy the blanks in
			*arena = append((*arena)[:start], s...)
			s = (*arena)[start:]
		}
		return parquetio.BytesValue(parquetio.KindText, s[:len(s):len(s)]), ""
	}
	order := (f.isString() || f.Kind == parquetio.KindEnum) && !f.Bpchar && !t.Bpchar && !t.NameType
	return conv, order
}

// fitLength applies t's length to s: varchar(n) and char(n) refuse more
// than n characters unless the excess is blanks (then cut), char(n) pads
// to n, name cuts at 63 bytes on a character boundary.
func fitLength(s []byte, t Type) ([]byte, string) {
	if t.NameType && len(s) > nameMaxBytes {
		n := nameMaxBytes
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return s[:n], ""
	}
	if t.Length <= 0 {
		return s, ""
	}
	chars := utf8.RuneCount(s)
	if chars > t.Length {
		cut := byteOffset(s, t.Length)
		if len(bytes.TrimRight(s[cut:], " ")) > 0 {
			return nil, "value too long for type " + t.elemName()
		}
		return s[:cut], ""
	}
	if t.Bpchar && chars < t.Length {
		padded := make([]byte, len(s), len(s)+t.Length-chars)
		copy(padded, s)
		return append(padded, bytes.Repeat([]byte{' '}, t.Length-chars)...), ""
	}
	return s, ""
}

// byteOffset is where character n of s starts.
func byteOffset(s []byte, n int) int {
	off := 0
	for range n {
		_, size := utf8.DecodeRune(s[off:])
		off += size
	}
	return off
}

// appendValueText appends a scalar's text as PostgreSQL's cast to text
// writes it (DateStyle ISO, TimeZone UTC): booleans as true/false (the
// cast, not boolout's t/f), everything else as its output function does.
func appendValueText(dst []byte, v parquetio.Value) []byte {
	if v.Kind() == parquetio.KindBool {
		if v.Bool() {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	}
	return v.AppendText(dst)
}
