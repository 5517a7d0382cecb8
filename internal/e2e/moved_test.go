package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/lineage"
)

// applySteps are the failpoints a replay --apply passes when it corrects
// archived rows (archive.Supersede: intent, upload, stat back, commit).
var applySteps = []string{"after-intent", "mid-upload", "after-upload", "after-verify", "in-commit-before-delete"}

// TestMovedRowsAreFoundAndReplayedOnce is issue 9's scenario end to end,
// with the strata binary: records of one day ingested, the time column of a
// quarter of their Layer 2 rows moved 120 days back (a transform bug),
// strata archive (those rows go to the archive day 120 days back); compare
// must find them changed on that day, and replay --apply must leave each
// key once across Layer 2 and the archive.
func TestMovedRowsAreFoundAndReplayedOnce(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			w := newMovedWorld(t, backend, 6000, false)
			w.replayUntilDone(nil)
			o := w.checkMovedInvariants(6000)
			f := w.figure("9-00", "replay --apply of 1500 rows moved 120 days (issue 9)", o, 0, start)
			f.Runs = 2 // replay --apply processes: the one that writes, the one that finds nothing to do
			figures.add(t, f)
		})
	}
}

// TestMovedRowsReplayKillAtEveryStep kills replay --apply at each step it
// passes, on each backend, then runs it again: the end state must be the
// one an uninterrupted replay leaves. Half the moved rows go back to Layer
// 2, half to an object of their own day 100 days back.
func TestMovedRowsReplayKillAtEveryStep(t *testing.T) {
	for _, backend := range backends {
		for i, step := range applySteps {
			t.Run(backend+"/"+step, func(t *testing.T) {
				t.Parallel()
				start := time.Now()
				w := newMovedWorld(t, backend, 400, true)
				objects, live := w.committedObjects(), w.count(`SELECT count(*) FROM `+table)
				r := w.strata([]string{"STRATA_FAILPOINTS=" + step + "=kill"}, w.replayArgs(true)...)
				if !r.killed {
					t.Fatalf("want replay --apply killed by SIGKILL at %s: %s", step, r)
				}
				if n, l := w.committedObjects(), w.count(`SELECT count(*) FROM `+table); n != objects || l != live {
					t.Errorf("killed at %s: committed objects %d -> %d, live rows %d -> %d; want no change", step, objects, n, live, l)
				}
				w.replayUntilDone(nil)
				// The completing run adopted what the killed one uploaded:
				// no second copy, nothing left for --repair.
				if n := w.count(`SELECT count(*) FROM strata.uploads u WHERE state NOT IN ('committed', 'deleted')
					AND NOT EXISTS (SELECT 1 FROM strata.objects o WHERE o.id = u.id)`); n != 0 ||
					strings.Join(w.storedKeys(), ",") != strings.Join(w.committedKeys(), ",") {
					t.Errorf("after the completing replay: %d upload(s) neither committed nor deleted; stored %v, committed %v", n, w.storedKeys(), w.committedKeys())
				}
				// Today's rows are back in Layer 2; those of 100 days ago
				// went to an object of their day, not to Layer 2.
				if l := w.count(`SELECT count(*) FROM ` + table); l != 200 {
					t.Errorf("after the completing replay Layer 2 holds %d rows, want 200 (today's)", l)
				}
				o := w.checkMovedInvariants(400)
				f := w.figure(fmt.Sprintf("9-%02d", i+1), "replay --apply of moved rows, kill -9 at "+step, o, 1, start)
				f.Runs = 3 // killed, completing, finding nothing to do
				figures.add(t, f)
			})
		}
	}
}

// movedWorld is a sourceWorld whose records are n orders of today with
// keys 1..n; ref holds their Layer 2 rows as ingest wrote them (what a
// correct replay must give back).
type movedWorld struct {
	*sourceWorld
	n int
}

// newMovedWorld ingests n records (n a multiple of 8), moves the time
// column of every fourth Layer 2 row 120 days back, archives (those rows
// leave Layer 2) and checks that compare finds them changed. The records
// are of today; with old, keys 4..7 modulo 8 are of 100 days ago instead
// (archived at once, older than the retention): half the moved rows then
// belong in the archive, and a replay puts them in an object of their day.
func newMovedWorld(t *testing.T, backend string, n int, old bool) *movedWorld {
	t.Helper()
	w := &movedWorld{sourceWorld: newSourceWorld(t, backend, 10000), n: n}
	now := time.Now().UTC()
	recs := make([]string, n)
	live := int64(0)
	for i := range recs {
		at := now
		if old && (i+1)%8 >= 4 {
			at = now.AddDate(0, 0, -100)
		} else if (i+1)%4 != 0 {
			live++
		}
		recs[i] = fmt.Sprintf(`{"order_id": %d, "customer_id": %d, "status": "PAID", "total": "%d.50", "currency": "eur", "items": %d, "ordered_at": "%s", "shipped_on": null}`,
			i+1, 1000+i%7, 10+i%90, 1+i%5, at.Format(time.RFC3339))
	}
	w.mustSucceed(nil, "ingest", "--dataset", dataset, w.writeFile("records.jsonl", recs))
	w.takeReference()
	w.exec(`UPDATE ` + table + ` SET ordered_at = ordered_at - interval '120 days' WHERE order_id % 4 = 0`)
	w.mustSucceed(nil, "archive", "--type", "analytics")
	moved := int64(n / 4)
	if l := w.count(`SELECT count(*) FROM ` + table); l != live {
		t.Fatalf("after the archive run Layer 2 holds %d rows, want %d", l, live)
	}
	rep, code := w.compare()
	if code != 3 || rep.Changed != moved || rep.ChangedArchived != moved || rep.Moved != moved || rep.Missing != 0 ||
		rep.Unexpected != 0 || rep.Columns["ordered_at"] != moved {
		t.Fatalf("compare after the time moved: exit %d, changed %d (archived %d, moved %d), missing %d, unexpected %d, columns %v; want %d changed, moved and archived, in ordered_at",
			code, rep.Changed, rep.ChangedArchived, rep.Moved, rep.Missing, rep.Unexpected, rep.Columns, moved)
	}
	return w
}

