package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/faulty"
)

// ordersSpec is the archive spec strata.yaml gives the dataset.
var ordersSpec = archive.AnalyticsSpec{
	Dataset: dataset, Table: table, TimeColumn: timeColumn, Key: []string{keyColumn},
	Retention: 90 * 24 * time.Hour, ArchiveRetention: 7 * 365 * 24 * time.Hour, Compression: "snappy",
	RowGroupRows: config.DefaultRowGroupRows,
}

// archiveInProcess runs one archive of the dataset through store, the way
// `strata archive` does but in this process, so the storage can be wrapped;
// then, as the Service does after its commits, it publishes the lakehouse
// tables (strata tables rebuild, through the real storage).
func (w *world) archiveInProcess(store storage.Backend) (archive.Report, error) {
	w.t.Helper()
	defer w.mustSucceed(nil, "tables", "rebuild", "--dataset", dataset)
	ctx := context.Background()
	cat, err := catalog.Open(ctx, w.pool)
	if err != nil {
		w.t.Fatalf("open catalog: %v", err)
	}
	a := &archive.Archiver{Pool: w.pool, Catalog: cat, Store: store, Prefix: storage.MustKey(prefix),
		SpoolDir: w.dir}
	w.archiveRuns++
	return a.Analytics(ctx, ordersSpec, archive.Options{})
}

// fastRetries is the production retry layer with short waits, counting retries.
func fastRetries(t *testing.T, b storage.Backend, retries *atomic.Int64) storage.Backend {
	return storage.WithRetry(b, storage.RetryPolicy{
		MaxAttempts: 12, InitialBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond,
		OnRetry: func(op string, key storage.Key, attempt int, _ time.Duration, err error) {
			retries.Add(1)
			t.Logf("retry %s %s (attempt %d): %v", op, key, attempt, err)
		},
	})
}

// TestRetryableStorageFaultsAreRetriedAway fails 30% of the archive's Put and
// Stat calls with a retryable error, in one variant after the call really
// happened (a lost response: the upload landed): the run completes through
// the retry layer and the invariants hold.
func TestRetryableStorageFaultsAreRetriedAway(t *testing.T) {
	for i, backend := range backends {
		for j, lost := range []bool{false, true} {
			name := backend + "/before the call"
			if lost {
				name = backend + "/response lost after the call"
			}
			t.Run(name, func(t *testing.T) {
				retryableFaults(t, backend, lost, fmt.Sprintf("4-0-%d-%d", j, i))
			})
		}
	}
}

func retryableFaults(t *testing.T, backend string, lostResponse bool, order string) {
	start := time.Now()
	rng := rand.New(rand.NewPCG(seed(t), 1))
	w := newWorld(t, backend)
	w.createOrders(100, 500)
	w.takeReference()
	var retries atomic.Int64
	f := faulty.Wrap(w.store, faulty.Options{
		Ops: []faulty.Op{faulty.OpPut, faulty.OpStat}, FailRate: 0.3, Rand: rng.Float64,
		AfterCall: lostResponse, RetryAfter: time.Millisecond,
	})
	rep, err := w.archiveInProcess(fastRetries(t, f, &retries))
	if err != nil {
		t.Fatalf("archive through retryable faults: %v", err)
	}
	if f.Injected() == 0 || retries.Load() < int64(f.Injected()) {
		t.Errorf("injected %d faults, the retry layer retried %d calls", f.Injected(), retries.Load())
	}
	if len(rep.Days) != 9 {
		t.Errorf("archived %d days, want 9", len(rep.Days))
	}
	t.Logf("%d Put and %d Stat calls, %d failed, %d retried", f.Calls(faulty.OpPut), f.Calls(faulty.OpStat), f.Injected(), retries.Load())
	o := w.checkInvariants()
	scenario := "30% of Put/Stat fail (retryable)"
	if lostResponse {
		scenario = "30% of Put/Stat fail after the call (response lost)"
	}
	figures.add(t, w.figure(order, scenario, o, int(retries.Load()), start))
}

// TestPermanentStorageFailureDeletesNothingUnarchived makes the third upload
// fail with a permanent error: the run stops with an error, commits no day
// (the days of a run commit together, since issue 15; before, the two days
// uploaded first were committed), deletes no row, and a later run without
// faults finishes the job, adopting the uploads of the failed one.
func TestPermanentStorageFailureDeletesNothingUnarchived(t *testing.T) {
	start := time.Now()
	w := newWorld(t, backendLocal)
	w.createOrders(100, 500)
	w.takeReference()
	denied := errors.New("403 AuthorizationPermissionMismatch")
	f := faulty.Wrap(w.store, faulty.Options{Ops: []faulty.Op{faulty.OpPut}, FailNth: []int{3},
		Err: func(op faulty.Op, n int) error { return fmt.Errorf("%w: %s %d: %w", faulty.ErrInjected, op, n, denied) }})
	var retries atomic.Int64
	rep, err := w.archiveInProcess(fastRetries(t, f, &retries))
	if !errors.Is(err, denied) {
		t.Fatalf("want the run to fail with the permanent error, got %v", err)
	}
	if retries.Load() != 0 {
		t.Errorf("a permanent error was retried %d times", retries.Load())
	}
	if len(rep.Days) != 0 || w.committedObjects() != 0 {
		t.Errorf("want no day committed by the failed run: report %d days, catalog %d objects", len(rep.Days), w.committedObjects())
	}
	if lost := w.count(`SELECT count(*) FROM (SELECT * FROM ref EXCEPT ALL SELECT * FROM ` + table + `) x`); lost != 0 {
		t.Errorf("%d rows left the table, want none", lost)
	}
	if n := len(w.storedKeys()); n != 2 {
		t.Errorf("storage holds %d objects after the failed upload, want the 2 uploaded before it", n)
	}
	// Without the fault, the uploads and the failed day's intent are
	// adopted: the same rows make the same bytes. (In process: the test
	// binary's Parquet files differ from the strata binary's in the
	// writer's created_by field.)
	rep, err = w.archiveInProcess(w.store)
	if err != nil {
		t.Fatalf("archive without faults: %v", err)
	}
	if len(rep.Days) != 9 || !rep.Days[0].Adopted || !rep.Days[1].Adopted || !rep.Days[2].Adopted {
		t.Errorf("the clean run should archive the 9 days, adopting the first 3 (2 uploads, 1 intent): %+v", rep.Days)
	}
	o := w.checkInvariants()
	figures.add(t, w.figure("4-1", "3rd Put fails permanently, then a clean run", o, 1, start))
}
