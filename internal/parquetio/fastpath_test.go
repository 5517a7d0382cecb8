package parquetio

import (
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// TestThousandthsAreStrconvsShortest: for doubles of every magnitude the
// fast path takes (and around its bounds), with 0 to 3 decimals and random
// mantissas, appendShortestFloat writes exactly what strconv's shortest
// fixed notation writes.
func TestThousandthsAreStrconvsShortest(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	check := func(f float64) {
		t.Helper()
		want := strconv.AppendFloat(nil, f, 'f', -1, 64)
		if a := math.Abs(f); a != 0 && (a < 1e-4 || a >= 1e15) {
			want = strconv.AppendFloat(nil, f, 'e', -1, 64)
		}
		if got := appendShortestFloat(nil, f, 64); string(got) != string(want) {
			t.Fatalf("%v (bits %x): wrote %s, strconv %s", f, math.Float64bits(f), got, want)
		}
	}
	for _, f := range []float64{1e-3, 0.001, 0.0015, 0.01, 0.1, 0.5, 1, 10, 999.999, 1e9 - 0.001, 1e9, 1e9 + 0.5, 123.456, 0.1 + 0.2, 2.675, 1.005} {
		check(f)
		check(-f)
		check(math.Nextafter(f, 0))
		check(math.Nextafter(f, math.Inf(1)))
	}
	for range 2_000_000 {
		scale := []float64{1, 10, 100, 1000}[rnd.IntN(4)]
		mag := math.Pow(10, float64(rnd.IntN(13))) // up to 1e12 thousandths
		f := math.Floor(rnd.Float64()*mag) / scale
		if rnd.IntN(2) == 0 {
			f = -f
		}
		check(f)
		check(rnd.Float64() * mag) // random mantissas: the slow path
		check(math.Nextafter(f, 0))
	}
}

// TestDayCacheWritesWhatAppendTimestampWrites: timestamps of many days, in
// order and jumping back and forth (BC years, infinities, day edges), are
// written by the CSV encoder's cached path exactly as appendTimestamp
// writes them.
func TestDayCacheWritesWhatAppendTimestampWrites(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	var c dayCache
	us := []int64{math.MinInt64, math.MaxInt64, 0, -1, microsPerDay - 1, microsPerDay, -microsPerDay}
	for range 200_000 {
		switch rnd.IntN(3) {
		case 0:
			us = append(us, us[len(us)-1]+rnd.Int64N(2*microsPerDay)-microsPerDay/2) // near the last
		case 1:
			us = append(us, rnd.Int64N(1<<62)-1<<61) // anywhere, BC years included
		default:
			us = append(us, rnd.Int64N(1000*microsPerDay)-62135596800000000) // around year 1
		}
	}
	for _, u := range us {
		for _, tz := range []bool{false, true} {
			want := appendTimestamp(nil, u, tz, false)
			if got := c.appendTimestamp(nil, u, tz); string(got) != string(want) {
				t.Fatalf("%d (tz %v): wrote %s, want %s", u, tz, got, want)
			}
		}
	}
}
