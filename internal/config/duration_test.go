package config

import (
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestParseDuration(t *testing.T) {
	tests := []struct {
		name, in string
		want     time.Duration
		str      string // String() of the result
	}{
		{"days are 24 hours", "90d", 90 * Day, "90d"},
		{"a week is seven days", "7d", 7 * 24 * time.Hour, "7d"},
		{"a year is 365 days", "7y", 7 * 365 * 24 * time.Hour, "7y"},
		{"hours stay hours", "36h", 36 * time.Hour, "36h"},
		{"m means minutes", "15m", 15 * time.Minute, "15m"},
		{"seconds are accepted", "30s", 30 * time.Second, "30s"},
		{"milliseconds are accepted", "20ms", 20 * time.Millisecond, "20ms"},
		{"365 days print as one year", "365d", Year, "1y"},
		{"48 hours print as two days", "48h", 2 * Day, "2d"},
		{"leading zeros are harmless", "007d", 7 * Day, "7d"},
		{"the longest duration fits", "292y", 292 * Year, "292y"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDuration(tt.in)
			if err != nil {
				t.Fatalf("ParseDuration(%q): %v", tt.in, err)
			}
			if d.Duration() != tt.want || d.IsImmediate() || d.IsZero() {
				t.Errorf("ParseDuration(%q) = %v (immediate %v), want %v", tt.in, d.Duration(), d.IsImmediate(), tt.want)
			}
			if d.String() != tt.str {
				t.Errorf("String() = %q, want %q", d.String(), tt.str)
			}
		})
	}
}

func TestParseDurationImmediateIsZeroTimeButSet(t *testing.T) {
	d, err := ParseDuration("immediate")
	if err != nil || !d.IsImmediate() || d.Duration() != 0 || d.IsZero() || d.String() != "immediate" {
		t.Fatalf("ParseDuration(immediate) = %+v, %v", d, err)
	}
	if d != Immediate() {
		t.Errorf("ParseDuration(immediate) != Immediate()")
	}
}

func TestParseDurationRejects(t *testing.T) {
	tests := []struct{ name, in, msg string }{
		{"a number without a unit", "90", `"90" has no unit (use 90d)`},
		{"a negative number", "-5d", `"-5d" is negative (durations count forward: use 5d)`},
		{"an unknown unit", "5w", `"5w" has an unknown unit "w" (use ms, s, m, h, d or y)`},
		{"months, which are ambiguous", "6mo", `"6mo" has an unknown unit "mo" (use ms, s, m, h, d or y)`},
		{"upper-case units", "7D", `"7D" has an unknown unit "D" (use ms, s, m, h, d or y)`},
		{"zero", "0d", `"0d" is zero (use immediate, or a positive duration such as 1d)`},
		{"a value that overflows", "293y", `"293y" is too long (the longest is 292y)`},
		{"digits that overflow int64", "99999999999999999999s", `"99999999999999999999s" is too long (the longest is 292y)`},
		{"a fraction", "1.5d", `"1.5d" is not a duration (use a whole number and a unit: 90d, 36h, 15m, 30s, 7y, or immediate)`},
		{"a compound duration", "1h30m", `"1h30m" is not a duration (use a whole number and a unit: 90d, 36h, 15m, 30s, 7y, or immediate)`},
		{"words", "soon", `"soon" is not a duration (use a whole number and a unit: 90d, 36h, 15m, 30s, 7y, or immediate)`},
		{"surrounding space", " 5d", `" 5d" is not a duration (use a whole number and a unit: 90d, 36h, 15m, 30s, 7y, or immediate)`},
		{"the empty string", "", `is empty (use a whole number and a unit: 90d, 36h, 15m, 30s, 7y, or immediate)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseDuration(tt.in)
			if err == nil || err.Error() != tt.msg {
				t.Errorf("ParseDuration(%q) error = %v, want %s", tt.in, err, tt.msg)
			}
		})
	}
}

func TestDurationYAMLKeepsBadTextForValidate(t *testing.T) {
	var v struct {
		A, B, C Duration
	}
	if err := yaml.Unmarshal([]byte("a: 90d\nb: 90\nc:\n"), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != DurationOf(90*Day) {
		t.Errorf("a = %v, want 90d", v.A)
	}
	if v.B.IsZero() || v.B.err() == nil || v.B.String() != "90" {
		t.Errorf("b = %+v, want kept invalid text 90", v.B)
	}
	if !v.C.IsZero() {
		t.Errorf("c = %+v, want unset", v.C)
	}
	out, _ := yaml.Marshal(v)
	if !strings.Contains(string(out), "a: 90d") {
		t.Errorf("marshal = %s, want a: 90d", out)
	}
}

func TestDurationYAMLRejectsAList(t *testing.T) {
	var v struct{ A Duration }
	err := yaml.Unmarshal([]byte("a: [1d]\n"), &v)
	if err == nil || !strings.Contains(err.Error(), "line 1: a duration must be a single value") {
		t.Errorf("error = %v", err)
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"90d", "7y", "36h", "15m", "30s", "immediate", "90", "-5d", "0d", "1.5d", "292y", "293y", "9223372036s", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			if !d.IsZero() {
				t.Fatalf("ParseDuration(%q) failed but returned %+v", s, d)
			}
			return
		}
		if !d.IsImmediate() && d.Duration() <= 0 {
			t.Fatalf("ParseDuration(%q) = %v, want positive", s, d.Duration())
		}
		again, err := ParseDuration(d.String())
		if err != nil || again != d {
			t.Fatalf("ParseDuration(%q).String() = %q does not round-trip: %+v, %v", s, d.String(), again, err)
		}
	})
}
