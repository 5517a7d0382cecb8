// Package scheduler runs each dataset's lifecycle jobs for `strata serve`:
//
//   - source_archive (datasets with a source table): archive the Layer 3
//     rows other programs wrote, every Schedule.SourceArchive;
//   - analytics_archive (datasets with an analytics table): move Layer 2
//     rows past retention to the archive, every Schedule.AnalyticsArchive;
//   - purge (every dataset): delete archived Layer 3 rows past retention
//     and expire archive objects, every Schedule.Purge.
//
// # Timing
//
// Each job has a goroutine of its own. The first run waits a small random
// jitter (up to 10% of the interval, at most a minute), so processes started
// together do not all fire at the same instant; every later run starts one
// interval after the previous run ended. A job therefore never overlaps
// itself within a process, and a run longer than its interval only delays
// the next. After a failure the job is retried sooner, with exponential
// backoff from Options.RetryMin doubling up to the interval, so a transient
// error is retried quickly and a broken database is asked no more often than
// the schedule says.
//
// # Several processes
//
// The scheduler holds no locks of its own and coordinates nothing: several
// serve processes against one database share the work safely because the
// archive code does. Analytics runs take a per-dataset advisory lock and
// skip the run (outcome "skipped") while another process holds it; source
// runs claim rows with FOR UPDATE SKIP LOCKED, so two processes archive
// disjoint batches; purge deletes only rows that are archived and expiry
// marks an object expired before deleting it. No row is archived twice,
// whichever process runs first.
//
// # Shutdown
//
// Run returns once its context is cancelled and every job goroutine has
// finished. A run in flight gets the cancellation through its context: the
// archive code rolls back its open transaction, so rows of an unfinished
// batch stay in the database (an object it had uploaded is marked orphaned
// and adopted or cleaned later) and nothing is lost or half-committed.
// Batches committed before the cancellation stay committed. Done lets a
// caller bound the wait (serve waits up to server.shutdown_timeout).
package scheduler
