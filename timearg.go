package strata

import (
	"errors"
	"time"
)

// ErrBadTime is returned by ParseTime for text that is neither form.
var ErrBadTime = errors.New("not an RFC 3339 time (2024-11-01T00:00:00Z) or a date (2024-11-01)")

// ParseTime reads a time the way every Strata command and the HTTP API take
// one: RFC 3339 (2024-11-01T06:00:00Z, any offset; returned in UTC) or a
// date (2024-11-01). A date as a lower bound is the start of that UTC day;
// as an upper bound (end) its last microsecond, so a range "to 2024-11-01"
// includes the whole day.
func ParseTime(s string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, ErrBadTime
	}
	if end {
		return d.AddDate(0, 0, 1).Add(-time.Microsecond), nil
	}
	return d, nil
}
