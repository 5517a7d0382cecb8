package e2e

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var archivedRows = regexp.MustCompile(`(?m)^orders: archived (\d+) rows`)

// TestConcurrentArchiversArchiveEachRowOnce starts three strata archive
// processes at once on the same dataset, in several rounds (late rows arrive
// between rounds): every process succeeds, together they archive each
// eligible row exactly once, a verify --repair running beside them neither
// fails nor removes their uploads, and the invariants hold.
func TestConcurrentArchiversArchiveEachRowOnce(t *testing.T) {
	for i, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			concurrentArchivers(t, backend, "3-"+strconv.Itoa(i))
		})
	}
}

func concurrentArchivers(t *testing.T, backend, order string) {
	const processes, rounds = 3, 3
	start := time.Now()
	w := newWorld(t, backend)
	w.createOrders(100, 500)
	w.takeReference()
	id, skipped := int64(1_000_000_000), 0
	for round := range rounds {
		if round > 0 {
			for _, day := range []int{91, 93, 95, 97} {
				w.insertLate(day, 200, id)
				id += 200
			}
		}
		want := w.count(`SELECT count(*) FROM ` + table + `
			WHERE ` + timeColumn + ` < date_trunc('day', now() - interval '90 days', 'UTC')`)
		var ps []*proc
		for range processes {
			ps = append(ps, w.startStrata(nil, "archive"))
		}
		// A repair running beside the archivers must leave their uploads
		// alone: it takes the dataset's lock or skips the dataset.
		repair := w.startStrata(nil, "verify", "--repair")
		var got int64
		for i, p := range ps {
			r := w.waitFor(p)
			if r.code != 0 {
				t.Fatalf("round %d, process %d: %s", round, i, r)
			}
			if strings.Contains(r.stdout, "skipped") {
				skipped++
			}
			for _, m := range archivedRows.FindAllStringSubmatch(r.stdout, -1) {
				n, _ := strconv.ParseInt(m[1], 10, 64)
				got += n
			}
		}
		w.checkRepairBesideArchivers(round, w.waitFor(repair))
		if got != want {
			t.Errorf("round %d: %d processes together archived %d rows, want %d (each eligible row once)", round, processes, got, want)
		}
		t.Logf("round %d: %d rows archived, %d process(es) skipped so far", round, got, skipped)
	}
	o := w.checkInvariants()
	f := w.figure(order, "3 archivers at once, "+strconv.Itoa(rounds)+" rounds ("+strconv.Itoa(skipped)+" skipped)", o, 0, start)
	figures.add(t, f)
}

// checkRepairBesideArchivers checks the outcome of a verify --repair that ran
// while archivers were busy. It may report an object as unexpected when an
// archiver recorded its intent after verify read the catalog and uploaded it
// before verify listed the storage; such an object must end up committed.
// Anything else is an error.
func (w *world) checkRepairBesideArchivers(round int, r result) {
	w.t.Helper()
	if r.code == 0 {
		return
	}
	committed := w.committedKeys()
	for _, l := range problemLines(r.stdout) {
		f := strings.Fields(l)
		if r.code == 3 && len(f) > 1 && f[0] == "unexpected" && slices.Contains(committed, f[1]) {
			w.t.Logf("round %d: verify beside a live archiver called an upload in flight unexpected (now committed): %s", round, l)
			continue
		}
		// An archiver publishes its lakehouse tables after its commit:
		// verify may look in between (the final verify must be clean).
		if r.code == 3 && unpublished(f, committed) {
			w.t.Logf("round %d: verify beside a live archiver saw a commit not yet published: %s", round, l)
			continue
		}
		w.t.Errorf("round %d: verify --repair beside the archivers: %s", round, l)
	}
	if r.code != 3 {
		w.t.Errorf("round %d: verify --repair beside the archivers: %s", round, r)
	}
}
