package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/stratahq/strata/internal/storage"
)

func testCreateOnly(t *testing.T, s *suite) {
	key := s.key(t, "once")
	first := []byte("first version")
	s.put(t, key, first)
	for _, second := range [][]byte{[]byte("second version"), first} {
		_, err := s.b.Put(t.Context(), key, bytes.NewReader(second), optsFor(second))
		wantErrIs(t, fmt.Sprintf("second Put of %q", second), err, storage.ErrExist)
	}
	s.wantContent(t, key, first)
	if info, err := s.b.Stat(t.Context(), key); err != nil || info.SHA256 != sha(first) {
		t.Errorf("Stat after refused Put: got (%+v, %v), want the first object's SHA-256", info, err)
	}
	if !s.b.Caps().CreateOnly {
		t.Errorf("Caps().CreateOnly is false; every Strata backend must refuse to overwrite")
	}
}

func testConcurrentPut(t *testing.T, s *suite) {
	key := s.key(t, "contended")
	const writers = 8
	errs := make([]error, writers)
	bodies := make([][]byte, writers)
	var wg sync.WaitGroup
	for i := range writers {
		bodies[i] = payload(uint64(100+i), 64<<10)
		wg.Go(func() {
			_, errs[i] = s.b.Put(t.Context(), key, bytes.NewReader(bodies[i]), optsFor(bodies[i]))
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both succeeded; want exactly one winner", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, storage.ErrExist):
			t.Errorf("writer %d: got %v, want nil or ErrExist", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer succeeded; want exactly one")
	}
	s.wantContent(t, key, bodies[winner])
	if keys := s.list(t, s.prefix); len(keys) != 1 {
		t.Errorf("List after contended Put: got %v, want only %s", keys, key)
	}
}

func testChecksum(t *testing.T, s *suite) {
	p := payload(5, 10_000)
	tests := []struct {
		name string
		body []byte
		opts storage.PutOptions
	}{
		{"a SHA-256 of other bytes", p, storage.PutOptions{Size: int64(len(p)), SHA256: sha([]byte("other"))}},
		{"fewer bytes than Size", p[:len(p)-1], optsFor(p)},
		{"more bytes than Size", append(bytes.Clone(p), 'x'), optsFor(p)},
		{"an empty body for a non-empty object", nil, optsFor(p)},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := s.key(t, fmt.Sprintf("bad-%d", i))
			_, err := s.b.Put(t.Context(), key, bytes.NewReader(tc.body), tc.opts)
			wantErrIs(t, "Put", err, storage.ErrChecksum)
			s.wantNotVisible(t, key)
			s.put(t, key, p) // the failed attempt must not block the key
			s.wantContent(t, key, p)
		})
	}
}

func testBadOptions(t *testing.T, s *suite) {
	p := []byte("payload")
	good := optsFor(p)
	tests := []struct {
		name string
		opts storage.PutOptions
	}{
		{"a missing SHA-256", storage.PutOptions{Size: good.Size}},
		{"an upper-case SHA-256", storage.PutOptions{Size: good.Size, SHA256: strings.ToUpper(good.SHA256)}},
		{"a negative size", storage.PutOptions{Size: -1, SHA256: good.SHA256}},
		{"a metadata key with a dash", storage.PutOptions{Size: good.Size, SHA256: good.SHA256, Metadata: map[string]string{"x-y": "1"}}},
		{"a metadata value with a newline", storage.PutOptions{Size: good.Size, SHA256: good.SHA256, Metadata: map[string]string{"x": "a\nb"}}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := s.key(t, fmt.Sprintf("opts-%d", i))
			if _, err := s.b.Put(t.Context(), key, bytes.NewReader(p), tc.opts); err == nil {
				t.Error("Put succeeded; want an error")
			}
			s.wantNotVisible(t, key)
		})
	}
}

// failingReader yields its data and then fails with err instead of io.EOF.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func testReaderFails(t *testing.T, s *suite) {
	p := payload(6, 1<<20)
	boom := errors.New("disk read failed")
	tests := []struct {
		name string
		body io.Reader
	}{
		{"an error after half the bytes", &failingReader{bytes.NewReader(p[:len(p)/2]), boom}},
		{"an error before any byte", &failingReader{bytes.NewReader(nil), boom}},
		{"io.ErrUnexpectedEOF one byte short", &failingReader{bytes.NewReader(p[:len(p)-1]), io.ErrUnexpectedEOF}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := s.key(t, fmt.Sprintf("broken-%d", i))
			if _, err := s.b.Put(t.Context(), key, tc.body, optsFor(p)); err == nil {
				t.Fatal("Put succeeded; want the reader's error")
			}
			s.wantNotVisible(t, key)
		})
	}
}

// cancellingReader cancels its context after the first read and keeps
// serving bytes, as a slow producer would while its caller gives up.
type cancellingReader struct {
	r      io.Reader
	cancel context.CancelFunc
	reads  int
}

func (c *cancellingReader) Read(p []byte) (int, error) {
	c.reads++
	if c.reads == 2 {
		c.cancel()
	}
	return c.r.Read(p[:min(len(p), 32<<10)])
}

func testCancelledUpload(t *testing.T, s *suite) {
	p := payload(7, 4<<20)
	t.Run("cancelled midway", func(t *testing.T) {
		key := s.key(t, "cancelled-midway")
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		_, err := s.b.Put(ctx, key, &cancellingReader{r: bytes.NewReader(p), cancel: cancel}, optsFor(p))
		if !ctxCancelled(err) {
			t.Errorf("Put: got %v, want context.Canceled", err)
		}
		s.wantNotVisible(t, key)
	})
	t.Run("cancelled before the call", func(t *testing.T) {
		key := s.key(t, "cancelled-before")
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := s.b.Put(ctx, key, bytes.NewReader(p), optsFor(p))
		if !ctxCancelled(err) {
			t.Errorf("Put: got %v, want context.Canceled", err)
		}
		s.wantNotVisible(t, key)
	})
}
