package storage_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/faulty"
	"github.com/stratahq/strata/internal/storage/local"
)

// fakeClock records the waits the retry layer asks for and advances time by
// them instead of sleeping.
type fakeClock struct {
	now   time.Time
	waits []time.Duration
}

func (c *fakeClock) Now() time.Time { return c.now }

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}

// policy returns a policy on clock whose jitter always picks the bound, so
// waits are predictable: 100ms, 200ms, 400ms, ... capped at 10s.
func policy(clock *fakeClock) storage.RetryPolicy {
	return storage.RetryPolicy{
		MaxAttempts:    5,
		InitialBackoff: 100 * time.Millisecond,
		MaxBackoff:     10 * time.Second,
		MaxElapsed:     time.Minute,
		Sleep:          clock.Sleep,
		Now:            clock.Now,
		Jitter:         func(max time.Duration) time.Duration { return max },
	}
}

// setup returns a real local backend wrapped in faults and then in retries.
func setup(t *testing.T, opts faulty.Options) (storage.Backend, *faulty.Backend, *fakeClock) {
	t.Helper()
	lb, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatalf("open local backend: %v", err)
	}
	t.Cleanup(func() { lb.Close() })
	f := faulty.Wrap(lb, opts)
	clock := &fakeClock{now: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)}
	return storage.WithRetry(f, policy(clock)), f, clock
}

func optsFor(p []byte) storage.PutOptions {
	sum := sha256.Sum256(p)
	return storage.PutOptions{Size: int64(len(p)), SHA256: hex.EncodeToString(sum[:])}
}

func mustPut(t *testing.T, b storage.Backend, key storage.Key, p []byte) {
	t.Helper()
	if _, err := b.Put(t.Context(), key, bytes.NewReader(p), optsFor(p)); err != nil {
		t.Fatalf("Put %s: %v", key, err)
	}
}

// readAll opens a body and reads it whole, failing the test on error.
func readAll(t *testing.T, open func() (io.ReadCloser, error)) []byte {
	t.Helper()
	rc, err := open()
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer rc.Close()
	p, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return p
}

func TestRetryRetriesTransientFailuresUntilTheCallSucceeds(t *testing.T) {
	b, f, clock := setup(t, faulty.Options{Ops: []faulty.Op{faulty.OpPut}, FailFirst: 3})
	key := storage.MustKey("a", "b")
	p := []byte("hello")
	mustPut(t, b, key, p)
	if got := f.Calls(faulty.OpPut); got != 4 {
		t.Errorf("Put reached the backend %d times, want 4", got)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
	if fmt.Sprint(clock.waits) != fmt.Sprint(want) {
		t.Errorf("waits = %v, want doubling %v", clock.waits, want)
	}
	if got := readAll(t, func() (io.ReadCloser, error) { return b.Get(t.Context(), key) }); !bytes.Equal(got, p) {
		t.Errorf("Get = %q, want %q", got, p)
	}
}

func TestRetryGivesUpAtOnceOnPermanentErrors(t *testing.T) {
	enospc := func(faulty.Op, int) error {
		return fmt.Errorf("write: %w", &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC})
	}
	p := []byte("data")
	bad := optsFor(p)
	bad.SHA256 = strings.Repeat("0", 64)
	tests := []struct {
		name string
		opts faulty.Options
		call func(t *testing.T, b storage.Backend) error
		want error
	}{
		{"a missing object", faulty.Options{}, func(t *testing.T, b storage.Backend) error {
			_, err := b.Stat(t.Context(), storage.MustKey("missing"))
			return err
		}, storage.ErrNotExist},
		{"an existing object", faulty.Options{}, func(t *testing.T, b storage.Backend) error {
			mustPut(t, b, storage.MustKey("x"), p)
			_, err := b.Put(t.Context(), storage.MustKey("x"), bytes.NewReader(p), optsFor(p))
			return err
		}, storage.ErrExist},
		{"a checksum mismatch", faulty.Options{}, func(t *testing.T, b storage.Backend) error {
			_, err := b.Put(t.Context(), storage.MustKey("x"), bytes.NewReader(p), bad)
			return err
		}, storage.ErrChecksum},
		{"a truncated upload", faulty.Options{TruncatePuts: 2}, func(t *testing.T, b storage.Backend) error {
			_, err := b.Put(t.Context(), storage.MustKey("x"), bytes.NewReader(p), optsFor(p))
			return err
		}, storage.ErrChecksum},
		{"a full disk", faulty.Options{FailFirst: 1, Err: enospc}, func(t *testing.T, b storage.Backend) error {
			_, err := b.Stat(t.Context(), storage.MustKey("x"))
			return err
		}, syscall.ENOSPC},
	}
	for _, tc := range tests {
		t.Run("the retry layer does not retry "+tc.name, func(t *testing.T) {
			b, _, clock := setup(t, tc.opts)
			err := tc.call(t, b)
			if !errors.Is(err, tc.want) {
				t.Errorf("got %v, want %v", err, tc.want)
			}
			if len(clock.waits) != 0 {
				t.Errorf("waited %v before giving up, want no retry", clock.waits)
			}
		})
	}
}

