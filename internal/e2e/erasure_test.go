package e2e

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/failpoint"
)

// erasedCustomer is in 4 archived days (91 to 94 days ago) and 2 live ones
// of createOrders(100, 40): customer_id = (day*7 + i) % 24000.
const erasedCustomer = "660"

// TestEraseKilledAtEveryStepEndsAsIfUninterrupted kills `strata erase` at
// each step of the archive protocol it writes its replacement objects
// with, on each backend, then runs it again: the subject is gone from the
// table and the archive, every other row is exactly once live or archived,
// the uploads of the killed run are adopted or repaired, and the old
// objects are gone from storage.
func TestEraseKilledAtEveryStepEndsAsIfUninterrupted(t *testing.T) {
	for _, backend := range backends {
		for i, step := range failpoint.Steps {
			if slices.Contains(analyticsOnlySteps, step) {
				continue
			}
			t.Run(backend+"/"+step, func(t *testing.T) {
				t.Parallel()
				killErase(t, backend, step, fmt.Sprintf("9-%02d", i))
			})
		}
	}
}

func killErase(t *testing.T, backend, step, order string) {
	start := time.Now()
	ds := ordersEntry()
	ds.Extra += "\nsubject:\n  columns: [customer_id]"
	w := newWorldOf(t, backend, ds)
	w.createOrders(100, 40)
	w.takeReference()
	w.mustSucceed(withRetention("90d"), "archive")
	subject := `SELECT count(*) FROM ` + table + ` WHERE customer_id = ` + erasedCustomer
	if n := w.count(subject); n != 2 {
		t.Fatalf("the subject has %d live rows, want 2", n)
	}
	args := []string{"erase", "--dataset", dataset, "--subject", erasedCustomer, "--reason", "crash test"}
	r := w.strata([]string{"STRATA_FAILPOINTS=" + step + "=kill"}, args...)
	if !r.killed {
		t.Fatalf("want the erasure killed by SIGKILL at %s: %s", step, r)
	}
	done := w.count(`SELECT count(*) FROM strata.erasures WHERE status = 'done'`)
	switch live := w.count(subject); {
	case step == "after-commit" && (live != 0 || done != 1):
		t.Errorf("killed after the commit: %d live rows of the subject, %d erasures; want 0 and 1", live, done)
	case step != "after-commit" && (live != 2 || done != 0):
		t.Errorf("killed at %s, before the commit: %d live rows of the subject, %d erasures; want 2 and 0 (nothing changed)", step, live, done)
	}
	r = w.mustSucceed(nil, args...)
	var cert struct {
		Status    string `json:"status"`
		Deletions []struct {
			DeletedAt *time.Time `json:"deleted_at"`
		} `json:"deletions"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &cert); err != nil || cert.Status != "done" {
		t.Fatalf("the rerun's certificate: %v %s", err, r)
	}
	if n := w.count(subject); n != 0 {
		t.Errorf("%d live rows of the subject after the rerun", n)
	}
	if n := w.count(`SELECT count(*) FROM strata.erasure_deletions WHERE deleted_at IS NULL`); n != 0 {
		t.Errorf("%d old objects still to delete after the rerun (no retention: deleted at once)", n)
	}
	if n := w.count(`SELECT count(*) FROM strata.erasure_deletions`); n != 4 {
		t.Errorf("%d objects replaced, want 4 (one per archived day of the subject)", n)
	}
	w.exec(`DELETE FROM ref WHERE customer_id = ` + erasedCustomer)
	o := w.checkInvariants()
	if n := w.count(`SELECT count(*) FROM archived WHERE customer_id = ` + erasedCustomer); n != 0 {
		t.Errorf("%d archived rows of the subject are still retrieved", n)
	}
	figures.add(t, w.figure(order, "erase killed -9 at "+step+", rerun", o, 1, start))
}
