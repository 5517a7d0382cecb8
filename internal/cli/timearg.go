package cli

import (
	"time"
)

// parseTimeArg reads an RFC 3339 time or a date. A date as a lower bound is
// the start of that UTC day; as an upper bound (end=true) its last
// microsecond, so "--to 2024-11-01" includes the whole day.
func parseTimeArg(flag, s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, usageErr("--%s is required: an RFC 3339 time (2024-11-01T00:00:00Z) or a date (2024-11-01)", flag)
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, usageErr("--%s %q: not an RFC 3339 time (2024-11-01T00:00:00Z) or a date (2024-11-01)", flag, s)
	}
	if end {
		return d.AddDate(0, 0, 1).Add(-time.Microsecond), nil
	}
	return d, nil
}

// parseRange reads --from and --to and checks their order.
func parseRange(from, to string) (time.Time, time.Time, error) {
	f, err := parseTimeArg("from", from, false)
	if err != nil {
		return f, f, err
	}
	t, err := parseTimeArg("to", to, true)
	if err != nil {
		return f, t, err
	}
	if t.Before(f) {
		return f, t, usageErr("--to %s is before --from %s", t.Format(time.RFC3339Nano), f.Format(time.RFC3339Nano))
	}
	return f, t, nil
}
