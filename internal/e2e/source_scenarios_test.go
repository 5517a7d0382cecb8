package e2e

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/failpoint"
)

// TestSourceCheckerFindsViolations ingests a file cleanly, checks that every
// source invariant holds, then damages Layer 3, the catalog and Layer 2 one
// at a time and checks that the checker names each damage: a checker that
// cannot fail proves nothing.
func TestSourceCheckerFindsViolations(t *testing.T) {
	start := time.Now()
	w := newSourceWorld(t, backendLocal, 200)
	recs := w.makeRecords(1000)
	r := w.ingest(nil, w.writeFile("all.jsonl", recs))
	if r.code != 0 || !strings.Contains(r.stdout, "ingested 1000 of 1000 records in 5 batch(es)") {
		t.Fatalf("want 1000 records ingested in 5 batches: %s", r)
	}
	o := w.checkSourceInvariants(true)
	figures.add(t, w.sourceFigure("4-0", "source: clean ingest, 5 batches", o, 0, start))

	damages := []struct{ name, damage, undo, want string }{
		{"a Layer 3 payload rewritten",
			`UPDATE ` + srcTable + ` SET raw_data = (raw_data::text || ' ')::json WHERE raw_id = 7`,
			`UPDATE ` + srcTable + ` SET raw_data = rtrim(raw_data::text, ' ')::json WHERE raw_id = 7`,
			"differ from Layer 3"},
		{"a row forgotten by source_archived",
			`CREATE TABLE saved AS SELECT * FROM strata.source_archived WHERE id = 8; DELETE FROM strata.source_archived WHERE id = 8`,
			`INSERT INTO strata.source_archived SELECT * FROM saved; DROP TABLE saved`,
			"not in strata.source_archived"},
		{"a Layer 2 row changed",
			`CREATE TABLE saved AS SELECT * FROM orders WHERE order_id = 9; UPDATE orders SET status = 'tampered' WHERE order_id = 9`,
			`UPDATE orders o SET status = s.status FROM saved s WHERE o.order_id = s.order_id; DROP TABLE saved`,
			"not the transform of the latest"},
		{"a Layer 3 row unprocessed",
			`UPDATE ` + srcTable + ` SET processed = false WHERE raw_id = 10`,
			`UPDATE ` + srcTable + ` SET processed = true WHERE raw_id = 10`,
			"archived but not processed"},
		{"a record stored twice",
			`INSERT INTO ` + srcTable + ` (raw_id, raw_data, processed) SELECT 1000000, raw_data, false FROM ` + srcTable + ` WHERE raw_id = 11`,
			`DELETE FROM ` + srcTable + ` WHERE raw_id = 1000000`,
			"duplicated"},
	}
	for _, d := range damages {
		w.exec(d.damage)
		_, bad := w.sourceViolations(true, true)
		if !slices.ContainsFunc(bad, func(s string) bool { return strings.Contains(s, d.want) }) {
			t.Errorf("%s: the checker did not report %q; it reported %q", d.name, d.want, bad)
		}
		w.exec(d.undo)
	}
	if _, bad := w.sourceViolations(true, true); len(bad) > 0 {
		t.Fatalf("after undoing the damage: %q", bad)
	}
}

// TestSourceIngestKillAtEveryStep kills strata ingest at each step of a
// batch, after earlier batches of the same file are stored; the batches
// before must be whole, the killed one nowhere (or whole, killed after its
// commit); ingesting the records not stored must complete, and every
// invariant must hold, orphans cleaned by verify --repair.
func TestSourceIngestKillAtEveryStep(t *testing.T) {
	remoteSteps := []string{"after-intent", "mid-upload", "after-verify", "after-commit"}
	for _, backend := range backends {
		for i, step := range failpoint.Steps {
			if slices.Contains(analyticsOnlySteps, step) || backend != backendLocal && !slices.Contains(remoteSteps, step) {
				continue
			}
			t.Run(backend+"/"+step, func(t *testing.T) {
				t.Parallel()
				ingestKillAtStep(t, backend, step, fmt.Sprintf("5-%02d", i))
			})
		}
	}
}

