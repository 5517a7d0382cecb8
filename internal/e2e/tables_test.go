package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/testenv"
)

// TestTablesAKillBetweenTheCommitAndThePublishIsRepairedAndVerifyCatchesTampering
// kills strata archive (kill -9) after its commits, before it publishes
// the Delta table, three times: verify then names the committed objects
// the table misses (exit 3), and verify --repair, the start of strata
// serve and the next run each publish them. A table tampered with
// by hand (a commit that removes a current object, one that adds a file
// that is not) is caught by verify and put right by strata tables rebuild.
func TestTablesAKillBetweenTheCommitAndThePublishIsRepairedAndVerifyCatchesTampering(t *testing.T) {
	for i, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			w := newWorld(t, backend)
			w.createOrders(100, 40)
			w.takeReference()
			w.mustSucceed(withRetention("95d"), "archive")
			if got := w.deltaListed(); len(got) != 4 || !slices.Equal(got, w.committedKeys()) {
				t.Fatalf("after the first run the Delta table lists %v, want the 4 committed objects %v", got, w.committedKeys())
			}

			// Three kills before the publish, each repaired another way:
			// verify --repair, a start of strata serve, the next run.
			listed := 4
			killBeforePublish := func(retention string) []string {
				t.Helper()
				r := w.strata(append(withRetention(retention), "STRATA_FAILPOINTS=before-tables=kill"), "archive")
				if !r.killed {
					t.Fatalf("want the run killed at before-tables: %s", r)
				}
				committed := w.committedKeys()
				if len(committed) <= listed || len(w.deltaListed()) != listed {
					t.Fatalf("killed after its commits: %d committed objects, the table lists %d; want more than %d and %d",
						len(committed), len(w.deltaListed()), listed, listed)
				}
				w.verifyTables(t, "after the kill at retention "+retention, len(committed)-listed, 0)
				listed = len(committed)
				return committed
			}

			committed := killBeforePublish("93d")
			r := w.strata(nil, "verify", "--repair")
			if r.code != 0 || len(problemLines(r.stdout)) > 0 || !strings.Contains(r.stdout, "repaired delta table analytics/orders (rebuilt from the catalog") {
				t.Fatalf("verify --repair of an unpublished commit: want exit 0, no problem and the table repaired: %s", r)
			}
			if got := w.deltaListed(); !slices.Equal(got, committed) {
				t.Fatalf("after verify --repair the table lists %v, want %v", got, committed)
			}
			w.verifyTables(t, "after verify --repair", 0, 0)

			committed = killBeforePublish("91d")
			w.startServe(nil).stop(t) // it publishes at start; a stop waits for the publish
			if got := w.deltaListed(); !slices.Equal(got, committed) {
				t.Fatalf("after strata serve started and stopped the table lists %v, want %v", got, committed)
			}
			w.verifyTables(t, "after strata serve", 0, 0)

			committed = killBeforePublish("90d")
			w.mustSucceed(nil, "archive") // nothing to archive: it publishes what the killed run did not
			if got := w.deltaListed(); !slices.Equal(got, committed) {
				t.Fatalf("after the next run the table lists %v, want %v", got, committed)
			}
			w.verifyTables(t, "after the next run", 0, 0)

			w.tamper(t, fmt.Sprintf(`{"remove":{"path":%q,"deletionTimestamp":1,"dataChange":true}}`,
				strings.TrimPrefix(committed[0], prefix+"/analytics/orders/")))
			w.tamper(t, `{"add":{"path":"2020/01/01/chunk_999999.parquet","partitionValues":{"strata_day":"2020-01-01"},"size":1,"modificationTime":1,"dataChange":true}}`)
			w.verifyTables(t, "after tampering", 1, 1)
			w.mustSucceed(nil, "tables", "rebuild", "--dataset", dataset)
			if got := w.deltaListed(); !slices.Equal(got, committed) {
				t.Fatalf("after tables rebuild the table lists %v, want %v", got, committed)
			}
			w.verifyTables(t, "after tables rebuild", 0, 0)

			// A commit that is not JSON: the log cannot be read. Entries
			// are never rewritten, so the remedy is to move the log away
			// and rebuild.
			w.tamper(t, `{"add": not json`)
			if r := w.strata(nil, "verify"); r.code != 3 || !strings.Contains(r.stdout, "table-damaged analytics/orders delta") {
				t.Fatalf("verify of a log with a damaged entry: want exit 3 and table-damaged: %s", r)
			}
			w.removeDeltaLog(t)
			w.mustSucceed(nil, "tables", "rebuild", "--dataset", dataset)
			if got := w.deltaListed(); !slices.Equal(got, committed) {
				t.Fatalf("after the log was removed and rebuilt the table lists %v, want %v", got, committed)
			}
			w.verifyTables(t, "after the damaged log was rebuilt", 0, 0)
			o := w.checkInvariants()
			figures.add(t, w.figure(fmt.Sprintf("6-%02d", i), "kill -9 before the Delta publish; tampered log", o, 2, start))
		})
	}
}

