// Package ingest reads raw records from outside input, before anything
// touches the database: JSON lines (one record a line, Scan), a JSON array
// of records (ScanArray, for the HTTP API) or either (ScanAuto).
//
// A raw record is a JSON object. Its bytes are passed on exactly as
// received (key order, spacing, escapes, unicode), because Layer 3 and the
// source archive keep them so: an auditor can prove the archive holds what
// was received. Every record is checked (valid UTF-8, valid JSON, an
// object, at most the size limit, source.max_record_bytes) and the first
// bad one stops the scan with an *InputError naming it and saying why.
//
// Scanning streams: memory stays bounded by the size limit plus a fixed
// read buffer, however long the input or a bad line is.
package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// InputError is a bad record in the input: invalid JSON, not an object,
// not UTF-8 or over the size limit, or an array that is malformed around
// its records. Commands exit with status 2 (bad input) on it. Its message
// says where and why:
//
//	line 7: not valid JSON: invalid character 'x' looking for beginning of value (at byte 12)
//	line 3: a JSON array, not an object (one record per line)
//	record 4: 2.1 MiB, over the 1 MiB limit (source.max_record_bytes)
type InputError struct {
	// Line is the 1-based line number (Scan), or the 1-based element number
	// of the array (ScanArray, with Array set). It is 0 for a problem with
	// the input as a whole, such as a body that is not an array.
	Line int
	// Array reports that the input was a JSON array, so Line counts records.
	Array bool
	// Reason says what is wrong and, where it helps, how to fix it.
	Reason string
}

func (e *InputError) Error() string {
	switch {
	case e.Line <= 0:
		return e.Reason
	case e.Array:
		return fmt.Sprintf("record %d: %s", e.Line, e.Reason)
	default:
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
}

// The hints that end a "not an object" reason, per input form.
const (
	hintLines = " (one record per line)"
	hintArray = " (send an array of objects, [{...}, {...}])"
)

// errLimit reports a bad maxRecord argument: a programming error, not bad input.
var errLimit = errors.New("ingest: the record size limit must be positive (source.max_record_bytes)")

// checkRecord returns why rec is not an acceptable raw record, or "" when
// it is one: valid UTF-8, valid JSON, an object, at most maxRecord bytes.
func checkRecord(rec []byte, maxRecord int64, hint string) string {
	if int64(len(rec)) > maxRecord {
		return overLimit(int64(len(rec)), maxRecord)
	}
	if !utf8.Valid(rec) {
		return fmt.Sprintf("not valid UTF-8 at byte %d (send JSON text encoded as UTF-8)", invalidUTF8(rec)+1)
	}
	if !json.Valid(rec) {
		return "not valid JSON: " + syntaxReason(rec)
	}
	switch firstNonSpace(rec) { // json.Valid: there is one
	case '{':
		return ""
	case '[':
		return "a JSON array, not an object" + hint
	case '"':
		return "a JSON string, not an object" + hint
	case 't', 'f':
		return "a JSON boolean, not an object" + hint
	case 'n':
		return "JSON null, not an object" + hint
	default:
		return "a JSON number, not an object" + hint
	}
}

// overLimit is the reason for a record of size bytes over maxRecord; size
// < 0 means the record was not read to its end.
func overLimit(size, maxRecord int64) string {
	limit := formatSize(maxRecord)
	if size < 0 {
		return fmt.Sprintf("more than %s, over the %s limit (source.max_record_bytes)", limit, limit)
	}
	got := formatSize(size)
	if strings.Replace(got, ".0 ", " ", 1) == limit { // not "1.0 KiB, over the 1 KiB limit"
		got, limit = fmt.Sprintf("%d B", size), fmt.Sprintf("%d B", maxRecord)
	}
	return fmt.Sprintf("%s, over the %s limit (source.max_record_bytes)", got, limit)
}

// formatSize writes n bytes as B, KiB or MiB: exact units without a
// fraction ("1 MiB", "64 KiB"), others to one decimal ("2.1 MiB").
func formatSize(n int64) string {
	const kib, mib = 1 << 10, 1 << 20
	switch {
	case n < kib:
		return fmt.Sprintf("%d B", n)
	case n < mib:
		if n%kib == 0 {
			return fmt.Sprintf("%d KiB", n/kib)
		}
		return fmt.Sprintf("%.1f KiB", float64(n)/kib)
	case n%mib == 0:
		return fmt.Sprintf("%d MiB", n/mib)
	default:
		return fmt.Sprintf("%.1f MiB", float64(n)/mib)
	}
}

// syntaxReason explains why rec, which json.Valid refused, is not JSON.
func syntaxReason(rec []byte) string {
	var raw json.RawMessage
	err := json.Unmarshal(rec, &raw)
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%s (at byte %d)", se, se.Offset)
	case err != nil:
		return err.Error()
	}
	return "refused by the JSON parser"
}

// invalidUTF8 returns the offset of the first byte of rec that is not part
// of a valid UTF-8 sequence.
func invalidUTF8(rec []byte) int {
	for i := 0; i < len(rec); {
		r, size := utf8.DecodeRune(rec[i:])
		if r == utf8.RuneError && size <= 1 {
			return i
		}
		i += size
	}
	return len(rec)
}

// isSpace reports JSON white space.
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// firstNonSpace returns the first byte of b that is not JSON white space,
// or 0 when there is none.
func firstNonSpace(b []byte) byte {
	for _, c := range b {
		if !isSpace(c) {
			return c
		}
	}
	return 0
}
