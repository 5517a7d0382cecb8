package ingest

import (
	"strings"
	"testing"
)

// TestPositionsGiveEachRecordTheLineScanAutoNumbersItBy checks, for JSON
// lines with blank lines and for JSON arrays, that Positions names each
// record by the number ScanAuto gave it, and says which form it read.
func TestPositionsGiveEachRecordTheLineScanAutoNumbersItBy(t *testing.T) {
	cases := []struct {
		input string
		array bool
	}{
		{"{\"a\":1}\n{\"a\":2}\n\n\n{\"a\":3}\n{\"a\":4}\n\n{\"a\":5}\n", false},
		{"\n\n  {\"a\":1}\n{\"a\":2}\n", false},
		{" \n [{\"a\":1}, {\"a\":2},\n {\"a\":3}]", true},
	}
	for _, c := range cases {
		nums, recs, err := collect(t, ScanAuto, c.input, 1024)
		if err != nil {
			t.Fatalf("%q: ScanAuto: %v", c.input, err)
		}
		var p Positions
		var got []string
		if err := p.Scan(strings.NewReader(c.input), 1024, func(rec []byte) error {
			got = append(got, string(rec))
			return nil
		}); err != nil {
			t.Fatalf("%q: Scan: %v", c.input, err)
		}
		if !equal(got, recs) {
			t.Errorf("%q: records %q, ScanAuto gave %q", c.input, got, recs)
		}
		if p.Array() != c.array {
			t.Errorf("%q: Array() = %v, want %v", c.input, p.Array(), c.array)
		}
		for i, n := range nums {
			if l := p.Line(i); l != n {
				t.Errorf("%q: record %d: Line = %d, ScanAuto numbered it %d", c.input, i, l, n)
			}
		}
	}
}
