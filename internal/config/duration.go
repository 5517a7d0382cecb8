package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Day and Year are the calendar-free units of Duration: a day is exactly 24
// hours and a year exactly 365 days. Retention is measured in elapsed time,
// not calendar dates, so leap days and DST never change when data expires
// (7y is 2555 days, a day or two short of seven calendar years).
const (
	Day  = 24 * time.Hour
	Year = 365 * Day
)

// Duration is a configuration duration: a whole number and one unit (ms, s,
// m, h, d or y, see Day and Year) such as 90d, 36h, 15m, 30s, 20ms or 7y, or the word
// "immediate". The zero Duration means "not set" (defaults fill it in);
// "immediate" is zero time with IsImmediate reporting true. Zero-length
// values such as "0d" are rejected: write "immediate" instead.
type Duration struct {
	d         time.Duration
	immediate bool
	invalid   string // text that failed to parse in UnmarshalYAML; Validate reports it
}

// DurationOf returns d as a Duration. DurationOf(0) is the unset Duration;
// use Immediate for an explicit zero.
func DurationOf(d time.Duration) Duration { return Duration{d: d} }

// Immediate returns the "immediate" Duration.
func Immediate() Duration { return Duration{immediate: true} }

// Duration returns the length of d; zero when d is unset or immediate.
func (d Duration) Duration() time.Duration { return d.d }

// IsImmediate reports whether d is "immediate".
func (d Duration) IsImmediate() bool { return d.immediate }

// IsZero reports whether d is unset (neither a length nor "immediate").
func (d Duration) IsZero() bool { return d.d == 0 && !d.immediate && d.invalid == "" }

// String returns d in the form ParseDuration reads, using the largest unit
// that divides it exactly: 2555d prints as 7y, 36h as 36h. Unset is "".
func (d Duration) String() string {
	switch {
	case d.immediate:
		return "immediate"
	case d.invalid != "":
		return d.invalid
	case d.d <= 0:
		return ""
	}
	for _, u := range []struct {
		suffix string
		size   time.Duration
	}{{"y", Year}, {"d", Day}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond}} {
		if d.d%u.size == 0 {
			return strconv.FormatInt(int64(d.d/u.size), 10) + u.suffix
		}
	}
	return d.d.String()
}

// hint is appended to messages about text that is no duration at all.
const hint = "use a whole number and a unit: 90d, 36h, 15m, 30s, 7y, or immediate"

// ParseDuration parses a duration as written in strata.yaml. Its errors
// quote s and say how to fix it, for example `"90" has no unit (use 90d)`.
func ParseDuration(s string) (Duration, error) {
	if s == "immediate" {
		return Immediate(), nil
	}
	if s == "" {
		return Duration{}, errors.New("is empty (" + hint + ")")
	}
	if s[0] == '-' {
		return Duration{}, fmt.Errorf("%q is negative (durations count forward: use %s)", s, strings.TrimLeft(s, "-"))
	}
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i == -1 {
		return Duration{}, fmt.Errorf("%q has no unit (use %sd)", s, s)
	}
	digits, unit := s[:i], s[i:]
	size := unitSize(unit)
	switch {
	case digits == "":
		return Duration{}, fmt.Errorf("%q is not a duration (%s)", s, hint)
	case size == 0 && isLetters(unit):
		return Duration{}, fmt.Errorf("%q has an unknown unit %q (use ms, s, m, h, d or y)", s, unit)
	case size == 0:
		return Duration{}, fmt.Errorf("%q is not a duration (%s)", s, hint)
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || n > math.MaxInt64/int64(size) {
		return Duration{}, fmt.Errorf("%q is too long (the longest is %dy)", s, math.MaxInt64/int64(Year))
	}
	if n == 0 {
		return Duration{}, fmt.Errorf("%q is zero (use immediate, or a positive duration such as 1%s)", s, unit)
	}
	return Duration{d: time.Duration(n) * size}, nil
}

func unitSize(unit string) time.Duration {
	switch unit {
	case "ms":
		return time.Millisecond
	case "s":
		return time.Second
	case "m":
		return time.Minute
	case "h":
		return time.Hour
	case "d":
		return Day
	case "y":
		return Year
	}
	return 0
}

func isLetters(s string) bool {
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') {
			return false
		}
	}
	return s != ""
}

// err returns the parse error of a value that UnmarshalYAML could not read.
func (d Duration) err() error {
	if d.invalid == "" {
		return nil
	}
	_, err := ParseDuration(d.invalid)
	return err
}

// UnmarshalYAML reads a scalar such as 90d. Text that does not parse is kept
// and reported by Config.Validate with the key's path, so one run shows
// every mistake.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: a duration must be a single value such as 90d", n.Line)}}
	}
	if n.Value == "" {
		*d = Duration{}
		return nil
	}
	p, err := ParseDuration(n.Value)
	if err != nil {
		p = Duration{invalid: n.Value}
	}
	*d = p
	return nil
}

// MarshalYAML writes d as ParseDuration reads it.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }
