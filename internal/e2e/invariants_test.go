package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// takeReference copies the table into ref before anything is archived; the
// invariants compare what is live and archived at the end with it.
func (w *world) takeReference() {
	w.t.Helper()
	w.exec(`CREATE TABLE ref AS SELECT * FROM ` + table)
}

// outcome is what checkInvariants measured.
type outcome struct {
	Rows     int64 // rows in the reference copy
	Live     int64 // rows still in the table
	Archived int64 // rows read back from committed objects
	Lost     int64 // reference rows neither live nor archived
	Dup      int64 // rows live or archived more often than in the reference
	Overlap  int64 // keys both live and archived
	Checksum int   // checksum mismatches reported by verify --deep
	Orphans  int   // orphan objects reported by verify before --repair
	Repaired int   // uploads --repair cleaned (objects and bare intents)
}

// checkInvariants runs the checks of docs/RELIABILITY.md after a scenario's
// last successful archive run, reporting each violation as a test error:
//
//   - verify reports nothing but orphans; verify --repair cleans them all and
//     afterwards storage holds exactly the committed objects;
//   - verify --deep exits 0 with no checksum mismatch;
//   - every reference row is live or archived (lost = 0), none is both or
//     twice (duplicated = 0), and the catalog's row counts match;
//   - a re-run archives nothing and writes nothing.
func (w *world) checkInvariants() outcome {
	w.t.Helper()
	var o outcome
	o.Orphans = w.verifyOrphans()
	o.Repaired = w.repair(o.Orphans)
	o.Checksum = w.verifyDeep()
	o.Archived = w.loadArchived()
	o.Rows = w.count(`SELECT count(*) FROM ref`)
	o.Live = w.count(`SELECT count(*) FROM ` + table)
	o.Lost = w.count(`SELECT count(*) FROM (SELECT * FROM ref EXCEPT ALL
		(SELECT * FROM ` + table + ` UNION ALL SELECT * FROM archived)) x`)
	o.Dup = w.count(`SELECT count(*) FROM ((SELECT * FROM ` + table + ` UNION ALL SELECT * FROM archived)
		EXCEPT ALL SELECT * FROM ref) x`)
	o.Overlap = w.count(`SELECT count(*) FROM ` + table + ` JOIN archived USING (` + keyColumn + `)`)
	if o.Lost != 0 || o.Dup != 0 || o.Overlap != 0 {
		w.t.Errorf("rows lost %d, duplicated %d, both live and archived %d (reference %d, live %d, archived %d)",
			o.Lost, o.Dup, o.Overlap, o.Rows, o.Live, o.Archived)
	}
	if twice := w.count(`SELECT count(*) - count(DISTINCT ` + keyColumn + `) FROM archived`); twice != 0 {
		w.t.Errorf("%d keys are in more than one archived row", twice)
	}
	if cat := w.count(`SELECT coalesce(sum(rows), 0) FROM strata.objects WHERE state = 'committed' AND superseded_by IS NULL`); cat != o.Archived {
		w.t.Errorf("the catalog counts %d archived rows, retrieve returned %d", cat, o.Archived)
	}
	w.checkRerunWritesNothing()
	return o
}

// problemLines returns verify's one-line problem reports (KIND KEY DETAIL).
func problemLines(stdout string) []string {
	var out []string
	for _, l := range strings.Split(stdout, "\n") {
		if l != "" && !strings.HasPrefix(l, "verify:") && !strings.HasPrefix(l, "repaired ") {
			out = append(out, l)
		}
	}
	return out
}

// verifyOrphans runs verify and returns how many orphans it reported; any
// other problem is an error.
func (w *world) verifyOrphans() int {
	w.t.Helper()
	r := w.strata(nil, "verify")
	orphans := 0
	for _, l := range problemLines(r.stdout) {
		if strings.HasPrefix(l, "orphan ") {
			orphans++
			continue
		}
		w.t.Errorf("verify before repair: unexpected problem: %s", l)
	}
	if want := map[bool]int{true: 3, false: 0}[orphans > 0]; r.code != want {
		w.t.Errorf("verify with %d orphan(s): exit %d, want %d\n%s", orphans, r.code, want, r)
	}
	return orphans
}

// repair runs verify --repair and checks that it cleaned every orphan and
// left storage holding exactly the committed objects.
func (w *world) repair(orphans int) int {
	w.t.Helper()
	r := w.strata(nil, "verify", "--repair")
	repaired := strings.Count(r.stdout, "repaired ")
	if r.code != 0 || len(problemLines(r.stdout)) > 0 {
		w.t.Errorf("verify --repair: want exit 0 and no problems: %s", r)
	}
	if repaired < orphans {
		w.t.Errorf("verify --repair removed %d orphan(s), verify had reported %d", repaired, orphans)
	}
	stored, committed := w.storedKeys(), w.committedKeys()
	slices.Sort(stored)
	if !slices.Equal(stored, committed) {
		w.t.Errorf("after repair, storage holds %d object(s), the catalog commits %d:\nstored    %v\ncommitted %v",
			len(stored), len(committed), stored, committed)
	}
	if n := w.count(`SELECT count(*) FROM strata.uploads WHERE state NOT IN ('committed', 'deleted')`); n != 0 {
		w.t.Errorf("after repair, %d upload(s) are neither committed nor deleted", n)
	}
	return repaired
}

