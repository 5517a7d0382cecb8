package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/faulty"
)

func TestRetryPutNeedsASeekableBody(t *testing.T) {
	b, f, _ := setup(t, faulty.Options{Ops: []faulty.Op{faulty.OpPut}, FailFirst: 1})
	p := []byte("stream")
	key := storage.MustKey("s")
	_, err := b.Put(t.Context(), key, io.MultiReader(bytes.NewReader(p)), optsFor(p))
	if !errors.Is(err, faulty.ErrInjected) {
		t.Errorf("Put with an unseekable body: got %v, want the injected error unretried", err)
	}
	if f.Calls(faulty.OpPut) != 1 {
		t.Errorf("Put reached the backend %d times, want 1", f.Calls(faulty.OpPut))
	}
	// The same failure with a seekable body that was partly read is retried
	// from where the caller's body started.
	body := bytes.NewReader(append([]byte("skip:"), p...))
	if _, err := body.Seek(5, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Put(t.Context(), key, body, optsFor(p)); err != nil {
		t.Fatalf("Put with a seekable body: %v", err)
	}
}

func TestRetryAdoptsAPutWhoseResponseWasLost(t *testing.T) {
	b, f, _ := setup(t, faulty.Options{Ops: []faulty.Op{faulty.OpPut}, FailFirst: 1, AfterCall: true})
	p := []byte("landed")
	info, err := b.Put(t.Context(), storage.MustKey("k"), bytes.NewReader(p), optsFor(p))
	if err != nil {
		t.Fatalf("Put: got %v, want success: the object landed with the expected checksum", err)
	}
	if info.SHA256 != optsFor(p).SHA256 || f.Calls(faulty.OpPut) != 2 {
		t.Errorf("info %+v after %d calls, want the adopted object after 2", info, f.Calls(faulty.OpPut))
	}
	other := []byte("differs")
	_, err = storage.WithRetry(faulty.Wrap(f, faulty.Options{Ops: []faulty.Op{faulty.OpPut}, FailFirst: 1}), storage.RetryPolicy{Sleep: noSleep}).
		Put(t.Context(), storage.MustKey("k"), bytes.NewReader(other), optsFor(other))
	if !errors.Is(err, storage.ErrExist) {
		t.Errorf("Put of different bytes after an ambiguous failure: got %v, want ErrExist", err)
	}
}

func noSleep(ctx context.Context, _ time.Duration) error { return ctx.Err() }

func TestRetryDeleteWhoseResponseWasLostSucceeds(t *testing.T) {
	b, _, _ := setup(t, faulty.Options{Ops: []faulty.Op{faulty.OpDelete}, FailFirst: 1, AfterCall: true})
	key := storage.MustKey("gone")
	mustPut(t, b, key, []byte("x"))
	if err := b.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Stat(t.Context(), key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat after Delete: got %v, want ErrNotExist", err)
	}
}

func TestRetryListResumesWithoutRepeatingObjects(t *testing.T) {
	b, f, _ := setup(t, faulty.Options{Ops: []faulty.Op{faulty.OpList}, FailNth: []int{2, 3}, ListFailAfter: 2})
	var want []string
	for i := range 5 {
		k := storage.MustKey("l", fmt.Sprintf("%d", i))
		mustPut(t, b, k, []byte{byte(i)})
		want = append(want, k.String())
	}
	_ = b.List(t.Context(), storage.Key{}, func(storage.ObjectInfo) error { return nil }) // call 1 succeeds
	var got []string
	err := b.List(t.Context(), storage.MustKey("l"), func(info storage.ObjectInfo) error {
		got = append(got, info.Key.String())
		return nil
	})
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("List = %v (err %v), want %v exactly once each", got, err, want)
	}
	if f.Calls(faulty.OpList) != 4 {
		t.Errorf("List reached the backend %d times, want 4", f.Calls(faulty.OpList))
	}
	stop := errors.New("caller stops")
	err = b.List(t.Context(), storage.Key{}, func(storage.ObjectInfo) error { return stop })
	if err != stop {
		t.Errorf("List: got %v, want the callback's error returned as is", err)
	}
}

