// Package audit is Strata's audit trail: one record per action that reads
// archived or live data, changes it, or changes access, in strata.audit.
// Records are hash chained: each holds the SHA-256 of the record before it
// and of its own canonical form (Canonical), so an edited, deleted or
// reordered record breaks the chain. They are appended under a lock, so the
// chain never forks, and the chain's head is anchored now and then in the
// archive storage (Anchorer), so that a chain rewritten from scratch no
// longer matches what was written outside the database. Verify checks
// both.
//
// The root package records each action once, whichever door (CLI, HTTP, Go
// API) it came in by; who is acting comes from the context (internal/actor).
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Results of an action.
const (
	ResultOK    = "ok"
	ResultError = "error"
)

// Genesis is the prev_hash of the first record: 64 zeros.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Record is one row of strata.audit.
type Record struct {
	Seq     int64     `json:"seq"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Via     string    `json:"via"`
	Addr    string    `json:"addr,omitempty"`
	DBRole  string    `json:"db_role"`
	Action  string    `json:"action"`
	Dataset string    `json:"dataset,omitempty"`
	// From and To are the period the action concerned; nil when none.
	From    *time.Time `json:"from,omitempty"`
	To      *time.Time `json:"to,omitempty"`
	Rows    int64      `json:"rows"`
	Objects int64      `json:"objects"`
	// Result is ok or error; Error is the error's text.
	Result   string `json:"result"`
	Error    string `json:"error,omitempty"`
	Detail   string `json:"detail,omitempty"`
	PrevHash string `json:"prev_hash"`
	Hash     string `json:"hash"`
}

// timeLayout is the canonical form of a time: UTC, always nine fractional
// digits (PostgreSQL keeps microseconds, so the last three are zeros).
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// Canonical is the record's canonical form, the bytes its Hash is the
// SHA-256 of: one JSON object (RFC 8785, JSON Canonicalization Scheme)
// with every field, its keys in this (sorted) order: action, actor, addr,
// at, dataset, db_role, detail, error, from, objects, prev, result, rows,
// seq, to, via. Times are strings in timeLayout; an absent from or to is
// null; numbers are integers; strings escape only '"', '\' and the
// control characters below U+0020 (\b \t \n \f \r, else \u00xx in lower
// case hex), everything else is written as UTF-8. No white space.
// docs/COMPLIANCE.md gives an example an auditor can recompute.
func (r *Record) Canonical() []byte {
	b := make([]byte, 0, 512)
	b = field(b, '{', "action", r.Action)
	b = field(b, ',', "actor", r.Actor)
	b = field(b, ',', "addr", r.Addr)
	b = field(b, ',', "at", r.At.UTC().Format(timeLayout))
	b = field(b, ',', "dataset", r.Dataset)
	b = field(b, ',', "db_role", r.DBRole)
	b = field(b, ',', "detail", r.Detail)
	b = field(b, ',', "error", r.Error)
	b = timeField(b, "from", r.From)
	b = intField(b, "objects", r.Objects)
	b = field(b, ',', "prev", r.PrevHash)
	b = field(b, ',', "result", r.Result)
	b = intField(b, "rows", r.Rows)
	b = intField(b, "seq", r.Seq)
	b = timeField(b, "to", r.To)
	b = field(b, ',', "via", r.Via)
	return append(b, '}')
}

// ComputeHash returns the lower-case hex SHA-256 of the record's
// canonical form.
func (r *Record) ComputeHash() string {
	sum := sha256.Sum256(r.Canonical())
	return hex.EncodeToString(sum[:])
}

func field(b []byte, sep byte, name, val string) []byte {
	b = append(b, sep, '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return appendString(b, val)
}

func intField(b []byte, name string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, name...)
	b = append(b, '"', ':')
	return strconv.AppendInt(b, v, 10)
}

func timeField(b []byte, name string, t *time.Time) []byte {
	if t == nil {
		b = append(b, ',', '"')
		b = append(b, name...)
		return append(b, `":null`...)
	}
	return field(b, ',', name, t.UTC().Format(timeLayout))
}

// appendString writes s as an RFC 8785 JSON string.
func appendString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// clean makes s storable as PostgreSQL text and canonical: invalid UTF-8
// becomes U+FFFD and NUL (which text cannot hold) is dropped, so the
// string hashed is the string stored.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	return strings.ReplaceAll(s, "\x00", "")
}

// micro truncates t to PostgreSQL's precision, in UTC; nil stays nil.
func micro(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC().Truncate(time.Microsecond)
	return &u
}
