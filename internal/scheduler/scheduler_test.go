package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/metrics"
	"github.com/stratahq/strata/internal/scheduler"
)

const fast = 200 * time.Millisecond

func debugLogger(buf *logBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestTheSchedulerArchivesLayer3AndOldLayer2RowsExactlyOnce(t *testing.T) {
	f := newFixture(t, setup{batchRows: 50, sourceRetention: "7d"})
	f.insertSource(537)
	reg := prometheus.NewRegistry()
	var logs logBuffer
	cfg := f.config(fast, fast, fast)
	svc := f.service(cfg)
	s := scheduler.New(svc, cfg, scheduler.Options{Metrics: metrics.New(reg), Logger: debugLogger(&logs), Jitter: noJitter})

	stop := start(t, s)
	waitFor(t, 30*time.Second, "every row archived", func() bool {
		return f.Count(pendingSQL) == 0 && f.Count(oldLeftSQL) == 0
	})
	time.Sleep(3 * fast) // a few more runs, which must find nothing
	stop()

	f.checkSourceOnce(svc, 537)
	f.checkAnalyticsOnce(svc)
	if got := metric(t, reg, "strata_archived_rows_total", map[string]string{"type": "source"}); got != 537 {
		t.Errorf("strata_archived_rows_total{type=source} = %v, want 537", got)
	}
	if got := metric(t, reg, "strata_archived_rows_total", map[string]string{"type": "analytics"}); got != float64(f.oldRows) {
		t.Errorf("strata_archived_rows_total{type=analytics} = %v, want %d", got, f.oldRows)
	}
	if n := metric(t, reg, "strata_errors_total", nil); n != 0 {
		t.Errorf("%v errors counted, want none", n)
	}
	if n := len(logs.lines(t, map[string]any{"level": "INFO", "msg": "lifecycle job ran", "rows": 0})); n != 0 {
		t.Errorf("%d info lines for runs that did nothing; want them at debug", n)
	}
	if n := len(logs.lines(t, map[string]any{"level": "DEBUG", "job": "purge"})); n == 0 {
		t.Error("no debug line for the empty purge runs")
	}
}

func TestTwoSchedulersOnOneDatabaseShareTheWorkAndArchiveEachRowOnce(t *testing.T) {
	f := newFixture(t, setup{batchRows: 40, sourceRetention: "7d"})
	type proc struct {
		reg   *prometheus.Registry
		svc   *strata.Service
		sched *scheduler.Scheduler
	}
	var procs [2]proc
	for i := range procs { // default jitter: the processes' first runs spread
		cfg := f.config(fast, fast, fast)
		procs[i].reg, procs[i].svc = prometheus.NewRegistry(), f.service(cfg)
		procs[i].sched = scheduler.New(procs[i].svc, cfg, scheduler.Options{Metrics: metrics.New(procs[i].reg)})
	}
	stops := []func() time.Duration{start(t, procs[0].sched), start(t, procs[1].sched)}

	var inserted int64
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) { // another program keeps writing to Layer 3
		n := 1 + rand.IntN(30)
		f.insertSource(n)
		inserted += int64(n)
		time.Sleep(10 * time.Millisecond)
	}
	waitFor(t, 30*time.Second, "every row archived", func() bool {
		return f.Count(pendingSQL) == 0 && f.Count(oldLeftSQL) == 0
	})
	for _, stop := range stops {
		stop()
	}

	f.checkSourceOnce(procs[1].svc, inserted)
	f.checkAnalyticsOnce(procs[0].svc)
	var src, ana [2]float64
	for i, p := range procs {
		src[i] = metric(t, p.reg, "strata_archived_rows_total", map[string]string{"type": "source"})
		ana[i] = metric(t, p.reg, "strata_archived_rows_total", map[string]string{"type": "analytics"})
		if n := metric(t, p.reg, "strata_errors_total", nil); n != 0 {
			t.Errorf("process %d counted %v errors", i, n)
		}
	}
	t.Logf("%d rows inserted; source rows archived by each process %v, analytics rows %v; skipped runs %v and %v",
		inserted, src, ana, metric(t, procs[0].reg, "strata_job_runs_total", map[string]string{"outcome": "skipped"}),
		metric(t, procs[1].reg, "strata_job_runs_total", map[string]string{"outcome": "skipped"}))
	if src[0]+src[1] != float64(inserted) {
		t.Errorf("the processes report %v + %v source rows archived, %d were inserted", src[0], src[1], inserted)
	}
	// One analytics run archives every day under the dataset's lock; the
	// other process's runs were skipped or found nothing.
	if ana[0]+ana[1] != float64(f.oldRows) || ana[0]*ana[1] != 0 {
		t.Errorf("analytics rows archived by each process %v; want all %d by one, none by the other", ana, f.oldRows)
	}
}

