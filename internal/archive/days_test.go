package archive_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/failpoint"
)

// A table whose days are interleaved in the heap (row i on day i mod 40, as
// a table that takes upserts becomes), with more days than the run keeps
// writers open for, so most days go through the spill file: each day's
// object holds exactly the rows PostgreSQL had for that day, and the table
// keeps exactly the days younger than the retention.
func TestInterleavedDaysAreArchivedInOnePassOneObjectPerDay(t *testing.T) {
	f := newFixture(t, nil, 0)
	interleave(t, f)
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

// interleave fills events with 8000 rows, row i on the day 80 + i mod 40
// days ago: 29 days of 200 rows lie past the 90-day retention.
func interleave(t *testing.T, f *fixture) {
	t.Helper()
	exec(t, f.pool, `INSERT INTO events SELECT i, 'note ' || i, i * 1.5,
		date_trunc('day', now(), 'UTC') - make_interval(days => 80 + i % 40) + make_interval(secs => i)
		FROM generate_series(1, 8000) i`)
}

// The days of a run commit together, in the transaction their rows were
// read in: a row of one of them updated after the read fails the one
// DELETE, so no row leaves the table and no object is committed; the
// uploads are orphaned, and the next run adopts those whose rows did not
// change.
func TestARowChangedDuringTheRunDeletesNothingAndTheRerunAdopts(t *testing.T) {
	f := newFixture(t, nil, 0)
	interleave(t, f)
	fp, err := failpoint.Parse("after-stage-all=sleep:2s")
	if err != nil {
		t.Fatal(err)
	}
	f.arch.Failpoints = fp
	done := make(chan error, 1)
	go func() {
		_, err := f.arch.Analytics(context.Background(), f.spec, archive.Options{})
		done <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if count(t, f.pool, `SELECT count(*) FROM strata.uploads WHERE state = 'uploaded'`) == 29 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never staged its 29 days")
		}
	}
	// Row 39 is on the oldest day, 119 days ago.
	exec(t, f.pool, `UPDATE events SET note = 'changed' WHERE id = 39`)
	err = <-done
	if err == nil || !strings.Contains(err.Error(), "changed while archiving") {
		t.Fatalf("run with a row changed under it: %v, want the serialization failure explained", err)
	}
	if live := count(t, f.pool, `SELECT count(*) FROM events`); live != 8000 {
		t.Fatalf("%d rows left after the failed run, want all 8000", live)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.objects`); n != 0 {
		t.Fatalf("%d objects committed by the failed run, want 0", n)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.uploads WHERE state = 'orphaned'`); n != 29 {
		t.Fatalf("%d uploads orphaned by the failed run, want 29", n)
	}
	f.arch.Failpoints = failpoint.Set{}
	rep := f.run(t, archive.Options{})
	adopted := 0
	for _, d := range rep.Days {
		if d.Adopted {
			adopted++
		}
	}
	if len(rep.Days) != 29 || rep.Rows() != 29*200 || adopted != 28 {
		t.Fatalf("rerun: %d days, %d rows, %d adopted; want 29 days of 200 rows, 28 adopted (the changed day written anew)",
			len(rep.Days), rep.Rows(), adopted)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM events WHERE at < date_trunc('day', now(), 'UTC') - interval '90 days'`); n != 0 {
		t.Fatalf("%d rows past the retention left after the rerun", n)
	}
}

// A pool of one connection cannot hold the snapshot open and commit the
// catalog's steps meanwhile: the run says so instead of waiting forever.
func TestAPoolOfOneConnectionIsRefusedSayingHowToFixIt(t *testing.T) {
	f := newFixture(t, nil, 0)
	interleave(t, f)
	cfg := f.pool.Config()
	cfg.MaxConns = 1
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	f.arch.Pool = pool
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = f.arch.Analytics(ctx, f.spec, archive.Options{})
	if err == nil || !strings.Contains(err.Error(), "pool_max_conns") {
		t.Fatalf("archive with one connection: %v, want a refusal naming pool_max_conns", err)
	}
	if live := count(t, f.pool, `SELECT count(*) FROM events`); live != 8000 {
		t.Fatalf("%d rows left, want all 8000", live)
	}
}

// With archive.parallelism 3 the pass over a table of ~1100 blocks is
// split into 3 ctid ranges read on 3 connections in one snapshot; each
// day's object is still the same bytes as one plain scan writes: a run that
// fails before its commit leaves uploads that a run with parallelism 1
// adopts, every one.
func TestParallelRangeScansWriteTheBytesOfOnePlainScan(t *testing.T) {
	f := newFixture(t, nil, 0)
	exec(t, f.pool, `INSERT INTO events SELECT i, repeat('n', 1000) || i, i * 1.5,
		date_trunc('day', now(), 'UTC') - make_interval(days => 80 + i % 40) + make_interval(secs => i)
		FROM generate_series(1, 8000) i`)
	exec(t, f.pool, `VACUUM ANALYZE events`)
	var logs strings.Builder
	f.arch.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	fp, err := failpoint.Parse("after-stage-all=error")
	if err != nil {
		t.Fatal(err)
	}
	f.arch.Failpoints = fp
	f.spec.Parallelism = 3
	if _, err := f.arch.Analytics(context.Background(), f.spec, archive.Options{}); !errors.Is(err, failpoint.ErrInjected) {
		t.Fatalf("run stopped before its commit: %v", err)
	}
	if !strings.Contains(logs.String(), "ranges=3") {
		t.Fatalf("the run did not read in 3 ctid ranges; its log:\n%s", logs.String())
	}
	if live := count(t, f.pool, `SELECT count(*) FROM events`); live != 8000 {
		t.Fatalf("%d rows left after the failed run, want all 8000", live)
	}
	f.arch.Failpoints = failpoint.Set{}
	f.spec.Parallelism = 1
	rep := f.run(t, archive.Options{})
	for _, d := range rep.Days {
		if !d.Adopted {
			t.Errorf("day %s: written anew by the plain scan, not adopted: the range scans wrote other bytes", d.Day.Format(time.DateOnly))
		}
	}
	if len(rep.Days) != 29 || rep.Rows() != 29*200 {
		t.Fatalf("rerun: %d days, %d rows; want 29 days of 200 rows", len(rep.Days), rep.Rows())
	}
	if live := count(t, f.pool, `SELECT count(*) FROM events`); live != 8000-29*200 {
		t.Fatalf("%d rows left, want %d", live, 8000-29*200)
	}
}

// A job of at most two days is read in one plain scan whatever
// archive.parallelism says: both days are encoded as their rows arrive,
// where ctid ranges would spill every range but the first and encode its
// rows after the scan.
func TestAJobOfOneDayIsReadInOnePlainScan(t *testing.T) {
	f := newFixture(t, nil, 0)
	exec(t, f.pool, `INSERT INTO events SELECT i, repeat('n', 1000) || i, i * 1.5,
		date_trunc('day', now(), 'UTC') - interval '100 days' + make_interval(secs => i)
		FROM generate_series(1, 8000) i`)
	exec(t, f.pool, `VACUUM ANALYZE events`)
	var logs strings.Builder
	f.arch.Log = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.spec.Parallelism = 3
	rep := f.run(t, archive.Options{})
	if strings.Contains(logs.String(), "reading in ctid ranges") {
		t.Fatalf("a one-day job was split into ctid ranges; its log:\n%s", logs.String())
	}
	if len(rep.Days) != 1 || rep.Rows() != 8000 {
		t.Fatalf("%d days, %d rows; want 1 day of 8000 rows", len(rep.Days), rep.Rows())
	}
	if live := count(t, f.pool, `SELECT count(*) FROM events`); live != 0 {
		t.Fatalf("%d rows left, want 0", live)
	}
}
