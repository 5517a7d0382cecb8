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
	"after-verify": true, "in-commit-before-delete": true,
}

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
				killAtStep(t, backend, step, fmt.Sprintf("1-%02d", i))
			})
		}
	}
}

func killAtStep(t *testing.T, backend, step, order string) {
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

	r := w.strata([]string{"STRATA_FAILPOINTS=" + step + "=kill"}, "archive")
	if !r.killed {
		t.Fatalf("want the run killed by SIGKILL at %s: %s", step, r)
	}
	after := w.committedObjects()
	liveAfter := w.count(`SELECT count(*) FROM ` + table)
	switch {
	case step == "after-commit":
		if after != before+1 || liveAfter != live-40 {
			t.Errorf("killed after the commit of one day: committed %d -> %d objects, live rows %d -> %d; want one more object and 40 fewer rows",
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
	figures.add(t, w.figure(order, "kill -9 at "+step, o, 1, start))
}