// verifyDeep runs verify --deep and returns the checksum mismatches found.
func (w *world) verifyDeep() int {
	w.t.Helper()
	r := w.strata(nil, "verify", "--deep")
	mismatches := strings.Count(r.stdout, "checksum ")
	if r.code != 0 || len(problemLines(r.stdout)) > 0 {
		w.t.Errorf("verify --deep on a repaired archive: want exit 0 and no problems: %s", r)
	}
	return mismatches
}

// loadArchived reads every archived row back with `strata retrieve --format
// csv` into a table "archived" defined like the source table, and returns
// how many rows it holds.
func (w *world) loadArchived() int64 {
	w.t.Helper()
	w.exec(`DROP TABLE IF EXISTS archived`)
	w.exec(`CREATE TABLE archived (LIKE ` + table + `)`)
	if w.committedObjects() == 0 {
		return 0
	}
	today := time.Now().UTC().Format(time.DateOnly)
	r := w.strata(nil, "retrieve", "--dataset", dataset, "--type", "analytics",
		"--from", "2000-01-01", "--to", today, "--format", "csv")
	if r.code != 0 {
		w.t.Fatalf("retrieve every archived row: %s", r)
	}
	w.copyCSV("archived", r.stdout)
	return w.count(`SELECT count(*) FROM archived`)
}

// copyCSV loads CSV with a header line into tbl.
func (w *world) copyCSV(tbl, csv string) {
	w.t.Helper()
	header, _, _ := strings.Cut(csv, "\n")
	var cols []string
	for _, c := range strings.Split(header, ",") {
		cols = append(cols, pgx.Identifier{strings.Trim(c, `"`)}.Sanitize())
	}
	ctx := context.Background()
	conn, err := w.pool.Acquire(ctx)
	if err != nil {
		w.t.Fatal(err)
	}
	defer conn.Release()
	sql := fmt.Sprintf(`COPY %s (%s) FROM STDIN (FORMAT csv, HEADER true)`, tbl, strings.Join(cols, ", "))
	if _, err := conn.Conn().PgConn().CopyFrom(ctx, strings.NewReader(csv), sql); err != nil {
		w.t.Fatalf("load retrieved rows: %s: %v", sql, err)
	}
}

// checkRerunWritesNothing runs archive once more: it must find nothing to
// archive, and change neither storage, the catalog nor the table.
func (w *world) checkRerunWritesNothing() {
	w.t.Helper()
	keys := w.storedKeys()
	uploads := w.count(`SELECT count(*) FROM strata.uploads`)
	objects := w.committedObjects()
	live := w.count(`SELECT count(*) FROM ` + table)
	r := w.strata(nil, "archive")
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to archive") {
		w.t.Errorf("re-run after success: want exit 0 and 'nothing to archive': %s", r)
	}
	if after := w.storedKeys(); !slices.Equal(after, keys) {
		w.t.Errorf("re-run after success changed storage: %d objects before, %d after", len(keys), len(after))
	}
	if n := w.count(`SELECT count(*) FROM strata.uploads`); n != uploads {
		w.t.Errorf("re-run after success recorded %d new upload(s)", n-uploads)
	}
	if n := w.committedObjects(); n != objects {
		w.t.Errorf("re-run after success committed %d new object(s)", n-objects)
	}
	if n := w.count(`SELECT count(*) FROM ` + table); n != live {
		w.t.Errorf("re-run after success deleted %d row(s)", live-n)
	}
}

// figure turns an outcome into a row of the reliability table.
// order sorts it in the table (see figure.Order); the backend is appended.
func (w *world) figure(order, scenario string, o outcome, retries int, start time.Time) figure {
	return figure{
		Order:    fmt.Sprintf("%s/%d", order, slices.Index(backends, w.backend)),
		Scenario: scenario, Backend: w.backend, Runs: w.archiveRuns, Rows: o.Rows,
		Lost: fmt.Sprint(o.Lost), Duplicated: fmt.Sprint(o.Dup + o.Overlap),
		Checksum: fmt.Sprint(o.Checksum),
		Orphans:  fmt.Sprintf("%d found, %d cleaned", o.Orphans, o.Repaired),
		Retries:  retries, Wall: time.Since(start),
	}
}
