// Package faulty wraps a storage.Backend to inject faults on demand: fail the
// Nth call or a fraction of calls with a retryable error (optionally with a
// Retry-After hint, optionally after the call really happened, like a lost
// response), flip bits in what Get returns, or cut a Put's body short. It is
// for tests of the retry layer and of the archive's reliability; production
// code never uses it.
package faulty

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/storage"
)

// Op names a Backend method.
type Op string

// The operations faults can target.
const (
	OpPut          Op = "put"
	OpGet          Op = "get"
	OpGetRange     Op = "get-range"
	OpStat         Op = "stat"
	OpList         Op = "list"
	OpDelete       Op = "delete"
	OpGetVersion   Op = "get-version" // GetVersionRange
	OpCheckRetain  Op = "check-retention"
	OpSetLegalHold Op = "set-legal-hold"
	OpSetRetain    Op = "set-retention"
)

// ErrInjected is wrapped by every error the decorator injects by default, so
// tests can tell injected failures from real ones.
var ErrInjected = errors.New("injected fault")

// errStopList ends a listing early to inject a mid-listing failure.
var errStopList = errors.New("stop listing")

// Options says which faults to inject. The zero Options injects nothing.
type Options struct {
	// Ops limits call failures (FailFirst, FailNth, FailRate) to these
	// operations; empty means all. Calls are counted per matching call.
	Ops []Op
	// FailFirst fails the first n matching calls.
	FailFirst int
	// FailNth fails the matching calls with these 1-based numbers.
	FailNth []int
	// FailRate fails this fraction (0..1) of matching calls at random.
	FailRate float64
	// Rand returns numbers in [0, 1) for FailRate; default math/rand/v2.
	Rand func() float64
	// Err builds the error for a failed call; default a
	// *storage.RetryableError wrapping ErrInjected with RetryAfter.
	Err func(op Op, call int) error
	// RetryAfter is the hint carried by the default error.
	RetryAfter time.Duration
	// AfterCall performs a failing call on the wrapped backend before
	// returning the error, like a response lost after the server acted.
	AfterCall bool
	// CorruptReads flips the lowest bit of the first byte of every Get,
	// GetRange and GetVersionRange body.
	CorruptReads bool
	// ListFailAfter, when positive, makes a List call chosen to fail deliver
	// that many objects first, so the failure comes mid-listing.
	ListFailAfter int
	// BreakReads, when positive, makes every Get, GetRange and
	// GetVersionRange body fail with io.ErrUnexpectedEOF (a dropped
	// connection) after that many bytes.
	BreakReads int64
	// TruncatePuts, when positive, passes only that many bytes of each Put's
	// body to the wrapped backend and then reports EOF (a short upload).
	TruncatePuts int64
}

// Backend is a storage.Backend that injects the faults in its Options.
type Backend struct {
	b    storage.Backend
	opts Options

	mu       sync.Mutex
	calls    map[Op]int
	matched  int
	injected int
}

var _ storage.Backend = (*Backend)(nil)

// Wrap returns b with faults injected as opts say.
func Wrap(b storage.Backend, opts Options) *Backend {
	if opts.Rand == nil {
		opts.Rand = rand.Float64
	}
	if opts.Err == nil {
		after := opts.RetryAfter
		opts.Err = func(op Op, call int) error {
			return &storage.RetryableError{Err: fmt.Errorf("%w: %s call %d", ErrInjected, op, call), After: after}
		}
	}
	return &Backend{b: b, opts: opts, calls: map[Op]int{}}
}

// Calls returns how many times op was called, failed or not.
func (f *Backend) Calls(op Op) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// Injected returns how many call failures were injected.
func (f *Backend) Injected() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.injected
}

// fault counts the call and returns the error to inject, or nil.
func (f *Backend) fault(op Op) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if len(f.opts.Ops) > 0 && !slices.Contains(f.opts.Ops, op) {
		return nil
	}
	f.matched++
	n := f.matched
	fail := n <= f.opts.FailFirst || slices.Contains(f.opts.FailNth, n) ||
		(f.opts.FailRate > 0 && f.opts.Rand() < f.opts.FailRate)
	if !fail {
		return nil
	}
	f.injected++
	return f.opts.Err(op, n)
}

// Caps reports the wrapped backend's capabilities.
func (f *Backend) Caps() storage.Caps { return f.b.Caps() }

// Put may fail, or cut the body short, as configured.
func (f *Backend) Put(ctx context.Context, key storage.Key, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	if f.opts.TruncatePuts > 0 {
		r = io.LimitReader(r, f.opts.TruncatePuts)
	}
	if err := f.fault(OpPut); err != nil {
		if f.opts.AfterCall {
			_, _ = f.b.Put(ctx, key, r, opts) // outcome deliberately lost
		}
		return storage.ObjectInfo{}, err
	}
	return f.b.Put(ctx, key, r, opts)
}

