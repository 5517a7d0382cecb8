// Package intake takes ingest requests for strata serve, the Go API and
// strata ingest. Concurrent requests for one dataset are coalesced into
// group commits: requests that arrive while a batch is being written join
// the next one, up to the dataset's batch limits, waiting at most
// source.group_wait, and each batch is one Layer 3 COPY, one source object
// (per ingestion day), one transform and one commit. A request is answered
// only once the batch holding its records has committed, with its own
// counts. A request sent with an idempotency key is stored at most once: the
// key is recorded in the batch's transaction, and a retry gets the first
// answer.
//
// One committer goroutine per dataset does the batches, one at a time and in
// order of arrival; requests wait for it on channels, holding no database
// connection.
package intake

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/audit"
)

// ErrKeyConflict: the idempotency key was used before for other records.
var ErrKeyConflict = errors.New("idempotency key reused for different records")

// Request is one ingest request, its records already validated.
type Request struct {
	Records *Records
	// Key is the idempotency key ("" for none).
	Key string
	// Audit, when set, is the request's audit record (audit.Pending): it
	// is appended, with the request's counts, in the transaction of the
	// batch that stores its records, so it commits with them.
	Audit *audit.Record
}

// Result is a request's answer.
type Result struct {
	// IngestReport counts this request's records; Objects are the
	// objects its records went into (shared with the other requests of
	// the batch).
	archive.IngestReport
	// Replayed: the answer of an earlier request with the same key;
	// nothing was stored for this one.
	Replayed bool
	// Audited: the request's Audit record was committed with its records
	// (false when nothing was stored, or the request was stored in
	// batches of its own: the caller records it).
	Audited bool
}

// Options tune one dataset's group commits.
type Options struct {
	// GroupWait is the longest a request waits for others to join its
	// batch.
	GroupWait time.Duration
	// KeyWindow is how long idempotency keys are kept.
	KeyWindow time.Duration
}

// Intake runs the committers of a process's datasets.
type Intake struct {
	arch   *archive.Archiver
	trail  *audit.Trail
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	groups map[string]*group
	wg     sync.WaitGroup
}

// New returns an Intake that stores through arch and appends requests'
// audit records to trail (nil: none). Close stops it.
func New(arch *archive.Archiver, trail *audit.Trail) *Intake {
	ctx, cancel := context.WithCancel(context.Background())
	return &Intake{arch: arch, trail: trail, ctx: ctx, cancel: cancel, groups: map[string]*group{}}
}

// Close stops the committers: a batch being written is rolled back, and
// requests still waiting get an error.
func (in *Intake) Close() {
	in.cancel()
	in.wg.Wait()
}

// Submit queues req for spec's dataset and waits for its answer. If ctx
// ends first, Submit returns ctx's error; the request is then dropped if
// its batch has not started, else it is stored with its batch.
func (in *Intake) Submit(ctx context.Context, spec archive.SourceSpec, opts Options, req Request) (Result, error) {
	p := &pending{req: req, spec: spec, opts: opts, ctx: ctx, arrived: time.Now(), done: make(chan outcome, 1)}
	g, err := in.group(spec.Dataset)
	if err != nil {
		return Result{}, err
	}
	select {
	case g.queue <- p:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	case <-in.ctx.Done():
		return Result{}, errClosed
	}
	select {
	case o := <-p.done:
		return o.res, o.err
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

var errClosed = errors.New("intake: closed (the service is shutting down)")

// group returns the dataset's committer, starting it on first use.
func (in *Intake) group(dataset string) (*group, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.ctx.Err() != nil {
		return nil, errClosed
	}
	g := in.groups[dataset]
	if g == nil {
		g = &group{arch: in.arch, trail: in.trail, queue: make(chan *pending, 1024)}
		in.groups[dataset] = g
		in.wg.Add(1)
		go func() {
			defer in.wg.Done()
			g.run(in.ctx)
		}()
	}
	return g, nil
}

// pending is a request waiting for its answer.
type pending struct {
	req     Request
	spec    archive.SourceSpec
	opts    Options
	ctx     context.Context
	arrived time.Time
	done    chan outcome
	// Set while a batch is planned:
	skip   int64    // records stored by an earlier request with the key
	offset int64    // where its records start in the batch
	count  int64    // how many of its records the batch holds
	dupOf  *pending // an earlier request of the batch with the same key
	replay *Result  // the answer recorded for the key
	keyErr error    // the key names other records
	res    Result   // this request's answer once its batch commits
}

type outcome struct {
	res Result
	err error
}

func (p *pending) answer(res Result, err error) {
	p.done <- outcome{res, err}
}
