package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/metrics"
)

// result is what one run did, whatever the job.
type result struct {
	archiveType string // analytics or source; "" for purge
	rows, bytes int64
	objects     int64
	skipped     string
	quarantined int64 // source records the transform refused, stored unprocessed
	attrs       []any // extra log attributes
	did         bool  // the run changed something (logged at info)
}

// job is one dataset's job: what it runs, how often, and its last state.
type job struct {
	dataset, name string
	interval      time.Duration
	run           func(context.Context) (result, error)

	mu sync.Mutex
	st JobStatus
}

func newJob(dataset, name string, every time.Duration, run func(context.Context) (result, error)) *job {
	return &job{dataset: dataset, name: name, interval: every, run: run,
		st: JobStatus{Dataset: dataset, Job: name, Interval: every}}
}

func (j *job) status() JobStatus {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.st
}

func (j *job) update(f func(*JobStatus)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	f(&j.st)
}

// loop runs j until ctx is cancelled: the first run after the jitter, each
// next one an interval (or a retry delay) after the previous one ended.
func (s *Scheduler) loop(ctx context.Context, j *job) {
	wait := s.jitter(j.interval)
	for {
		j.update(func(st *JobStatus) { st.NextRun = time.Now().Add(wait) })
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			j.update(func(st *JobStatus) { st.NextRun = time.Time{} })
			return
		case <-t.C:
		}
		failures := s.runOnce(ctx, j)
		if ctx.Err() != nil {
			return
		}
		wait = retryDelay(j.interval, s.retryMin, failures)
	}
}

// runOnce runs j once, records the outcome in its status, the metrics and
// the log, and returns the failures in a row.
func (s *Scheduler) runOnce(ctx context.Context, j *job) int {
	start := time.Now()
	j.update(func(st *JobStatus) { st.Running, st.LastStart, st.NextRun = true, start, time.Time{} })
	res, err := call(ctx, j)
	end := time.Now()
	outcome := metrics.OutcomeOK
	switch {
	case err != nil && ctx.Err() != nil:
		outcome = OutcomeCancelled
	case err != nil:
		outcome = metrics.OutcomeError
	case res.skipped != "":
		outcome = metrics.OutcomeSkipped
	}
	var failures int
	j.update(func(st *JobStatus) {
		st.Running, st.LastEnd, st.LastOutcome = false, end, outcome
		st.Rows, st.Bytes, st.SkipReason, st.LastError = res.rows, res.bytes, res.skipped, ""
		switch outcome {
		case metrics.OutcomeError:
			st.LastError, st.Failures = err.Error(), st.Failures+1
		case metrics.OutcomeOK, metrics.OutcomeSkipped:
			st.Failures = 0
		}
		failures = st.Failures
	})
	s.record(j, res, outcome, err, end.Sub(start), end, failures)
	return failures
}

// call runs j, turning a panic into an error so that one dataset's bug
// neither stops the other jobs nor the server; the archive code's deferred
// rollbacks have run by then.
func call(ctx context.Context, j *job) (res result, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v\n%s", p, debug.Stack())
		}
	}()
	return j.run(ctx)
}

// record reports one run to the metrics and the log. Objects committed
// before an error or a cancellation are counted: they are in the archive.
func (s *Scheduler) record(j *job, res result, outcome string, err error, d time.Duration, end time.Time, failures int) {
	if res.archiveType != "" && res.objects > 0 {
		s.met.Archived(j.dataset, res.archiveType, res.rows, res.bytes, res.objects)
	}
	s.met.TransformFailed(j.dataset, "quarantined", res.quarantined)
	attrs := append([]any{"dataset", j.dataset, "job", j.name, "duration", d.Round(time.Millisecond),
		"rows", res.rows, "bytes", res.bytes, "objects", res.objects}, res.attrs...)
	switch outcome {
	case OutcomeCancelled:
		s.log.Info("lifecycle job interrupted by shutdown; its open batch rolled back", attrs...)
		return
	case metrics.OutcomeError:
		s.met.Error("scheduler")
		attrs = append(attrs, "error", err.Error(), "failures", failures,
			"retry_in", retryDelay(j.interval, s.retryMin, failures))
		s.log.Error("lifecycle job failed", attrs...)
	case metrics.OutcomeSkipped:
		s.log.Debug("lifecycle job skipped", append(attrs, "reason", res.skipped)...)
	default:
		level := slog.LevelDebug
		if res.did {
			level = slog.LevelInfo
		}
		s.log.Log(context.Background(), level, "lifecycle job ran", attrs...)
	}
	s.met.JobRun(j.dataset, j.name, outcome, d, end)
}

// reportResult summarises an archive report.
func reportResult(typ string, rep archive.Report) result {
	r := result{archiveType: typ, rows: rep.Rows(), bytes: rep.Bytes(), objects: int64(len(rep.Days)),
		skipped: rep.Skipped, quarantined: rep.Quarantined}
	r.did = r.rows > 0 || r.objects > 0
	if rep.Orphaned > 0 {
		r.attrs = append(r.attrs, "orphaned", rep.Orphaned)
	}
	if rep.Quarantined > 0 {
		r.attrs = append(r.attrs, "quarantined", rep.Quarantined)
	}
	return r
}

func sourceRun(r Runner, dataset string) func(context.Context) (result, error) {
	return func(ctx context.Context) (result, error) {
		rep, err := r.ArchiveSource(ctx, dataset, archive.SourceOptions{})
		return reportResult(catalog.TypeSource, rep), err
	}
}

func analyticsRun(r Runner, dataset string) func(context.Context) (result, error) {
	return func(ctx context.Context) (result, error) {
		rep, err := r.ArchiveAnalytics(ctx, dataset, archive.Options{})
		return reportResult(catalog.TypeAnalytics, rep), err
	}
}

func purgeRun(r Runner, dataset string) func(context.Context) (result, error) {
	return func(ctx context.Context) (result, error) {
		rep, err := r.Purge(ctx, dataset, false)
		res := result{rows: rep.Layer3.Purged,
			attrs: []any{"expired", len(rep.Expiry.Expired), "retention_locked", len(rep.Expiry.Locked)}}
		if rep.Layer3.NotArchived > 0 || rep.Layer3.NotProcessed > 0 {
			res.attrs = append(res.attrs, "kept_not_archived", rep.Layer3.NotArchived,
				"kept_not_processed", rep.Layer3.NotProcessed, "kept_quarantined", rep.Layer3.Quarantined)
		}
		if len(rep.Expiry.Held) > 0 {
			res.attrs = append(res.attrs, "kept_legal_hold", len(rep.Expiry.Held))
		}
		res.did = res.rows > 0 || len(rep.Expiry.Expired) > 0
		return res, err
	}
}