// Get may fail, or corrupt the body, as configured.
func (f *Backend) Get(ctx context.Context, key storage.Key) (io.ReadCloser, error) {
	return f.read(OpGet, func() (io.ReadCloser, error) { return f.b.Get(ctx, key) })
}

// GetRange may fail, or corrupt the body, as configured.
func (f *Backend) GetRange(ctx context.Context, key storage.Key, offset, length int64) (io.ReadCloser, error) {
	return f.read(OpGetRange, func() (io.ReadCloser, error) { return f.b.GetRange(ctx, key, offset, length) })
}

// GetVersionRange may fail, or corrupt the body, as configured.
func (f *Backend) GetVersionRange(ctx context.Context, key storage.Key, versionID string, offset, length int64) (io.ReadCloser, error) {
	return f.read(OpGetVersion, func() (io.ReadCloser, error) {
		return f.b.GetVersionRange(ctx, key, versionID, offset, length)
	})
}

// CheckRetention may fail as configured.
func (f *Backend) CheckRetention(ctx context.Context, mode storage.RetentionMode) error {
	if err := f.fault(OpCheckRetain); err != nil {
		return err
	}
	return f.b.CheckRetention(ctx, mode)
}

// SetLegalHold may fail as configured (after the call when AfterCall).
func (f *Backend) SetLegalHold(ctx context.Context, key storage.Key, on bool) error {
	if err := f.fault(OpSetLegalHold); err != nil {
		if f.opts.AfterCall {
			_ = f.b.SetLegalHold(ctx, key, on) // outcome deliberately lost
		}
		return err
	}
	return f.b.SetLegalHold(ctx, key, on)
}

// SetRetention may fail as configured (after the call when AfterCall).
func (f *Backend) SetRetention(ctx context.Context, key storage.Key, versionID string, r storage.Retention) error {
	if err := f.fault(OpSetRetain); err != nil {
		if f.opts.AfterCall {
			_ = f.b.SetRetention(ctx, key, versionID, r) // outcome deliberately lost
		}
		return err
	}
	return f.b.SetRetention(ctx, key, versionID, r)
}

func (f *Backend) read(op Op, open func() (io.ReadCloser, error)) (io.ReadCloser, error) {
	if err := f.fault(op); err != nil {
		if f.opts.AfterCall {
			if rc, oerr := open(); oerr == nil {
				rc.Close()
			}
		}
		return nil, err
	}
	rc, err := open()
	if err != nil {
		return nil, err
	}
	if f.opts.BreakReads > 0 {
		rc = &breaking{ReadCloser: rc, left: f.opts.BreakReads}
	}
	if f.opts.CorruptReads {
		rc = &corrupting{ReadCloser: rc}
	}
	return rc, nil
}

// breaking fails with io.ErrUnexpectedEOF once left bytes have been read.
type breaking struct {
	io.ReadCloser
	left int64
}

func (b *breaking) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, fmt.Errorf("%w: connection dropped: %w", ErrInjected, io.ErrUnexpectedEOF)
	}
	n, err := b.ReadCloser.Read(p[:min(int64(len(p)), b.left)])
	b.left -= int64(n)
	return n, err
}

// corrupting flips the lowest bit of the first byte it returns.
type corrupting struct {
	io.ReadCloser
	done bool
}

func (c *corrupting) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	if n > 0 && !c.done {
		p[0] ^= 1
		c.done = true
	}
	return n, err
}

// Stat may fail as configured.
func (f *Backend) Stat(ctx context.Context, key storage.Key) (storage.ObjectInfo, error) {
	if err := f.fault(OpStat); err != nil {
		return storage.ObjectInfo{}, err
	}
	return f.b.Stat(ctx, key)
}

// List may fail as configured (before listing anything).
func (f *Backend) List(ctx context.Context, prefix storage.Key, fn func(storage.ObjectInfo) error) error {
	err := f.fault(OpList)
	if err == nil {
		return f.b.List(ctx, prefix, fn)
	}
	if f.opts.ListFailAfter <= 0 {
		return err
	}
	n := 0
	lerr := f.b.List(ctx, prefix, func(info storage.ObjectInfo) error {
		if n == f.opts.ListFailAfter {
			return errStopList
		}
		n++
		return fn(info)
	})
	if lerr != nil && !errors.Is(lerr, errStopList) {
		return lerr
	}
	return err
}

// Delete may fail as configured.
func (f *Backend) Delete(ctx context.Context, key storage.Key) error {
	if err := f.fault(OpDelete); err != nil {
		if f.opts.AfterCall {
			_ = f.b.Delete(ctx, key) // outcome deliberately lost
		}
		return err
	}
	return f.b.Delete(ctx, key)
}