func (w *movedWorld) replayArgs(apply bool) []string {
	day := time.Now().UTC().Format(time.DateOnly)
	args := []string{"replay", "--dataset", dataset, "--from", day, "--to", day, "--format", "json"}
	if apply {
		args = append(args, "--apply")
	}
	return args
}

// compare runs strata compare over today and returns its report and exit
// status.
func (w *movedWorld) compare() (lineage.Report, int) {
	w.t.Helper()
	day := time.Now().UTC().Format(time.DateOnly)
	r := w.strata(nil, "compare", "--dataset", dataset, "--from", day, "--to", day, "--format", "json")
	var rep lineage.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		w.t.Fatalf("compare --format json: %v: %s", err, r)
	}
	return rep, r.code
}

// replayUntilDone runs replay --apply with env to success.
func (w *movedWorld) replayUntilDone(env []string) lineage.Report {
	w.t.Helper()
	r := w.mustSucceed(env, w.replayArgs(true)...)
	var rep lineage.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Applied == nil {
		w.t.Fatalf("replay --apply --format json: %v: %s", err, r)
	}
	return rep
}

// checkMovedInvariants checks the end state of a replay of moved rows:
// verify finds nothing but the orphans of a killed run, which --repair
// cleans; retrieval over all time with live rows returns each key once,
// equal to what ingest wrote; compare agrees; a further replay --apply and
// archive run write nothing.
func (w *movedWorld) checkMovedInvariants(n int64) outcome {
	w.t.Helper()
	var o outcome
	o.Orphans = w.verifyOrphans()
	o.Repaired = w.repair(o.Orphans)
	o.Checksum = w.verifyDeep()
	r := w.strata(nil, "retrieve", "--dataset", dataset, "--type", "analytics", "--from", "2000-01-01", "--to", "2100-01-01",
		"--include-live", "--format", "csv")
	if r.code != 0 {
		w.t.Fatalf("retrieve over all time: %s", r)
	}
	w.exec(`CREATE TABLE everything (LIKE ` + table + `)`)
	w.copyCSV("everything", r.stdout)
	o.Rows = w.count(`SELECT count(*) FROM ref`)
	o.Live = w.count(`SELECT count(*) FROM ` + table)
	o.Archived = w.count(`SELECT count(*) FROM everything`) - o.Live
	o.Lost = w.count(`SELECT count(*) FROM (SELECT * FROM ref EXCEPT ALL SELECT * FROM everything) x`)
	o.Dup = w.count(`SELECT count(*) FROM (SELECT * FROM everything EXCEPT ALL SELECT * FROM ref) x`)
	if keys := w.count(`SELECT count(DISTINCT order_id) FROM everything`); o.Rows != n || keys != n || o.Lost != 0 || o.Dup != 0 {
		w.t.Errorf("retrieval over all time with live rows: %d rows, %d keys; %d of ingest's rows lost, %d extra; want %d rows, one per key",
			o.Rows+o.Dup-o.Lost, keys, o.Lost, o.Dup, n)
	}
	if rep, code := w.compare(); code != 0 || rep.Changed != 0 || rep.Missing != 0 || rep.Unexpected != 0 || rep.Matched != n {
		w.t.Errorf("compare after the replay: exit %d, matched %d, changed %d, missing %d, unexpected %d", code, rep.Matched, rep.Changed, rep.Missing, rep.Unexpected)
	}
	keys, objects := strings.Join(w.storedKeys(), ","), w.count(`SELECT count(*) FROM strata.objects`)
	if rep := w.replayUntilDone(nil); rep.Applied.Lineage != 0 || strings.Join(w.storedKeys(), ",") != keys ||
		w.count(`SELECT count(*) FROM strata.objects`) != objects {
		w.t.Errorf("a second replay --apply wrote something: %+v", rep.Applied)
	}
	w.checkRerunWritesNothing()
	return o
}
