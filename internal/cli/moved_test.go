package cli_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/cli"
)

// TestMovedRowsAreShownInWordsByCompareReplayAndLineage: rows whose time
// column moved 120 days back and were archived there are named by
// compare's text output, put back by replay --apply, and the replay's
// lineage says what it moved.
func TestMovedRowsAreShownInWordsByCompareReplayAndLineage(t *testing.T) {
	env, pool, _ := setupOrders(t)
	if _, err := pool.Exec(context.Background(), `UPDATE orders SET ordered_at = ordered_at - interval '120 days' WHERE order_id <= 4`); err != nil {
		t.Fatal(err)
	}
	if r := run(t, env, "archive", "--dataset", "orders", "--type", "analytics"); r.code != cli.ExitOK {
		t.Fatalf("archive: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	old := time.Now().UTC().AddDate(0, 0, -120).Format(time.DateOnly)
	r := run(t, env, "compare", "--dataset", "orders", "--from", day, "--to", day)
	for _, want := range []string{"changed     4  ordered_at 4 (4 archived, 4 of them on another day)",
		"archive searched for the keys beyond their days: 1 object(s), 0 ruled out by their key ranges, 1 probed",
		"moved       order_id=1  archived on " + old + ", its records give " + day} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("compare's text lacks %q:\n%s", want, r.stdout)
		}
	}
	if r.code != cli.ExitFound {
		t.Errorf("compare: exit %d, want 3", r.code)
	}
	r = run(t, env, "replay", "--dataset", "orders", "--from", day, "--to", day, "--apply")
	if want := "rows that had moved to another day: 4 put in Layer 2, 0 in objects of their own day"; r.code != cli.ExitOK || !strings.Contains(r.stdout, want) {
		t.Fatalf("replay --apply: exit %d, want 0 and %q:\n%s%s", r.code, want, r.stdout, r.stderr)
	}
	r = run(t, env, "lineage", "--dataset", "orders", "--from", day, "--to", day)
	for _, want := range []string{"4 row(s) had moved to another day", "4 went to Layer 2, 0 to an object of their own day",
		"order_id=1: was archived on " + old + ", now in Layer 2 (day " + day + ")"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("lineage's text lacks %q:\n%s", want, r.stdout)
		}
	}
}