func ingestKillAtStep(t *testing.T, backend, step, order string) {
	start := time.Now()
	w := newSourceWorld(t, backend, 200)
	recs := w.makeRecords(1000)
	// The file's first 400 records, 2 batches, are stored by a run that
	// succeeds; the kill lands in the first batch of the rest. (A failpoint
	// kills at its first hit, so this is how earlier batches exist.)
	if r := w.ingest(nil, w.writeFile("first.jsonl", recs[:400])); r.code != 0 {
		t.Fatalf("first 400 records: %s", r)
	}
	r := w.ingest([]string{"STRATA_FAILPOINTS=" + step + "=kill"}, w.writeFile("rest.jsonl", recs[400:]))
	if !r.killed {
		t.Fatalf("want strata ingest killed by SIGKILL at %s: %s", step, r)
	}
	stored := int64(400)
	if step == "after-commit" {
		stored = 600 // the killed batch committed before the kill
	}
	if n, first := w.count(`SELECT count(*) FROM `+srcTable), w.count(`SELECT count(*) FROM `+srcTable+` WHERE (raw_data->>'rec')::bigint <= $1`, stored); n != stored || first != stored {
		t.Errorf("killed at %s: Layer 3 holds %d records (%d of recs 1..%d), want exactly recs 1..%d", step, n, first, stored, stored)
	}
	w.checkConsistent("right after the kill at "+step, false, true)

	rest := w.remaining()
	if int64(len(rest)) != 1000-stored {
		t.Fatalf("%d records remain to be sent, want %d", len(rest), 1000-stored)
	}
	want := fmt.Sprintf("ingested %d of %d records", len(rest), len(rest))
	if r := w.ingest(nil, w.writeFile("remaining.jsonl", rest)); r.code != 0 || !strings.Contains(r.stdout, want) {
		t.Fatalf("ingest of the remaining records: want %q: %s", want, r)
	}
	o := w.checkSourceInvariants(true)
	// From its intent on, the killed batch left an upload that no retry can
	// adopt (the records get new ids): --repair must have cleaned it.
	if adoptingSteps[step] && o.Repaired < 1 {
		t.Errorf("killed at %s after recording an intent: --repair cleaned %d uploads, want at least 1", step, o.Repaired)
	}
	figures.add(t, w.sourceFigure(order, "source: ingest killed at "+step, o, 1, start))
}

// TestSourceArchiveKillAtEveryStep kills strata archive --type source at
// each step while it archives rows that another program wrote into Layer 3;
// then a run completes, adopting the interrupted upload (same rows, same
// bytes), and every invariant holds.
func TestSourceArchiveKillAtEveryStep(t *testing.T) {
	for i, step := range failpoint.Steps {
		if slices.Contains(analyticsOnlySteps, step) {
			continue
		}
		t.Run(step, func(t *testing.T) {
			t.Parallel()
			archiveKillAtStep(t, backendLocal, step, fmt.Sprintf("6-%02d", i))
		})
	}
}

func archiveKillAtStep(t *testing.T, backend, step, order string) {
	start := time.Now()
	w := newSourceWorld(t, backend, 200)
	w.insertByOthers(w.makeRecords(400))
	if r := w.archiveSource(nil); r.code != 0 {
		t.Fatalf("archive the first 400 rows: %s", r)
	}
	w.insertByOthers(w.makeRecords(600))
	r := w.archiveSource([]string{"STRATA_FAILPOINTS=" + step + "=kill"})
	if !r.killed {
		t.Fatalf("want strata archive --type source killed by SIGKILL at %s: %s", step, r)
	}
	archived := int64(400)
	if step == "after-commit" {
		archived = 600
	}
	if n := w.count(`SELECT count(*) FROM strata.source_archived`); n != archived {
		t.Errorf("killed at %s: %d rows marked archived, want %d", step, n, archived)
	}
	w.checkConsistent("right after the kill at "+step, false, false)
	if r := w.archiveSource(nil); r.code != 0 || !strings.Contains(r.stdout, fmt.Sprintf("archived %d rows", 1000-archived)) {
		t.Fatalf("the completing run: want %d rows archived: %s", 1000-archived, r)
	}
	o := w.checkSourceInvariants(false)
	// The retry claims the same rows and writes the same bytes: it adopts
	// the interrupted upload, so nothing is left to repair.
	if o.Orphans+o.Repaired != 0 {
		t.Errorf("killed at %s: the retry left %d orphan(s), %d upload(s) repaired; want the interrupted upload adopted", step, o.Orphans, o.Repaired)
	}
	if u, c := w.count(`SELECT count(*) FROM strata.uploads`), w.committedObjects(); u != c {
		t.Errorf("killed at %s: %d uploads for %d committed objects; want the interrupted upload adopted", step, u, c)
	}
	figures.add(t, w.sourceFigure(order, "source: archive of rows others wrote, killed at "+step, o, 1, start))
}

