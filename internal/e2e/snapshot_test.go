package e2e

import (
	"strings"
	"testing"
	"time"
)

// TestWritesDuringArchiveAreNeverLost writes to the day being archived while
// strata holds its snapshot (after-extract=sleep:2s). A row updated meanwhile
// makes the delete fail with a serialization error, so nothing of that day is
// deleted and the next run archives the updated row; a row inserted
// meanwhile is not in the snapshot, stays live, and becomes a second chunk of
// its day on the next run.
func TestWritesDuringArchiveAreNeverLost(t *testing.T) {
	start := time.Now()
	w := newWorld(t, backendLocal)
	// 93 days of 50 rows: retention 91d archives day A (92 days ago), 90d
	// also day B (91 days ago).
	w.createOrders(93, 50)
	w.takeReference()
	const dayA, dayB = 92, 91
	sleep := []string{"STRATA_FAILPOINTS=after-extract=sleep:2s"}

	// Day A: update a row and insert one while the snapshot is held.
	p := w.startStrata(append(withRetention("91d"), sleep...), "archive")
	w.waitForSnapshotHeld(p)
	w.insertLate(dayA, 1, 2_000_000_000)
	updated := w.updateOneRowOf(dayA)
	r := w.waitFor(p)
	if r.code != 1 || !strings.Contains(r.stderr, "changed while archiving") {
		t.Errorf("a row of the day updated during the archive: want exit 1 and 'changed while archiving': %s", r)
	}
	if n := w.committedObjects(); n != 0 {
		t.Errorf("%d objects committed although the day changed", n)
	}
	if n := w.rowsOfDay(dayA); n != 51 {
		t.Errorf("day A has %d live rows after the failed run, want all 51", n)
	}
	w.mustSucceed(withRetention("91d"), "archive")
	if n := w.archivedVersion(updated); n != 1 {
		t.Errorf("the updated row's new version is in %d archived rows, want 1", n)
	}

	// Day B: insert a row while the snapshot is held.
	p = w.startStrata(append(withRetention("90d"), sleep...), "archive")
	w.waitForSnapshotHeld(p)
	w.insertLate(dayB, 1, 2_000_000_100)
	if r := w.waitFor(p); r.code != 0 {
		t.Errorf("a row inserted during the archive must not fail it: %s", r)
	}
	if n := w.count(`SELECT count(*) FROM ` + table + ` WHERE ` + keyColumn + ` = 2000000100`); n != 1 {
		t.Errorf("the row inserted during the archive is not live (%d)", n)
	}
	w.mustSucceed(nil, "archive")
	if n := w.count(`SELECT count(*) FROM strata.objects WHERE day = (now() AT TIME ZONE 'UTC')::date - $1::int`, dayB); n != 2 {
		t.Errorf("day B has %d objects, want 2 (the late row is a second chunk)", n)
	}
	o := w.checkInvariants()
	if o.Orphans != 1 {
		t.Errorf("the upload of the run that failed on the update should be left as 1 orphan, verify found %d", o.Orphans)
	}
	figures.add(t, w.figure("6", "update + insert while the day is archived", o, 1, start))
}

// waitForSnapshotHeld waits until strata has read a day and sleeps at the
// after-extract failpoint, holding its snapshot transaction open: a strata
// session idle in a transaction that has taken its snapshot (backend_xmin
// set), for longer than the gaps between the statements of a job.
func (w *world) waitForSnapshotHeld(p *proc) {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if w.count(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'strata'
			  AND state = 'idle in transaction' AND backend_xmin IS NOT NULL
			  AND state_change < clock_timestamp() - interval '300 milliseconds'`) > 0 {
			return
		}
		if p.cmd.ProcessState != nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	w.t.Fatalf("strata never held a snapshot open at after-extract; its output so far:\n%s\n%s", p.stdout, p.stderr)
}

// dayStart is the SQL for the start of the UTC day daysAgo ($1) days ago.
const dayStart = `(date_trunc('day', now(), 'UTC') - make_interval(days => $1))`

// rowsOfDay counts the live rows of the UTC day daysAgo days ago.
func (w *world) rowsOfDay(daysAgo int) int64 {
	w.t.Helper()
	return w.count(`SELECT count(*) FROM `+table+` WHERE `+timeColumn+` >= `+dayStart+`
		AND `+timeColumn+` < `+dayStart+` + interval '1 day'`, daysAgo)
}

// updateOneRowOf changes one row of the day in the table and, since the
// change is the truth, in the reference copy; it returns the row's key.
func (w *world) updateOneRowOf(daysAgo int) int64 {
	w.t.Helper()
	key := w.count(`SELECT min(`+keyColumn+`) FROM `+table+` WHERE `+timeColumn+` >= `+dayStart+`
		AND `+timeColumn+` < `+dayStart+` + interval '1 day'`, daysAgo)
	for _, tbl := range []string{table, "ref"} {
		w.exec(`UPDATE `+tbl+` SET status = 'refunded', total = 0 WHERE `+keyColumn+` = $1`, key)
	}
	return key
}

// archivedVersion counts archived rows with key that carry the update.
func (w *world) archivedVersion(key int64) int64 {
	w.t.Helper()
	w.loadArchived()
	return w.count(`SELECT count(*) FROM archived WHERE `+keyColumn+` = $1 AND status = 'refunded'`, key)
}
