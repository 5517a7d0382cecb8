package parquetio_test

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgtest"
)

// floatCases are doubles around the thresholds of PostgreSQL's fixed and
// exponent notations, subnormals, zeros and extremes, then random ones:
// random bit patterns (every exponent) and random decimals (the fixed range).
func floatCases(r *rand.Rand, n int) []float64 {
	fs := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-4, 9.999e-5, 1e-5, 123456, 999999, 1e6, 1234567,
		1e14, 999999999999999, 1e15, 1.5e15, 123456789012345, 1234567890123456, 1e21, 1e22, 1e23,
		math.MaxFloat64, math.SmallestNonzeroFloat64, math.MaxFloat32, math.SmallestNonzeroFloat32,
		2.2250738585072014e-308, 5e-324, 1e-40, 0.30000000000000004, 9007199254740993, 4.35, 100, 1e100,
		math.Nextafter(1e-4, 0), math.Nextafter(1e15, 0), float64(math.Nextafter32(float32(1e-4), 0)),
		float64(math.Nextafter32(float32(1e-4), 1)), float64(math.Nextafter32(1e6, 0))}
	for range n {
		fs = append(fs, math.Float64frombits(r.Uint64()))
		fs = append(fs, float64(r.Int64N(1e17))*math.Pow(10, float64(r.IntN(40)-25)))
	}
	out := fs[:0]
	for _, f := range fs {
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			out = append(out, f, -f)
		}
	}
	return out
}

func TestFloatsAreSpelledAsPostgreSQLSpellsThem(t *testing.T) {
	_, pool := pgtest.NewDB(t)
	fs := floatCases(rand.New(rand.NewPCG(7, 11)), 20000)
	f4 := make([]float32, len(fs))
	for i, f := range fs {
		f4[i] = float32(f)
	}
	var want8, want4 []string
	err := pool.QueryRow(context.Background(), `
	  SELECT (SELECT array_agg(x::text ORDER BY n) FROM unnest($1::float8[]) WITH ORDINALITY u(x, n)),
	         (SELECT array_agg(x::text ORDER BY n) FROM unnest($2::float4[]) WITH ORDINALITY u(x, n))`,
		fs, f4).Scan(&want8, &want4)
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for i, f := range fs {
		v8 := parquetio.NewValue(parquetio.KindFloat64, int64(math.Float64bits(f)), nil)
		v4 := parquetio.NewValue(parquetio.KindFloat32, int64(math.Float32bits(f4[i])), nil)
		for _, c := range []struct {
			v          parquetio.Value
			want, what string
		}{{v8, want8[i], "float8"}, {v4, want4[i], "float4"}} {
			if got := string(c.v.AppendText(nil)); got != c.want {
				t.Errorf("%s %v (bits %x): text %q, PostgreSQL writes %q", c.what, f, math.Float64bits(f), got, c.want)
				bad++
			}
			if got := string(c.v.AppendJSON(nil)); got != c.want {
				t.Errorf("%s %v: JSON %q, PostgreSQL's to_json writes %q", c.what, f, got, c.want)
			}
		}
		if bad > 20 {
			t.Fatal("too many differences")
		}
	}
}