// killedAtRandom starts strata args..., which has about rows rows to do in
// batches of 200, and SIGKILLs it at a random moment: once a random number
// of its batches (0 to all but one) are committed, after a random further
// 0-100 ms, so the kill lands anywhere in a batch whatever the machine's
// speed. The process may finish first.
func (w *sourceWorld) killedAtRandom(rng *rand.Rand, rows int, args ...string) result {
	w.t.Helper()
	batches := max(1, (rows+199)/200)
	k, jitter := int64(rng.IntN(batches)), time.Duration(rng.Int64N(int64(100*time.Millisecond)))
	before := w.committedObjects()
	w.runs++
	// Each batch waits 200 ms just before its commit (@every: a failpoint
	// acts at its first hit only otherwise, and the later batches took
	// ~20 ms, so kills landed after the run, or after its last commit), well
	// over the kill's jitter, so a kill 0-100 ms after the k-th commit is
	// seen lands inside batch k+1 (anywhere from its start to before its
	// commit) however fast or loaded this machine is.
	p := w.startStrata([]string{"STRATA_FAILPOINTS=after-verify=sleep:200ms@every"}, args...)
	done := make(chan result, 1)
	go func() { done <- w.waitFor(p) }()
	deadline := time.Now().Add(time.Minute)
	for w.committedObjects() < before+k && time.Now().Before(deadline) {
		select {
		case r := <-done:
			return r
		case <-time.After(5 * time.Millisecond):
		}
	}
	select {
	case r := <-done:
		return r
	case <-time.After(jitter):
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	return <-done
}

// sourceRandomKills is how many runs each random-kill scenario kills at.
const sourceRandomKills = 8

// TestSourceRandomKills SIGKILLs strata ingest, and strata archive --type
// source of rows others write, at seeded random moments; more records arrive
// before each run. After every kill the archive must be consistent with
// Layer 3; then a run finishes and every invariant holds.
func TestSourceRandomKills(t *testing.T) {
	t.Run("ingest", func(t *testing.T) { sourceRandomKillsOf(t, true, "7-0") })
	t.Run("archive", func(t *testing.T) { sourceRandomKillsOf(t, false, "7-1") })
}

func sourceRandomKillsOf(t *testing.T, ingest bool, order string) {
	rng := rand.New(rand.NewPCG(seed(t), 1))
	start := time.Now()
	w := newSourceWorld(t, backendLocal, 200)
	recs := w.makeRecords(3000)
	if !ingest {
		w.insertByOthers(recs)
	}
	killed, lastKilled := 0, false
	for run := range sourceRandomKills {
		if run > 0 {
			more := w.makeRecords(300)
			if !ingest {
				w.insertByOthers(more)
			}
		}
		var r result
		if ingest {
			rest := w.remaining()
			r = w.killedAtRandom(rng, len(rest), "ingest", "--dataset", dataset, w.writeFile(fmt.Sprintf("run%d.jsonl", run), rest))
		} else {
			rows := int(w.count(`SELECT count(*) FROM ` + srcTable + ` WHERE NOT processed`))
			r = w.killedAtRandom(rng, rows, "archive", "--type", "source", "--flush")
		}
		if r.killed {
			killed++
		} else if r.code != 0 {
			t.Fatalf("run %d (not killed) failed: %s", run, r)
		}
		lastKilled = r.killed
		o := w.checkConsistent(fmt.Sprintf("after run %d (killed %v)", run, r.killed), false, ingest)
		t.Logf("run %d: killed %v after %s; Layer 3 %d rows, archived %d", run, r.killed, r.wall.Round(time.Millisecond), o.Layer3, o.Archived)
	}
	if killed < sourceRandomKills/2 {
		t.Errorf("only %d of %d runs were killed before they finished: the kills test little", killed, sourceRandomKills)
	}
	var o sourceOutcome
	if ingest {
		rest := w.remaining()
		if r := w.ingest(nil, w.writeFile("final.jsonl", rest)); r.code != 0 {
			t.Fatalf("final ingest of %d records: %s", len(rest), r)
		}
		if len(rest) == 0 && lastKilled {
			// The last run was killed after its last commit, perhaps before
			// its publish, and an ingest with nothing to store publishes
			// nothing: verify must name what the tables miss, and tables
			// rebuild (what verify tells a user to run) put them right.
			w.rebuildUnpublished("after the last run was killed after its last commit")
		}
		o = w.checkSourceInvariants(true)
	} else {
		if r := w.archiveSource(nil); r.code != 0 {
			t.Fatalf("final archive: %s", r)
		}
		o = w.checkSourceInvariants(false)
	}
	what := map[bool]string{true: "ingest", false: "archive of rows others wrote"}[ingest]
	figures.add(t, w.sourceFigure(order, fmt.Sprintf("source: random kill -9 of %s (%d kills)", what, killed), o, killed, start))
}

// TestSourceIngestKilledBeforeItsPublish kills strata ingest after the
// commit of its last batch, before it publishes the lakehouse tables: every
// record is stored, so the next ingest has nothing to store and publishes
// nothing. verify must name both objects as missing from both the Delta and
// the Iceberg table, tables rebuild must put them right, and every
// invariant must hold (what the random kills meet when their last kill
// lands there).
func TestSourceIngestKilledBeforeItsPublish(t *testing.T) {
	w := newSourceWorld(t, backendLocal, 200)
	r := w.ingest([]string{"STRATA_FAILPOINTS=after-commit=kill@2"}, w.writeFile("all.jsonl", w.makeRecords(400)))
	if !r.killed {
		t.Fatalf("want strata ingest killed after its second and last commit: %s", r)
	}
	if rest := w.remaining(); len(rest) != 0 {
		t.Fatalf("killed after its last commit: %d of 400 records are not stored, want none", len(rest))
	}
	if r := w.ingest(nil, w.writeFile("none.jsonl", nil)); r.code != 0 {
		t.Fatalf("an ingest with nothing to store: %s", r)
	}
	if n := w.rebuildUnpublished("after the kill before the publish"); n != 4 {
		t.Errorf("verify named %d objects the tables miss, want 4 (2 objects, each missed by the Delta and the Iceberg table)", n)
	}
	w.checkSourceInvariants(true)
}

var sourceArchivedRows = regexp.MustCompile(`(?m)^orders: source: archived (\d+) rows`)

// conflictMsg is how a source archiver reports that another process
// committed some of the rows it had claimed; nothing of its batch commits.
const conflictMsg = "another strata process archived some of these rows at the same time"

// TestSourceConcurrentArchivers starts three strata archive --type source
// --flush at once on 5000 rows others wrote: all must succeed, together they
// must archive each row exactly once, and a final run must find nothing
// left, and Layer 2 must hold the latest record of each key (before
// e3d145b, batches committed out of id order and an older batch's upsert
// could win).
func TestSourceConcurrentArchivers(t *testing.T) {
	const processes, rows = 3, 5000
	start := time.Now()
	w := newSourceWorld(t, backendLocal, 200)
	w.insertByOthers(w.makeRecords(rows))
	var ps []*proc
	for range processes {
		w.runs++
		ps = append(ps, w.startStrata(nil, "archive", "--type", "source", "--flush"))
	}
	var got int64
	conflicts := 0
	for i, p := range ps {
		r := w.waitFor(p)
		for _, m := range sourceArchivedRows.FindAllStringSubmatch(r.stdout, -1) {
			n, _ := strconv.ParseInt(m[1], 10, 64)
			got += n
		}
		switch {
		case r.code == 0:
		case strings.Contains(r.stderr, conflictMsg):
			conflicts++
			t.Logf("process %d lost a claim race and stopped: %s", i, r)
		default:
			t.Fatalf("process %d: %s", i, r)
		}
	}
	final := w.archiveSource(nil)
	if final.code != 0 {
		t.Fatalf("final run: %s", final)
	}
	var left int64
	for _, m := range sourceArchivedRows.FindAllStringSubmatch(final.stdout, -1) {
		left, _ = strconv.ParseInt(m[1], 10, 64)
		got += left
	}
	// --flush archives every waiting row: when all three exit 0, no row
	// that was waiting before they started is left for the final run.
	if conflicts == 0 && left != 0 {
		t.Errorf("3 archivers with --flush all succeeded but left %d of %d rows for the next run: %s", left, rows, final)
	}
	if got != rows {
		t.Errorf("the processes and the final run together archived %d rows, want %d (each row once)", got, rows)
	}
	if conflicts > 0 {
		// Fixed by 1e5c573 (claims re-checked with a fresh snapshot).
		t.Errorf("%d of %d concurrent archivers failed with %q: claims with FOR UPDATE SKIP LOCKED in READ COMMITTED hand a row to a second process when the first commits between the second's snapshot and its lock", conflicts, processes, conflictMsg)
	}
	o := w.checkSourceInvariants(false)
	figures.add(t, w.sourceFigure("8-0", fmt.Sprintf("source: 3 archivers at once (%d failed on a claim race)", conflicts), o, conflicts, start))
}

// TestSourceBadInputStoresNothing ingests files with one bad line in the
// middle: strata ingest must exit 2 naming the line and store nothing.
func TestSourceBadInputStoresNothing(t *testing.T) {
	w := newSourceWorld(t, backendLocal, 200)
	good := w.makeRecords(1000)
	w.exec(`TRUNCATE ref_src`)
	cases := []struct{ name, line, why string }{
		{"not valid JSON", `{"order_id": 5, "rec": `, ""},
		{"not an object", `[1, 2, 3]`, "object"},
		{"over max_record_bytes", `{"order_id": 5, "pad": "` + strings.Repeat("x", 1<<20) + `"}`, ""},
	}
	for _, c := range cases {
		recs := slices.Clone(good)
		recs[499] = c.line // line 500
		r := w.ingest(nil, w.writeFile("bad.jsonl", recs))
		if r.code != 2 || !strings.Contains(r.stderr, "line 500") || !strings.Contains(r.stderr+r.stdout, "nothing was stored") {
			t.Errorf("%s at line 500: want exit 2 naming line 500 and 'nothing was stored': %s", c.name, r)
		}
		if c.why != "" && !strings.Contains(r.stderr, c.why) {
			t.Errorf("%s: the message does not say why (%q): %s", c.name, c.why, r.stderr)
		}
		if n := w.count(`SELECT count(*) FROM ` + srcTable); n != 0 {
			t.Errorf("%s: Layer 3 holds %d rows, want none", c.name, n)
		}
		if n := w.count(`SELECT count(*) FROM orders`); n != 0 {
			t.Errorf("%s: Layer 2 holds %d rows, want none", c.name, n)
		}
		if w.catalogExists() {
			if n := w.count(`SELECT count(*) FROM strata.uploads`) + w.committedObjects(); n != 0 {
				t.Errorf("%s: the catalog records %d uploads and objects, want none", c.name, n)
			}
		}
		if keys := w.storedKeys(); len(keys) != 0 {
			t.Errorf("%s: storage holds %v, want nothing", c.name, keys)
		}
	}
}

// TestSourceOlderBatchCommittedLastDoesNotWin makes the race of concurrent
// archivers happen on purpose: process A claims the older records and
// pauses before its commit (in-commit-before-delete=sleep); meanwhile
// process B archives the newer records of the same keys. Layer 2 must end
// with the newer records, however the two commits are ordered.
func TestSourceOlderBatchCommittedLastDoesNotWin(t *testing.T) {
	start := time.Now()
	w := newSourceWorld(t, backendLocal, 200)
	w.keys = 50 // each key has records in both batches
	w.insertByOthers(w.makeRecords(400))
	w.runs++
	a := w.startStrata([]string{"STRATA_FAILPOINTS=in-commit-before-delete=sleep:3s"}, "archive", "--type", "source", "--flush")
	// B starts once A has claimed its batch and uploaded it.
	deadline := time.Now().Add(30 * time.Second)
	for !w.catalogExists() || w.count(`SELECT count(*) FROM strata.uploads WHERE state = 'uploaded'`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("process A never uploaded its batch")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b := w.archiveSource(nil)
	ra := w.waitFor(a)
	if ra.code != 0 || b.code != 0 {
		t.Fatalf("both must succeed:\n%s\n%s", ra, b)
	}
	// Before e3d145b all 50 keys held A's older records here.
	o := w.checkConsistent("after both runs", true, false)
	figures.add(t, w.sourceFigure("8-1", "source: an older batch commits after a newer one (2 archivers)", o, 0, start))
}
