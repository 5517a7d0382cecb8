package parquetio_test

import (
	"context"
	"testing"

	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgtest"
)

// randomRows fills r with seeded random values across each type's range:
// numerics of any scale, floats across all exponents, intervals with mixed
// signs, timestamps from 4713 BC to 294246 AD, unicode text, arrays.
const randomRows = `
SELECT setseed(0.4242);
INSERT INTO r SELECT g,
  CASE WHEN random() < 0.05 THEN NULL ELSE round(((random() - 0.5) * 10 ^ floor(random() * 30))::numeric, floor(random() * 25)::int) END,
  CASE WHEN random() < 0.05 THEN NULL ELSE (random() - 0.5) * 10 ^ (random() * 600 - 300) END,
  CASE WHEN random() < 0.05 THEN NULL ELSE ((random() - 0.5) * 10 ^ (random() * 70 - 35))::real END,
  CASE WHEN random() < 0.05 THEN NULL ELSE make_interval(years => (random() * 200 - 100)::int, months => (random() * 30 - 15)::int,
    days => (random() * 2000 - 1000)::int, secs => round(((random() - 0.5) * 1e9)::numeric, 6)::float8) END,
  CASE WHEN random() < 0.05 THEN NULL ELSE '2000-01-01 00:00:00+00'::timestamptz + (random() - 0.5) * interval '9000 years'
    + floor(random() * 1e6) * interval '1 microsecond' END,
  CASE WHEN random() < 0.05 THEN NULL ELSE '1970-01-01'::timestamp + (random() - 0.5) * interval '5000 years' END,
  CASE WHEN random() < 0.05 THEN NULL ELSE '2000-01-01'::date + ((random() - 0.5) * 3e6)::int END,
  CASE WHEN random() < 0.05 THEN NULL ELSE '00:00'::time + random() * interval '24 hours' END,
  CASE WHEN random() < 0.05 THEN NULL ELSE (SELECT string_agg(chr(1 + floor(random() * 55000)::int), '') FROM generate_series(0, (random() * 20)::int + g % 2)) END,
  CASE WHEN random() < 0.05 THEN NULL ELSE decode(repeat(md5(random()::text), (random() * 3)::int), 'hex') END,
  CASE WHEN random() < 0.1 THEN NULL ELSE (SELECT array_agg(CASE WHEN random() < 0.2 THEN NULL ELSE round((random() * 1e6)::numeric, (random() * 8)::int) END)
    FROM generate_series(1, (random() * 5)::int + g % 2)) END,
  CASE WHEN random() < 0.1 THEN NULL ELSE (SELECT array_agg(CASE WHEN random() < 0.2 THEN NULL ELSE chr(32 + (random() * 94)::int) || chr(32 + (random() * 94)::int) END)
    FROM generate_series(1, (random() * 5)::int + g % 2)) END
FROM generate_series(1, 5000) g;`

const randomDDL = `(id int, n numeric, f8 float8, f4 real, iv interval, tz timestamptz, ts timestamp, d date,
  tm time, t text, by bytea, an numeric[], at text[])`

func TestRandomValuesRoundTripExactly(t *testing.T) {
	_, pool := pgtest.NewDB(t)
	mustExec(t, pool, "CREATE TABLE r "+randomDDL+"; CREATE TABLE r2 "+randomDDL)
	mustExec(t, pool, randomRows)
	cols, err := parquetio.LoadColumns(context.Background(), pool, "r")
	if err != nil {
		t.Fatal(err)
	}
	s, err := parquetio.NewSchema(cols)
	if err != nil {
		t.Fatal(err)
	}
	assertCopyRoundTrip(t, pool, s, "r", "r2", parquetio.WriterOptions{RowGroupRows: 1500, Compression: "gzip", TimeColumn: "d"})
}
