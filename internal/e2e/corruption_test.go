package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestVerifyAndRetrieveCatchEveryDamagedObject damages a clean local archive
// (one object with a flipped byte, one truncated, one deleted, one unknown
// file added): verify names each damaged object on its own line and exits 3,
// --deep also finds the flipped byte, and retrieve of a damaged day fails
// loudly without printing a row.
func TestVerifyAndRetrieveCatchEveryDamagedObject(t *testing.T) {
	start := time.Now()
	w := newWorld(t, backendLocal)
	w.createOrders(100, 50)
	w.takeReference()
	w.mustSucceed(nil, "archive")
	keys := w.committedKeys()
	if len(keys) != 9 {
		t.Fatalf("want 9 committed objects, have %d", len(keys))
	}
	flipped, truncated, deleted := keys[0], keys[1], keys[2]
	extra := prefix + "/analytics/orders/2020/01/01/chunk_999999.parquet"
	w.damage(flipped, func(p string, b []byte) { b[len(b)/2] ^= 0xff; writeFile(t, p, b) })
	w.damage(truncated, func(p string, b []byte) { writeFile(t, p, b[:len(b)/2]) })
	w.damage(deleted, func(p string, _ []byte) { must(t, os.Remove(p)) })
	w.damage(extra, func(p string, _ []byte) { writeFile(t, p, []byte("PAR1 not really\n")) })

	// A truncated object is "size" where storage reports the short size, or
	// "unreadable" where it refuses to (the file backend checks its sidecar);
	// never "missing".
	damaged := "size|unreadable"
	plain := w.verifyProblems(nil, map[string]string{deleted: "missing", truncated: damaged, extra: "unexpected"})
	deep := w.verifyProblems([]string{"--deep"}, map[string]string{
		flipped: "checksum", deleted: "missing", truncated: damaged, extra: "unexpected"})

	for _, k := range []string{flipped, truncated, deleted} {
		day := w.objectDay(k)
		r := w.strata(nil, "retrieve", "--dataset", dataset, "--type", "analytics", "--from", day, "--to", day)
		if r.code == 0 || r.stdout != "" || !strings.Contains(r.stderr, k) {
			t.Errorf("retrieve of damaged %s (day %s): want a non-zero exit, no rows, and an error naming the object: %s", k, day, r)
		}
	}
	intact := w.objectDay(keys[3])
	if r := w.mustSucceed(nil, "retrieve", "--dataset", dataset, "--type", "analytics", "--from", intact, "--to", intact); strings.Count(r.stdout, "\n") != 50 {
		t.Errorf("retrieve of an intact day: want its 50 rows, got %d lines", strings.Count(r.stdout, "\n"))
	}
	figures.add(t, figure{Order: "5", Scenario: "flip a byte, truncate, delete, add an object", Backend: w.backend,
		Runs: w.archiveRuns, Rows: w.count(`SELECT count(*) FROM ref`), Lost: "-", Duplicated: "-",
		Checksum: "1 injected, " + itoa(deep["checksum"]) + " found by --deep, " + itoa(plain["checksum"]) + " by plain verify",
		Orphans: itoa(deep["unexpected"]) + " unexpected found; also " + itoa(deep["missing"]) + " missing, " +
			itoa(deep["size"]+deep["unreadable"]) + " truncated found",
		Wall: time.Since(start)})
}

// damage applies fn to the file holding key in the local archive (created
// empty if missing), made writable first.
func (w *world) damage(key string, fn func(path string, content []byte)) {
	w.t.Helper()
	p := filepath.Join(w.archive, filepath.FromSlash(key))
	b, err := os.ReadFile(p)
	if os.IsNotExist(err) {
		must(w.t, os.MkdirAll(filepath.Dir(p), 0o755))
	} else {
		must(w.t, err)
		must(w.t, os.Chmod(p, 0o644))
	}
	fn(p, b)
}

// verifyProblems runs verify with flags, checks that it exits 3 and reports
// exactly the problems in want (key -> kind, or kinds separated by |), one
// line each naming the key, and returns how many it reported of each kind.
func (w *world) verifyProblems(flags []string, want map[string]string) map[string]int {
	w.t.Helper()
	r := w.strata(nil, append([]string{"verify"}, flags...)...)
	if r.code != 3 {
		w.t.Errorf("verify %v on a damaged archive: want exit 3: %s", flags, r)
	}
	kinds := map[string]int{}
	got := map[string]string{}
	for _, l := range problemLines(r.stdout) {
		f := strings.Fields(l)
		if len(f) < 2 || !strings.HasPrefix(f[1], prefix+"/") {
			w.t.Errorf("verify %v: line does not name an object: %q", flags, l)
			continue
		}
		kinds[f[0]]++
		got[f[1]] = f[0]
	}
	for k, kind := range want {
		if !slices.Contains(strings.Split(kind, "|"), got[k]) {
			w.t.Errorf("verify %v: %s should be reported as %s, got %q\n%s", flags, k, kind, got[k], r.stdout)
		}
	}
	if len(got) != len(want) {
		w.t.Errorf("verify %v: reported %d objects, want %d\n%s", flags, len(got), len(want), r.stdout)
	}
	return kinds
}

// objectDay returns the UTC day of a committed object as YYYY-MM-DD.
func (w *world) objectDay(key string) string {
	w.t.Helper()
	var day time.Time
	if err := w.pool.QueryRow(context.Background(), `SELECT day FROM strata.objects WHERE key = $1`, key).Scan(&day); err != nil {
		w.t.Fatalf("day of %s: %v", key, err)
	}
	return day.Format(time.DateOnly)
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()
	must(t, os.WriteFile(path, b, 0o644))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