// blockingRunner's source runs block until they are cancelled.
type blockingRunner struct {
	scheduler.Runner
	started chan struct{}
	once    sync.Once
}

func (r *blockingRunner) ArchiveSource(ctx context.Context, ds string, _ archive.SourceOptions) (archive.Report, error) {
	r.once.Do(func() { close(r.started) })
	<-ctx.Done()
	return archive.Report{}, fmt.Errorf("archive source %s: %w", ds, ctx.Err())
}

func TestShutdownCancelsTheRunInFlightAndRunReturnsPromptly(t *testing.T) {
	t.Run("a run blocked in the runner", func(t *testing.T) {
		f := newFixture(t, setup{batchRows: 100, sourceRetention: "7d"})
		cfg := f.config(fast, time.Hour, time.Hour)
		r := &blockingRunner{Runner: f.service(cfg), started: make(chan struct{})}
		reg := prometheus.NewRegistry()
		s := scheduler.New(r, cfg, scheduler.Options{Metrics: metrics.New(reg), Jitter: noJitter})
		stop := start(t, s)
		<-r.started
		if st := s.Status()[0]; !st.Running || st.LastStart.IsZero() || !st.NextRun.IsZero() {
			t.Errorf("status of a running job: %+v; want running since LastStart, no next run", st)
		}
		took := stop()
		t.Logf("Run returned %s after cancel", took)
		if took > time.Second {
			t.Errorf("Run took %s to return after cancel", took)
		}
		st := s.Status()[0]
		if st.Running || st.LastOutcome != scheduler.OutcomeCancelled || st.Failures != 0 || !st.NextRun.IsZero() {
			t.Errorf("status after shutdown: %+v; want cancelled, not running, no failure, no next run", st)
		}
		if n := metric(t, reg, "strata_errors_total", nil) + metric(t, reg, "strata_job_runs_total", map[string]string{"job": "source_archive"}); n != 0 {
			t.Errorf("a run cancelled by shutdown was counted (%v); it neither failed nor succeeded", n)
		}
	})
	t.Run("a real archive run of many batches", func(t *testing.T) {
		const rows = 8000
		f := newFixture(t, setup{batchRows: 50, sourceRetention: "7d"})
		f.insertSource(rows)
		cfg := f.config(fast, time.Hour, time.Hour)
		svc := f.service(cfg)
		stop := start(t, scheduler.New(svc, cfg, scheduler.Options{Jitter: noJitter}))
		waitFor(t, 30*time.Second, "a first batch", func() bool {
			return f.Count(`SELECT count(*) FROM strata.source_archived`) > 0
		})
		took := stop()
		marked := f.Count(`SELECT count(*) FROM strata.source_archived`)
		t.Logf("Run returned %s after cancel, with %d of %d rows archived", took, marked, rows)
		if took > 5*time.Second {
			t.Errorf("Run took %s to return after cancel", took)
		}
		ids := f.archived(svc, "source", "raw_id")
		if marked >= rows || int64(len(ids)) != marked || f.catalogRows("source") != marked {
			t.Errorf("after the cancel: %d rows marked archived, %d read back, catalog counts %d (of %d rows, the run should have been cut short)",
				marked, len(ids), f.catalogRows("source"), rows)
		}
		// A new process finishes the work: nothing was lost or left claimed.
		stop = start(t, scheduler.New(svc, cfg, scheduler.Options{Jitter: noJitter}))
		waitFor(t, 60*time.Second, "every row archived", func() bool { return f.Count(pendingSQL) == 0 })
		stop()
		f.checkSourceOnce(svc, rows)
	})
}

// failingRunner's analytics runs fail at once; it records when each began.
type failingRunner struct {
	scheduler.Runner
	mu    sync.Mutex
	calls []time.Time
}

func (r *failingRunner) ArchiveAnalytics(context.Context, string, archive.Options) (archive.Report, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, time.Now())
	return archive.Report{}, errors.New("connection refused (injected)")
}