func TestRetryResumesABodyThatDropsMidRead(t *testing.T) {
	b, f, _ := setup(t, faulty.Options{BreakReads: 1000})
	p := make([]byte, 10_500)
	for i := range p {
		p[i] = byte(i * 7)
	}
	key := storage.MustKey("big")
	mustPut(t, b, key, p)
	if got := readAll(t, func() (io.ReadCloser, error) { return b.Get(t.Context(), key) }); !bytes.Equal(got, p) {
		t.Errorf("Get returned %d bytes, want the %d written", len(got), len(p))
	}
	if got := readAll(t, func() (io.ReadCloser, error) { return b.GetRange(t.Context(), key, 2500, 5000) }); !bytes.Equal(got, p[2500:7500]) {
		t.Errorf("GetRange returned %d bytes, want the 5000 asked for", len(got))
	}
	if f.Calls(faulty.OpGetRange) < 10 {
		t.Errorf("only %d resumes; the faulty body should have forced one per 1000 bytes", f.Calls(faulty.OpGetRange))
	}
}

func TestRetryDoesNotHideCorruptedReads(t *testing.T) {
	b, _, _ := setup(t, faulty.Options{CorruptReads: true})
	key := storage.MustKey("c")
	mustPut(t, b, key, []byte("abc"))
	if got := readAll(t, func() (io.ReadCloser, error) { return b.Get(t.Context(), key) }); bytes.Equal(got, []byte("abc")) {
		t.Error("corrupted read returned the original bytes; the fault did not reach the caller")
	}
}

func TestRetryRidesOutAFractionOfFailedCalls(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	b, f, _ := setup(t, faulty.Options{FailRate: 0.3, Rand: r.Float64})
	for i := range 30 {
		key := storage.MustKey("r", fmt.Sprint(i))
		mustPut(t, b, key, []byte(key.String()))
		if got := readAll(t, func() (io.ReadCloser, error) { return b.Get(t.Context(), key) }); string(got) != key.String() {
			t.Fatalf("Get %s = %q", key, got)
		}
	}
	if f.Injected() == 0 {
		t.Error("no faults injected; the test proves nothing")
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

type refusesRetry struct{}

func (refusesRetry) Error() string   { return "bad request" }
func (refusesRetry) Retryable() bool { return false }

func TestIsRetryableClassifiesErrors(t *testing.T) {
	retryable := func(err error) error { return &storage.RetryableError{Err: err} }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"a plain error", errors.New("boom"), false},
		{"a RetryableError", fmt.Errorf("ctx: %w", retryable(errors.New("503"))), true},
		{"an error that says it is not retryable", refusesRetry{}, false},
		{"ErrNotExist even when marked retryable", retryable(storage.ErrNotExist), false},
		{"ErrExist", fmt.Errorf("x: %w", storage.ErrExist), false},
		{"ErrChecksum", storage.ErrChecksum, false},
		{"ErrImmutable", storage.ErrImmutable, false},
		{"ErrInvalidKey", storage.ErrInvalidKey, false},
		{"ENOSPC even when marked retryable", retryable(&os.PathError{Op: "write", Path: "f", Err: syscall.ENOSPC}), false},
		{"a cancelled context", fmt.Errorf("x: %w", context.Canceled), false},
		{"a per-try deadline", context.DeadlineExceeded, true},
		{"a connection reset", &net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, true},
		{"a network timeout", &net.OpError{Op: "dial", Err: timeoutErr{}}, true},
		{"an unexpected EOF", fmt.Errorf("body: %w", io.ErrUnexpectedEOF), true},
	}
	for _, tc := range tests {
		t.Run(tc.name+fmt.Sprintf(" is retryable: %v", tc.want), func(t *testing.T) {
			if got := storage.IsRetryable(tc.err); got != tc.want {
				t.Errorf("IsRetryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
