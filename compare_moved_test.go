package strata_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/lineage"
)

// keysEverywhere retrieves every analytics row, archived and live, over
// all time, and returns the number of rows per key.
func (w *lworld) keysEverywhere(t *testing.T) map[int64]int {
	t.Helper()
	rows, err := w.svc.RetrieveArchivedData(context.Background(), strata.RetrieveRequest{Table: "orders",
		Start: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), End: time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		Columns: []string{"order_id"}, IncludeLive: true})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	seen := map[int64]int{}
	for rows.Next() {
		seen[rows.Values()[0].(int64)]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return seen
}

// checkOncePerKey checks that keys 1..n are each retrieved exactly once.
func (w *lworld) checkOncePerKey(t *testing.T, n int64) {
	t.Helper()
	seen := w.keysEverywhere(t)
	var dups int
	for _, c := range seen {
		if c != 1 {
			dups++
		}
	}
	if int64(len(seen)) != n || dups != 0 {
		t.Fatalf("retrieval over all time with live rows: %d keys, %d of them more than once; want %d keys once each", len(seen), dups, n)
	}
}

func (w *lworld) archiveOrders(t *testing.T) {
	t.Helper()
	if _, err := w.svc.ArchiveAnalytics(context.Background(), "orders", archive.Options{}); err != nil {
		t.Fatalf("archive: %v", err)
	}
}

func TestPlaceColumnIsTheArchives(t *testing.T) {
	if lineage.PlaceColumn != archive.PlaceColumn {
		t.Fatalf("lineage.PlaceColumn %q, archive.PlaceColumn %q", lineage.PlaceColumn, archive.PlaceColumn)
	}
}

// The scenario, smaller: records of today, the time column of some
// of their Layer 2 rows moved 120 days back (a transform bug), archived.
func TestRowsWhoseTimeMovedAreFoundAndReplayLeavesEachKeyOnce(t *testing.T) {
	w := newLineageWorld(t)
	w.ingest(t, rawOrders(1, 200, "PAID", time.Now().UTC()))
	w.exec(t, `UPDATE orders SET ordered_at = ordered_at - interval '120 days' WHERE order_id <= 50`)
	w.archiveOrders(t)
	if n := w.count(t, `SELECT count(*) FROM orders`); n != 150 {
		t.Fatalf("after the archive run Layer 2 holds %d rows, want 150", n)
	}
	from, to := comparePeriodToday()
	rep := w.compare(t, from, to)
	if got := reportCounts(rep); got != "matched=150 changed=50 (archived 50) missing=0 unexpected=0 later=0 agree=false" ||
		rep.Moved != 50 || rep.Columns["ordered_at"] != 50 || len(rep.Columns) != 1 {
		t.Fatalf("compare after the time moved: %s moved=%d columns=%v", got, rep.Moved, rep.Columns)
	}
	if rep.Search.Keys != 50 || rep.Search.Objects != 1 || rep.Search.Read != 1 || len(rep.Samples.Moved) != lineage.SampleLimit ||
		rep.Samples.Moved[0].Key["order_id"] != "1" || rep.Samples.Moved[0].To != time.Now().UTC().Format(time.DateOnly) ||
		!rep.Samples.Moved[0].Layer2 { // compare says where an apply would put the row
		t.Fatalf("search %+v, moved samples %+v", rep.Search, rep.Samples.Moved)
	}
	a := w.replay(t, from, to, true).Applied
	if a.Inserted != 50 || a.MovedToLayer2 != 50 || a.MovedInArchive != 0 || len(a.Superseded) != 1 || len(a.Objects) != 1 {
		t.Fatalf("apply: %+v", a)
	}
	if n := w.count(t, `SELECT rows FROM strata.objects WHERE id = `+fmt.Sprint(a.Objects[0])); n != 0 {
		t.Fatalf("the object that supersedes the day the rows left holds %d rows, want 0", n)
	}
	w.checkOncePerKey(t, 200)
	w.checkLineageShowsMoved(t, from, to, 50)
	after := w.compare(t, from, to)
	if got := reportCounts(after); got != "matched=200 changed=0 (archived 0) missing=0 unexpected=0 later=0 agree=true" {
		t.Fatalf("compare after the apply: %s", got)
	}
	if after.Search != (lineage.SearchCounts{}) {
		t.Fatalf("every key was where it should be, yet the archive was searched: %+v", after.Search)
	}
	snap := w.snapshot(t)
	objects := w.count(t, `SELECT count(*) FROM strata.objects`)
	again := w.replay(t, from, to, true)
	if again.Applied.Lineage != 0 || w.snapshot(t) != snap || w.count(t, `SELECT count(*) FROM strata.objects`) != objects {
		t.Fatalf("a second apply changed something: %+v", again.Applied)
	}
}

