package retrieve

import (
	"math"
	"testing"
	"time"
)

func TestRangeBoundsRoundInwardsToWholeMicroseconds(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		t           string
		floor, ceil int64
	}{
		{"1970-01-01T00:00:00Z", 0, 0},
		{"1970-01-01T00:00:00.000001Z", 1, 1},
		{"1970-01-01T00:00:00.0000015Z", 1, 2},
		{"1969-12-31T23:59:59.999999Z", -1, -1},
		{"1969-12-31T23:59:59.9999995Z", -1, 0},
		{"2024-11-01T06:00:00.123456789Z", 1730440800123456, 1730440800123457},
	} {
		tm := at(c.t)
		if got := floorMicros(tm); got != c.floor {
			t.Errorf("floorMicros(%s) = %d, want %d", c.t, got, c.floor)
		}
		if got := ceilMicros(tm); got != c.ceil {
			t.Errorf("ceilMicros(%s) = %d, want %d", c.t, got, c.ceil)
		}
	}
	far := time.Date(300000, 1, 1, 0, 0, 0, 1, time.UTC)
	if floorMicros(far) != math.MaxInt64-1 || ceilMicros(far) != math.MaxInt64-1 {
		t.Errorf("a time past int64 microseconds clamps to the end, got %d and %d", floorMicros(far), ceilMicros(far))
	}
	if floorMicros(time.Time{}.AddDate(-300000, 0, 0)) != math.MinInt64+1 {
		t.Errorf("a time before int64 microseconds clamps to the start")
	}
}