func TestRetryWaitsAtLeastTheRetryAfterHint(t *testing.T) {
	b, f, clock := setup(t, faulty.Options{FailFirst: 2, RetryAfter: 7 * time.Second})
	if _, err := b.Stat(t.Context(), storage.MustKey("x")); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("Stat: got %v, want ErrNotExist after the injected failures", err)
	}
	want := []time.Duration{7 * time.Second, 7 * time.Second}
	if fmt.Sprint(clock.waits) != fmt.Sprint(want) {
		t.Errorf("waits = %v, want %v", clock.waits, want)
	}
	if f.Calls(faulty.OpStat) != 3 {
		t.Errorf("Stat reached the backend %d times, want 3", f.Calls(faulty.OpStat))
	}
}

func TestRetryStopsWhenTheContextIsCancelled(t *testing.T) {
	lb, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	f := faulty.Wrap(lb, faulty.Options{FailFirst: 100})
	ctx, cancel := context.WithCancel(t.Context())
	p := storage.RetryPolicy{Sleep: func(ctx context.Context, d time.Duration) error {
		cancel() // the caller gives up while we wait
		<-ctx.Done()
		return ctx.Err()
	}}
	_, err = storage.WithRetry(f, p).Stat(ctx, storage.MustKey("x"))
	if !errors.Is(err, context.Canceled) || !errors.Is(err, faulty.ErrInjected) {
		t.Errorf("got %v, want context.Canceled together with the last error", err)
	}
	if f.Calls(faulty.OpStat) != 1 {
		t.Errorf("Stat reached the backend %d times after cancel, want 1", f.Calls(faulty.OpStat))
	}
}

func TestRetryCapsAttemptsAndTotalTime(t *testing.T) {
	t.Run("attempts are capped at MaxAttempts", func(t *testing.T) {
		b, f, _ := setup(t, faulty.Options{FailFirst: 100})
		_, err := b.Stat(t.Context(), storage.MustKey("x"))
		if !errors.Is(err, faulty.ErrInjected) || !strings.Contains(err.Error(), "gave up after 5 attempts") {
			t.Errorf("got %v, want the injected error after 5 attempts", err)
		}
		if f.Calls(faulty.OpStat) != 5 {
			t.Errorf("Stat reached the backend %d times, want 5", f.Calls(faulty.OpStat))
		}
	})
	t.Run("a wait that would pass MaxElapsed is not made", func(t *testing.T) {
		b, f, clock := setup(t, faulty.Options{FailFirst: 100, RetryAfter: 40 * time.Second})
		_, err := b.Stat(t.Context(), storage.MustKey("x"))
		if !errors.Is(err, faulty.ErrInjected) || !strings.Contains(err.Error(), "limit") {
			t.Errorf("got %v, want the injected error and the time limit named", err)
		}
		if f.Calls(faulty.OpStat) != 2 || len(clock.waits) != 1 {
			t.Errorf("calls %d, waits %v; want 2 calls and one 40s wait inside the 1m limit", f.Calls(faulty.OpStat), clock.waits)
		}
	})
}

func TestRetryBackoffIsJitteredUnderADoublingCappedBound(t *testing.T) {
	lb, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	clock := &fakeClock{now: time.Unix(0, 0)}
	var bounds []time.Duration
	p := policy(clock)
	p.MaxAttempts, p.MaxBackoff = 8, time.Second
	p.Jitter = func(max time.Duration) time.Duration { bounds = append(bounds, max); return max / 2 }
	_, _ = storage.WithRetry(faulty.Wrap(lb, faulty.Options{FailFirst: 100}), p).Stat(t.Context(), storage.MustKey("x"))
	want := "[100ms 200ms 400ms 800ms 1s 1s 1s]"
	if fmt.Sprint(bounds) != want {
		t.Errorf("jitter bounds = %v, want %s", bounds, want)
	}
	if fmt.Sprint(clock.waits) != "[50ms 100ms 200ms 400ms 500ms 500ms 500ms]" {
		t.Errorf("waits = %v, want the jittered values", clock.waits)
	}
}