func TestARowMovedToAnotherArchivedDayGoesBackToAnObjectOfItsOwnDay(t *testing.T) {
	w := newLineageWorld(t)
	day := func(ago int) time.Time {
		return time.Now().UTC().AddDate(0, 0, -ago).Truncate(24 * time.Hour).Add(10 * time.Hour)
	}
	// Rows no record names, on a day of their own: not compared.
	w.exec(t, `INSERT INTO orders SELECT 10000 + i, 1, 'paid', 1, 'EUR', 1, $1::timestamptz, NULL FROM generate_series(1, 20) i`, day(200))
	w.ingest(t, rawOrders(1, 100, "PAID", day(100)))
	w.exec(t, `UPDATE orders SET ordered_at = ordered_at - interval '20 days' WHERE order_id BETWEEN 1 AND 30`)
	w.archiveOrders(t)
	from, to := comparePeriodToday()
	rep := w.compare(t, from, to)
	if rep.Moved != 30 || rep.ChangedArchived != 30 || rep.Missing != 0 || rep.Matched != 70 || rep.Samples.Moved[0].Layer2 {
		t.Fatalf("compare: %s moved=%d", reportCounts(rep), rep.Moved)
	}
	// Days read whole: 100 days ago (where the rows should be). Searched:
	// 120 days ago (read) and 200 days ago (ruled out by its key range).
	if rep.Search.Objects != 2 || rep.Search.SkippedRange != 1 || rep.Search.Read != 1 {
		t.Fatalf("search: %+v", rep.Search)
	}
	// Objects written before the catalog kept key ranges are probed, and
	// the same rows found.
	w.exec(t, `UPDATE strata.objects SET key_column = NULL, key_min = NULL, key_max = NULL`)
	if again := w.compare(t, from, to); reportCounts(again) != reportCounts(rep) || again.Moved != 30 ||
		again.Search.SkippedRange != 0 || again.Search.Probed != 2 || again.Search.Read != 1 {
		t.Fatalf("compare without key ranges in the catalog: %s moved=%d search %+v", reportCounts(again), again.Moved, again.Search)
	}
	a := w.replay(t, from, to, true).Applied
	if a.MovedInArchive != 30 || a.MovedToLayer2 != 0 || a.Inserted != 0 || len(a.Objects) != 2 || len(a.Superseded) != 1 {
		t.Fatalf("apply: %+v", a)
	}
	w.checkOncePerKey(t, 120)
	rows := w.count(t, `SELECT coalesce(sum(rows), 0) FROM strata.objects WHERE superseded_by IS NULL AND day = current_date - 100`)
	if rows != 100 {
		t.Fatalf("current objects of the records' day hold %d rows, want 100", rows)
	}
	if got := w.compare(t, from, to); !got.Agree || got.Matched != 100 {
		t.Fatalf("compare after the apply: %s", reportCounts(got))
	}
	if again := w.replay(t, from, to, true); again.Applied.Lineage != 0 {
		t.Fatalf("a second apply wrote: %+v", again.Applied)
	}
}

// checkLineageShowsMoved checks that the period's evidence chain shows the
// replay's moved rows, in JSON.
func (w *lworld) checkLineageShowsMoved(t *testing.T, from, to time.Time, n int64) {
	t.Helper()
	rep, err := w.svc.Lineage(context.Background(), strata.LineageRequest{Dataset: "orders", From: from, To: to, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range rep.Batches {
		if b.Kind != "replay" {
			continue
		}
		if m := b.Moved; m == nil || m.Rows != n || m.ToLayer2 != n || len(m.Samples) != lineage.SampleLimit ||
			m.Samples[0].Key["order_id"] != "1" || !m.Samples[0].Layer2 || len(b.Superseded) != 1 {
			t.Fatalf("the replay's lineage: moved %+v, superseded %v", b.Moved, b.Superseded)
		}
		if !rep.Integrity.OK {
			t.Fatalf("lineage integrity: %+v", rep.Integrity)
		}
		return
	}
	t.Fatalf("no replay in the lineage of the period: %+v", rep.Batches)
}

// The state an earlier replay left after a time-column bug (a Layer 2 row
// inserted for each key whose archived row it could not find) is cleaned
// up as docs/LINEAGE.md says: delete the period's keys from Layer 2, then
// replay --apply.
func TestStaleRowsAnEarlierReplayLeftAreCleanedUpByEmptyingThePeriodsKeys(t *testing.T) {
	w := newLineageWorld(t)
	w.ingest(t, rawOrders(1, 100, "PAID", time.Now().UTC()))
	w.exec(t, `CREATE TABLE good AS SELECT * FROM orders WHERE order_id <= 30`)
	w.exec(t, `UPDATE orders SET ordered_at = ordered_at - interval '120 days' WHERE order_id <= 30`)
	w.archiveOrders(t)
	w.exec(t, `INSERT INTO orders SELECT * FROM good`) // what the earlier replay inserted
	from, to := comparePeriodToday()
	if rep := w.compare(t, from, to); !rep.Agree || rep.Search.Keys != 0 {
		t.Fatalf("compare finds every key live: %s search %+v", reportCounts(rep), rep.Search)
	}
	rows := 0
	for _, c := range w.keysEverywhere(t) {
		rows += c
	}
	if rows != 130 {
		t.Fatalf("setup: retrieval over all time returns %d rows, want 130 (30 keys twice)", rows)
	}
	w.exec(t, `DELETE FROM orders WHERE order_id BETWEEN 1 AND 100`)
	a := w.replay(t, from, to, true).Applied
	if a.MovedToLayer2 != 30 || a.Inserted != 100 || len(a.Superseded) != 1 {
		t.Fatalf("apply after emptying the period's keys: %+v", a)
	}
	w.checkOncePerKey(t, 100)
}
