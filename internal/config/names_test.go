package config

import (
	"strings"
	"testing"
)

// The names' length limits, checked apart from their character classes:
// the longest allowed name passes and one byte more is refused.
func TestNameLengthLimits(t *testing.T) {
	cases := []struct {
		what  string
		valid func(string) bool
		max   int
	}{
		{"dataset name", ValidDatasetName, 63},
		{"token name", ValidTokenName, 64},
		{"storage.prefix segment", func(s string) bool { return checkPrefix("archive/"+s) == nil }, 255},
	}
	for _, c := range cases {
		if !c.valid(strings.Repeat("a", c.max)) {
			t.Errorf("%s of %d bytes refused, want accepted", c.what, c.max)
		}
		if c.valid(strings.Repeat("a", c.max+1)) {
			t.Errorf("%s of %d bytes accepted, want refused", c.what, c.max+1)
		}
		if c.valid("a b") {
			t.Errorf("%s %q accepted, want refused", c.what, "a b")
		}
	}
}