// verifyTables runs strata verify and checks it reports exactly missing
// table-missing and extra table-extra lines of the Delta table (other
// formats' tables may differ too: their lines count for the exit status
// only), exit 3 when any.
func (w *world) verifyTables(t *testing.T, when string, missing, extra int) {
	t.Helper()
	r := w.strata(nil, "verify")
	m, x, others := 0, 0, 0
	for _, l := range problemLines(r.stdout) {
		delta := strings.Contains(l, " delta table ")
		switch {
		case strings.HasPrefix(l, "table-missing ") && delta:
			m++
		case strings.HasPrefix(l, "table-extra ") && delta:
			x++
		case strings.HasPrefix(l, "table-"):
			others++
		default:
			t.Errorf("%s: verify reports %s", when, l)
		}
	}
	want := 0
	if missing+extra+others > 0 {
		want = 3
	}
	if m != missing || x != extra || r.code != want {
		t.Fatalf("%s: verify found %d table-missing and %d table-extra (exit %d), want %d, %d (exit %d)\n%s",
			when, m, x, r.code, missing, extra, want, r)
	}
}

// unpublished reports whether a verify problem line (its fields) names a
// committed object that a lakehouse table does not list: what verify sees
// between a commit and the publish after it, of a live run or of one
// killed in between, and only then.
func unpublished(fields, committed []string) bool {
	return len(fields) > 1 && fields[0] == "table-missing" && slices.Contains(committed, fields[1])
}

// rebuildUnpublished runs verify after a run was killed between its last
// commit and its publish, where no later run publishes: each problem it
// reports must be an orphan (the invariants' own verify counts those) or
// unpublished, with exit 3; if any is unpublished, it runs strata tables
// rebuild, as verify tells a user to. It returns how many were.
func (w *world) rebuildUnpublished(when string) int {
	w.t.Helper()
	committed := w.committedKeys()
	r := w.strata(nil, "verify")
	missing := 0
	for _, l := range problemLines(r.stdout) {
		f := strings.Fields(l)
		switch {
		case unpublished(f, committed):
			missing++
		case f[0] != "orphan":
			w.t.Errorf("%s: verify reports %s", when, l)
		}
	}
	if len(problemLines(r.stdout)) > 0 && r.code != 3 {
		w.t.Errorf("%s: verify reported problems with exit %d, want 3: %s", when, r.code, r)
	}
	if missing > 0 {
		w.t.Logf("%s: verify named %d object(s) the lakehouse tables do not list yet; tables rebuild", when, missing)
		w.mustSucceed(nil, "tables", "rebuild", "--dataset", dataset)
	}
	return missing
}

// deltaRoot is the folder of the analytics Delta log.
func deltaLog() []string { return []string{prefix, "analytics", dataset, "_delta_log"} }

// deltaListed is what the analytics Delta table lists (testenv's reader).
func (w *world) deltaListed() []string {
	w.t.Helper()
	keys, _ := testenv.DeltaListed(w.t, w.store, strings.Join(deltaLog()[:3], "/"), -1)
	return keys
}

// tamper appends a hand-written commit to the analytics table's log.
func (w *world) tamper(t *testing.T, line string) {
	t.Helper()
	ctx := context.Background()
	v := 0
	for ; ; v++ {
		if _, err := w.store.Stat(ctx, storage.MustKey(append(deltaLog(), fmt.Sprintf("%020d.json", v))...)); err != nil {
			break
		}
	}
	body := []byte(line + "\n")
	sum := sha256.Sum256(body)
	_, err := w.store.Put(ctx, storage.MustKey(append(deltaLog(), fmt.Sprintf("%020d.json", v))...), bytes.NewReader(body),
		storage.PutOptions{Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])})
	if err != nil {
		t.Fatal(err)
	}
}

// removeDeltaLog deletes the analytics table's whole log.
func (w *world) removeDeltaLog(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	var keys []storage.Key
	if err := w.store.List(ctx, storage.MustKey(deltaLog()...), func(oi storage.ObjectInfo) error {
		keys = append(keys, oi.Key)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if err := w.store.Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
}
