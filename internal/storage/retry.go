package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"time"
)

// RetryableError marks Err as transient: a 5xx, a 408/429 or a dropped
// connection that a backend translated from its SDK. After, when positive, is
// the server's Retry-After hint. Backends return it (wrapped or not); the one
// retry layer, WithRetry, acts on it.
type RetryableError struct {
	Err   error
	After time.Duration
}

// Error returns Err's message.
func (e *RetryableError) Error() string {
	if e.After > 0 {
		return fmt.Sprintf("%v (retry after %s)", e.Err, e.After)
	}
	return e.Err.Error()
}

// Unwrap returns Err.
func (e *RetryableError) Unwrap() error { return e.Err }

// Retryable reports true: the operation may succeed if tried again.
func (e *RetryableError) Retryable() bool { return true }

// RetryAfter returns the server's hint; zero when there was none.
func (e *RetryableError) RetryAfter() time.Duration { return e.After }

// RetryAfterError is implemented by errors that carry a server's Retry-After
// hint. WithRetry waits at least that long before the next attempt.
type RetryAfterError interface {
	RetryAfter() time.Duration
}

// isSentinel reports whether err is one of the storage sentinels, which are
// never retried: repeating the call cannot change them.
func isSentinel(err error) bool {
	for _, s := range [...]error{ErrNotExist, ErrExist, ErrChecksum, ErrImmutable, ErrInvalidKey} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// IsRetryable reports whether err is transient. In order:
//   - nil, the storage sentinels, context.Canceled and a full disk or quota
//     (ENOSPC, EDQUOT: retrying only adds load) are permanent;
//   - an error in the chain with a Retryable() bool method decides;
//   - io.ErrUnexpectedEOF, connection resets, refusals and broken pipes, and
//     timeouts (net.Error.Timeout, including context.DeadlineExceeded from a
//     per-try timeout) are transient;
//   - anything else is permanent, so unknown failures surface at once.
func IsRetryable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || isSentinel(err) {
		return false
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return false
	}
	var r interface{ Retryable() bool }
	if errors.As(err, &r) {
		return r.Retryable()
	}
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE):
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// RetryPolicy configures WithRetry. Zero fields take the values of
// DefaultRetryPolicy, so RetryPolicy{} is a sensible policy.
type RetryPolicy struct {
	// MaxAttempts bounds the tries per call, the first included.
	MaxAttempts int
	// InitialBackoff is the upper bound of the first wait; it doubles per
	// attempt up to MaxBackoff. Each wait is drawn uniformly from [0, bound]
	// ("full jitter"), so many clients do not retry in lockstep.
	InitialBackoff time.Duration
	// MaxBackoff caps the doubling bound (not a Retry-After hint).
	MaxBackoff time.Duration
	// MaxElapsed caps the total time of one call including waits: a retry
	// whose wait would end past it is not made.
	MaxElapsed time.Duration
	// Sleep waits d or until ctx is done, returning ctx.Err() then. Tests
	// inject a fake that records the waits and returns at once.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for MaxElapsed.
	Now func() time.Time
	// Jitter returns a duration in [0, max]. Tests inject a deterministic one.
	Jitter func(max time.Duration) time.Duration
	// OnRetry, if set, is called before each wait (for logs and metrics).
	OnRetry func(op string, key Key, attempt int, wait time.Duration, err error)
}

// DefaultRetryPolicy returns 8 attempts, waits bounded by 200ms doubling to
// 30s, at most 2 minutes per call, the real clock and math/rand/v2 jitter.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:    8,
		InitialBackoff: 200 * time.Millisecond,
		MaxBackoff:     30 * time.Second,
		MaxElapsed:     2 * time.Minute,
		Sleep:          sleepContext,
		Now:            time.Now,
		Jitter:         fullJitter,
	}
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.InitialBackoff <= 0 {
		p.InitialBackoff = d.InitialBackoff
	}
	if p.MaxBackoff <= 0 {
		p.MaxBackoff = d.MaxBackoff
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = d.MaxElapsed
	}
	if p.Sleep == nil {
		p.Sleep = d.Sleep
	}
	if p.Now == nil {
		p.Now = d.Now
	}
	if p.Jitter == nil {
		p.Jitter = d.Jitter
	}
	return p
}

func sleepContext(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func fullJitter(max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return rand.N(max + 1)
}

// backoff returns the wait after the given failed attempt (1-based): full
// jitter under the doubling bound, but never less than a Retry-After hint.
func (p RetryPolicy) backoff(attempt int, err error) time.Duration {
	bound := p.MaxBackoff
	if attempt-1 < 30 {
		if b := p.InitialBackoff << (attempt - 1); b > 0 && b < bound {
			bound = b
		}
	}
	wait := p.Jitter(bound)
	var ra RetryAfterError
	if errors.As(err, &ra) && ra.RetryAfter() > wait {
		wait = ra.RetryAfter()
	}
	return wait
}

// retrier runs one call under the policy. attempt is 1-based.
type retrier struct {
	p     RetryPolicy
	op    string
	key   Key
	start time.Time
}

func (p RetryPolicy) retrier(op string, key Key) *retrier {
	return &retrier{p: p, op: op, key: key, start: p.Now()}
}

// run calls fn until it succeeds, fails permanently, or the policy's
// attempts or time run out. The returned error keeps fn's error in its chain
// (and ctx's, when the context ended the wait) for errors.Is.
func (r *retrier) run(ctx context.Context, fn func(attempt int) error) error {
	for attempt := 1; ; attempt++ {
		err := fn(attempt)
		if err == nil || !IsRetryable(err) || ctx.Err() != nil {
			return err
		}
		if err := r.wait(ctx, attempt, err); err != nil {
			return err
		}
	}
}

// wait sleeps before the next attempt, or returns the error to give up with.
func (r *retrier) wait(ctx context.Context, attempt int, err error) error {
	elapsed := r.p.Now().Sub(r.start)
	if attempt >= r.p.MaxAttempts {
		return fmt.Errorf("storage %s %s: gave up after %d attempts in %s (raise retry attempts or check the storage service): %w",
			r.op, keyLabel(r.key), attempt, elapsed.Round(time.Millisecond), err)
	}
	d := r.p.backoff(attempt, err)
	if elapsed+d > r.p.MaxElapsed {
		return fmt.Errorf("storage %s %s: gave up after %d attempts in %s, next wait %s would pass the %s limit (raise the retry time limit or check the storage service): %w",
			r.op, keyLabel(r.key), attempt, elapsed.Round(time.Millisecond), d, r.p.MaxElapsed, err)
	}
	if r.p.OnRetry != nil {
		r.p.OnRetry(r.op, r.key, attempt, d, err)
	}
	if serr := r.p.Sleep(ctx, d); serr != nil {
		return fmt.Errorf("storage %s %s: stopped retrying: %w (last error: %w)", r.op, keyLabel(r.key), serr, err)
	}
	return nil
}

func keyLabel(k Key) string {
	if k.IsZero() {
		return "(root)"
	}
	return k.String()
}
