package cli

import (
	"time"

	"github.com/stratahq/strata"
)

// parseTimeArg reads a time flag with strata.ParseTime's rules.
func parseTimeArg(flag, s string, end bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, usageErr("--%s is required: an RFC 3339 time (2024-11-01T00:00:00Z) or a date (2024-11-01)", flag)
	}
	t, err := strata.ParseTime(s, end)
	if err != nil {
		return t, usageErr("--%s %q: %v", flag, s, err)
	}
	return t, nil
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