func TestAFailingJobIsLoggedCountedAndBackedOffWhileTheOthersRun(t *testing.T) {
	const every, retryMin = 800 * time.Millisecond, 50 * time.Millisecond
	f := newFixture(t, setup{batchRows: 50, sourceRetention: "7d"})
	f.insertSource(300)
	cfg := f.config(fast, every, fast)
	svc := f.service(cfg)
	r := &failingRunner{Runner: svc}
	reg := prometheus.NewRegistry()
	var logs logBuffer
	s := scheduler.New(r, cfg, scheduler.Options{Metrics: metrics.New(reg), Logger: debugLogger(&logs),
		Jitter: noJitter, RetryMin: retryMin})
	stop := start(t, s)
	time.Sleep(2500 * time.Millisecond)
	stop()

	f.checkSourceOnce(svc, 300) // the other jobs went on
	if left := f.Count(oldLeftSQL); left != f.oldRows {
		t.Errorf("%d of %d old Layer 2 rows left; the failing job archived nothing", left, f.oldRows)
	}
	st := s.Status()[1]
	r.mu.Lock()
	calls := r.calls
	r.mu.Unlock()
	if st.Job != scheduler.JobAnalyticsArchive || st.LastOutcome != metrics.OutcomeError ||
		!strings.Contains(st.LastError, "injected") || len(calls)-st.Failures > 1 || st.Failures < 5 {
		t.Errorf("status %+v after %d calls; want error, its text, every call a failure in a row", st, len(calls))
	}
	if n := metric(t, reg, "strata_errors_total", map[string]string{"component": "scheduler"}); n != float64(st.Failures) {
		t.Errorf("strata_errors_total{scheduler} = %v, want %d", n, st.Failures)
	}
	if n := metric(t, reg, "strata_job_runs_total", map[string]string{"job": "analytics_archive", "outcome": "error"}); n != float64(st.Failures) {
		t.Errorf("strata_job_runs_total{analytics_archive,error} = %v, want %d", n, st.Failures)
	}
	errLines := logs.lines(t, map[string]any{"level": "ERROR", "dataset": dataset, "job": "analytics_archive"})
	if len(errLines) != st.Failures || !strings.Contains(fmt.Sprint(errLines[0]["error"]), "injected") {
		t.Errorf("%d error log lines for %d failures (first %v)", len(errLines), st.Failures, errLines[0])
	}
	for i := 1; i < len(calls); i++ { // 50ms, 100ms, 200ms, 400ms, 800ms, 800ms...
		want := min(retryMin<<(i-1), every)
		if gap := calls[i].Sub(calls[i-1]); gap < want*9/10 || gap > want+300*time.Millisecond {
			t.Errorf("retry %d came %s after the failure before it, want about %s", i, gap, want)
		}
	}
}

func TestStatusReflectsEachJobsLastRun(t *testing.T) {
	const rows = 120
	f := newFixture(t, setup{batchRows: 1000, sourceRetention: "immediate"})
	f.insertSource(rows)
	cfg := f.config(time.Hour, time.Hour, 2*time.Hour)
	svc := f.service(cfg)
	var logs logBuffer
	s := scheduler.New(svc, cfg, scheduler.Options{Logger: debugLogger(&logs), Jitter: func(iv time.Duration) time.Duration {
		if iv == 2*time.Hour {
			return time.Second // purge after the source batch
		}
		return 0
	}})
	before := s.Status()
	if len(before) != 3 || before[0].Job != "source_archive" || before[1].Job != "analytics_archive" || before[2].Job != "purge" ||
		before[2].Interval != 2*time.Hour || !before[0].LastStart.IsZero() || before[0].LastOutcome != "" {
		t.Fatalf("status before Run: %+v", before)
	}
	stop := start(t, s)
	waitFor(t, 30*time.Second, "a run of each job", func() bool {
		for _, st := range s.Status() {
			if st.LastOutcome == "" {
				return false
			}
		}
		return true
	})
	got := s.Status()
	src, ana, purge := got[0], got[1], got[2]
	for _, st := range got {
		if st.Dataset != dataset || st.LastOutcome != metrics.OutcomeOK || st.Running || st.LastError != "" ||
			st.LastEnd.Before(st.LastStart) || st.NextRun.Sub(st.LastEnd).Round(time.Second) != st.Interval {
			t.Errorf("status %+v; want ok, ended, next run one interval after the end", st)
		}
	}
	if src.Rows != rows || src.Bytes <= 0 || ana.Rows != f.oldRows || ana.Bytes <= 0 {
		t.Errorf("last runs archived %d rows (%d bytes) of Layer 3 and %d rows (%d bytes) of Layer 2; want %d and %d",
			src.Rows, src.Bytes, ana.Rows, ana.Bytes, rows, f.oldRows)
	}
	purgedAfter := purge.LastStart.After(src.LastEnd)
	if purgedAfter && purge.Rows != rows {
		t.Errorf("purge after the source batch deleted %d rows, want %d (retention immediate)", purge.Rows, rows)
	}
	stop()
	if st := s.Status()[0]; !st.NextRun.IsZero() {
		t.Errorf("after shutdown the next run is %s; want none", st.NextRun)
	}
	if n := len(logs.lines(t, map[string]any{"level": "INFO", "job": "source_archive", "rows": rows})); n != 1 {
		t.Errorf("%d info lines for the source run of %d rows, want 1", n, rows)
	}
	if !purgedAfter {
		t.Logf("the source run ended after purge began (a slow machine): purge not checked")
	} else if f.Count(`SELECT count(*) FROM `+sourceTable) != 0 || f.catalogRows("source") != rows {
		t.Errorf("after purge: %d rows in Layer 3, %d in the source archive; want 0 and %d",
			f.Count(`SELECT count(*) FROM `+sourceTable), f.catalogRows("source"), rows)
	}
}
