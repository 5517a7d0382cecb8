package archive_test

import (
	"context"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
)

// A table whose days are interleaved in the heap (row i on day i mod 40, as
// a table that takes upserts becomes), with more days than the run keeps
// writers open for, so most days go through the spill file: each day's
// object holds exactly the rows PostgreSQL had for that day, and the table
// keeps exactly the days younger than the retention.
func TestInterleavedDaysAreArchivedInOnePassOneObjectPerDay(t *testing.T) {
	f := newFixture(t, nil, 0)
	exec(t, f.pool, `INSERT INTO events SELECT i, 'note ' || i, i * 1.5,
		date_trunc('day', now(), 'UTC') - make_interval(days => 80 + i % 40) + make_interval(secs => i)
		FROM generate_series(1, 8000) i`)
	exec(t, f.pool, `CREATE TABLE ref AS SELECT * FROM events`)
	f.spec.Parallelism = 3
	rep := f.run(t, archive.Options{})
	// Days 91 to 119 ago are past the 90-day retention: 29 days of 200 rows.
	if len(rep.Days) != 29 || rep.Rows() != 29*200 {
		t.Fatalf("archived %d days, %d rows; want 29 days of 200 rows", len(rep.Days), rep.Rows())
	}
	if live := count(t, f.pool, `SELECT count(*) FROM events`); live != 8000-29*200 {
		t.Fatalf("%d rows left, want %d", live, 8000-29*200)
	}
	for _, d := range rep.Days {
		want := count(t, f.pool, `SELECT count(*) FROM ref WHERE at >= $1 AND at < $2`, d.Day, d.Day.AddDate(0, 0, 1))
		if d.Rows != want {
			t.Errorf("day %s: object holds %d rows, PostgreSQL had %d", d.Day.Format(time.DateOnly), d.Rows, want)
		}
		if got := retrieveAll(t, f, d.Day, d.Day.AddDate(0, 0, 1).Add(-time.Microsecond), nil); got != want {
			t.Errorf("day %s: %d rows retrieved, want %d", d.Day.Format(time.DateOnly), got, want)
		}
	}
	objs, err := f.cat.List(context.Background(), catalog.Filter{Dataset: "events"})
	if err != nil || len(objs) != 29 {
		t.Fatalf("catalog lists %d objects (err %v), want 29", len(objs), err)
	}
	// The rows archived are exactly those gone from the table.
	if n := count(t, f.pool, `SELECT count(*) FROM ref r WHERE NOT EXISTS (SELECT FROM events e WHERE e.id = r.id)
		AND r.at >= date_trunc('day', now(), 'UTC') - interval '90 days'`); n != 0 {
		t.Errorf("%d rows younger than the retention left the table", n)
	}
}
