package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/failpoint"
)

// adoptingSteps are the failpoints after which the killed run has recorded
// an intent for the day, so the next run, producing the same bytes, adopts
// that upload instead of writing a second object.
var adoptingSteps = map[string]bool{
	"after-intent": true, "mid-upload": true, "after-upload": true,
	"after-verify": true, "after-stage-all": true, "in-commit-before-delete": true,
	"after-delete": true,
}

// analyticsOnlySteps are the failpoints of an analytics days job alone
// (its days staged, its one DELETE), which ingest, the source archive and
// erasure never pass.
var analyticsOnlySteps = []string{"after-stage-all", "after-delete"}

// TestKillAtEveryStepLosesAndDuplicatesNothing kills strata at each step of
// the archive state machine, on each backend, in the middle of a run whose
// earlier days are already committed; then runs it to completion and checks
// every invariant.
func TestKillAtEveryStepLosesAndDuplicatesNothing(t *testing.T) {
	for _, backend := range backends {
		for i, step := range failpoint.Steps {
			t.Run(backend+"/"+step, func(t *testing.T) {
				// Sixteen short scenarios, mostly waiting on subprocesses
				// and fsync: two at a time keeps the package fast on CI.
				t.Parallel()
				killAtStep(t, backend, step, "", fmt.Sprintf("1-%02d", i))
			})
		}
	}
}

// TestKillBetweenDaysOfOneRunLosesAndDuplicatesNothing kills strata in the
// middle of a run's days: the first two days uploaded and verified, the
// third recorded or being uploaded. No day is committed (a run's days
// commit together); the next run adopts the three uploads.
func TestKillBetweenDaysOfOneRunLosesAndDuplicatesNothing(t *testing.T) {
	for _, backend := range backends {
		for i, step := range []string{"after-intent", "mid-upload", "after-verify"} {
			t.Run(backend+"/"+step+"@3", func(t *testing.T) {
				t.Parallel()
				killAtStep(t, backend, step, "@3", fmt.Sprintf("1-%02d", len(failpoint.Steps)+i))
			})
		}
	}
}

// killAtStep kills the run at step's first hit, or at its hit given by at
// ("@3": the third day's).
func killAtStep(t *testing.T, backend, step, at, order string) {
	start := time.Now()
	w := newWorld(t, backend)
	// 100 days of 40 rows: retention 95d archives the 4 oldest days, 90d
	// the 9 oldest.
	w.createOrders(100, 40)
	w.takeReference()
	w.mustSucceed(withRetention("95d"), "archive")
	before := w.committedObjects()
	live := w.count(`SELECT count(*) FROM ` + table)
	if before != 4 {
		t.Fatalf("the first run committed %d objects, want 4", before)
	}

	r := w.strata([]string{"STRATA_FAILPOINTS=" + step + "=kill" + at}, "archive")
	if !r.killed {
		t.Fatalf("want the run killed by SIGKILL at %s%s: %s", step, at, r)
	}
	after := w.committedObjects()
	liveAfter := w.count(`SELECT count(*) FROM ` + table)
	switch {
	case step == "after-commit":
		// The unit of commit is the run's days job: its 5 days at once.
		if after != before+5 || liveAfter != live-5*40 {
			t.Errorf("killed after the commit of the run's days: committed %d -> %d objects, live rows %d -> %d; want 5 more objects and 200 fewer rows",
				before, after, live, liveAfter)
		}
	case after != before || liveAfter != live:
		t.Errorf("killed at %s, before any commit: committed %d -> %d objects, live rows %d -> %d; want no change",
			step, before, after, live, liveAfter)
	}

	r = w.mustSucceed(nil, "archive")
	if adoptingSteps[step] && !strings.Contains(r.stdout, "adopted") {
		t.Errorf("after a kill at %s the next run should adopt the interrupted upload: %s", step, r)
	}
	if n := w.committedObjects(); n != 9 {
		t.Errorf("after the completing run: %d committed objects, want 9 (one per day)", n)
	}
	o := w.checkInvariants()
	figures.add(t, w.figure(order, "kill -9 at "+step+at, o, 1, start))
}
