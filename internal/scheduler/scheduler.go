package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/actor"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/metrics"
)

// Runner runs the lifecycle jobs; *strata.Service is one. Tests wrap a
// Service to count calls or inject failures.
type Runner interface {
	ArchiveSource(ctx context.Context, dataset string, opts archive.SourceOptions) (archive.Report, error)
	ArchiveAnalytics(ctx context.Context, dataset string, opts archive.Options) (archive.Report, error)
	Purge(ctx context.Context, dataset string, dryRun bool) (strata.PurgeReport, error)
}

var _ Runner = (*strata.Service)(nil)

// The job names, the job label of the lifecycle metrics.
const (
	JobSourceArchive    = "source_archive"
	JobAnalyticsArchive = "analytics_archive"
	JobPurge            = "purge"
)

// OutcomeCancelled is the last outcome, in Status only, of a run that
// shutdown interrupted. Such a run is not counted in the job metrics: it
// neither succeeded nor failed.
const OutcomeCancelled = "cancelled"

// Defaults for Options left zero.
const (
	DefaultMaxJitter = time.Minute
	DefaultRetryMin  = 5 * time.Second
)

// ErrStarted is returned by a second call of Run.
var ErrStarted = errors.New("scheduler: Run was called already")

// Options configure a Scheduler. Every field may be left zero.
type Options struct {
	// Logger receives one line per run; nothing is logged when nil.
	Logger *slog.Logger
	// Metrics receives job outcomes and archived totals; may be nil.
	Metrics *metrics.Metrics
	// Jitter returns the delay before a job's first run given its
	// interval. Nil means a random delay up to 10% of the interval, at
	// most DefaultMaxJitter. Tests return 0 to start at once.
	Jitter func(interval time.Duration) time.Duration
	// RetryMin is the delay before the first retry of a failed run; it
	// doubles with each further failure up to the job's interval.
	// Default DefaultRetryMin.
	RetryMin time.Duration
}

// Scheduler runs the lifecycle jobs of every configured dataset. Status is
// safe for concurrent use; Run may be called once.
type Scheduler struct {
	runner   Runner
	log      *slog.Logger
	met      *metrics.Metrics
	jitter   func(time.Duration) time.Duration
	retryMin time.Duration
	jobs     []*job
	started  atomic.Bool
	done     chan struct{}
}

// New plans the jobs of every dataset in cfg: source_archive when it has a
// source table, analytics_archive when it has an analytics table, purge
// always. Intervals come from each Dataset.Schedule (config defaults where
// unset). New starts nothing; whether serve runs it at all is
// cfg.Server.Scheduler's business, decided by the caller.
func New(svc Runner, cfg *config.Config, opts Options) *Scheduler {
	s := &Scheduler{runner: svc, log: opts.Logger, met: opts.Metrics, jitter: opts.Jitter,
		retryMin: opts.RetryMin, done: make(chan struct{})}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.jitter == nil {
		s.jitter = defaultJitter
	}
	if s.retryMin <= 0 {
		s.retryMin = DefaultRetryMin
	}
	for i := range cfg.Datasets {
		s.jobs = append(s.jobs, datasetJobs(svc, &cfg.Datasets[i])...)
	}
	return s
}

// datasetJobs lists one dataset's jobs in a fixed order.
func datasetJobs(r Runner, ds *config.Dataset) []*job {
	var jobs []*job
	if ds.Source != nil {
		jobs = append(jobs, newJob(ds.Name, JobSourceArchive,
			interval(ds.Schedule.SourceArchive, config.DefaultSourceSchedule), sourceRun(r, ds.Name)))
	}
	if ds.Analytics != nil {
		jobs = append(jobs, newJob(ds.Name, JobAnalyticsArchive,
			interval(ds.Schedule.AnalyticsArchive, config.DefaultAnalyticsSched), analyticsRun(r, ds.Name)))
	}
	return append(jobs, newJob(ds.Name, JobPurge,
		interval(ds.Schedule.Purge, config.DefaultPurgeSchedule), purgeRun(r, ds.Name)))
}

// interval is d, or def when d is unset (a configuration built by hand).
func interval(d config.Duration, def time.Duration) time.Duration {
	if v := d.Duration(); v > 0 {
		return v
	}
	return def
}

// Run runs every job on its schedule until ctx is cancelled, then cancels
// the runs in flight (their transactions roll back) and returns once every
// job has finished; Done is closed then. It returns nil, or ErrStarted when
// called twice.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return ErrStarted
	}
	defer close(s.done)
	// The audit trail records the jobs' actions as the scheduler's.
	ctx = actor.With(ctx, actor.Actor{Name: "scheduler", Via: actor.ViaScheduler})
	s.log.Info("scheduler started", "jobs", len(s.jobs))
	var wg sync.WaitGroup
	for _, j := range s.jobs {
		wg.Go(func() { s.loop(ctx, j) })
	}
	<-ctx.Done()
	wg.Wait()
	s.log.Info("scheduler stopped")
	return nil
}

// Done returns a channel closed when Run has returned. To bound shutdown:
//
//	cancel()
//	select {
//	case <-sched.Done():
//	case <-time.After(shutdownTimeout):
//		// abandon the runs still in flight
//	}
//
// It is never closed if Run is never called.
func (s *Scheduler) Done() <-chan struct{} { return s.done }

// JobStatus is the state of one job, for the console.
type JobStatus struct {
	Dataset  string
	Job      string // source_archive, analytics_archive or purge
	Interval time.Duration
	// Running is true while a run is in flight (since LastStart).
	Running bool
	// LastStart and LastEnd bound the last run; zero before the first.
	LastStart, LastEnd time.Time
	// LastOutcome is ok, error, skipped, cancelled, or "" before the first
	// run ends.
	LastOutcome string
	// LastError is the last run's error; "" unless LastOutcome is error.
	LastError string
	// SkipReason says why the last run did nothing on purpose (another
	// process holds the dataset, no rows wait); "" unless skipped.
	SkipReason string
	// Failures counts the runs that failed in a row; 0 after a success.
	Failures int
	// NextRun is when the next run starts; zero while a run is in flight
	// or the scheduler is not running.
	NextRun time.Time
	// Rows and Bytes are the last run's: rows and bytes archived, or for
	// purge the Layer 3 rows deleted (Bytes 0).
	Rows, Bytes int64
}

// Status returns every job's state, dataset by dataset in configuration
// order. It is safe for concurrent use, also while Run runs.
func (s *Scheduler) Status() []JobStatus {
	out := make([]JobStatus, len(s.jobs))
	for i, j := range s.jobs {
		out[i] = j.status()
	}
	return out
}

// defaultJitter is a random delay up to 10% of the interval, capped.
func defaultJitter(interval time.Duration) time.Duration {
	limit := min(interval/10, DefaultMaxJitter)
	if limit <= 0 {
		return 0
	}
	return rand.N(limit)
}

// retryDelay is the wait after a run: the interval after a success, and
// after the n-th failure in a row base·2^(n-1), capped at the interval.
func retryDelay(interval, base time.Duration, failures int) time.Duration {
	if failures <= 0 || base >= interval {
		return interval
	}
	d := base
	for i := 1; i < failures && d < interval; i++ {
		d *= 2
	}
	return min(d, interval)
}
