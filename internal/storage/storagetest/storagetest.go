// Package storagetest is the one conformance suite every storage backend
// runs: read-after-write, range reads, missing keys, create-only Puts under
// concurrency, failed uploads that must leave nothing behind, hostile keys,
// listing exactly once per object in order, deletes, metadata and large
// objects. A backend passes by calling Run from its own test:
//
//	func TestConformance(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.Backend { return newTestBackend(t) })
//	}
package storagetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	mrand "math/rand/v2"
	"slices"
	"testing"

	"github.com/stratahq/strata/internal/storage"
)

// Run runs the conformance suite. newBackend is called once per subtest and
// returns a backend ready for use; it registers its own cleanup with
// t.Cleanup. It may return the same store each time: every subtest works
// under its own fresh key prefix and never lists outside it.
func Run(t *testing.T, newBackend func(t *testing.T) storage.Backend) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"a written object reads back byte for byte", testReadAfterWrite},
		{"an empty object round-trips", testEmptyObject},
		{"Stat reports the size and SHA-256 given at Put", testStat},
		{"range reads return exactly the requested bytes", testRanges},
		{"a missing key is ErrNotExist for Get, GetRange, Stat and Delete", testMissing},
		{"a folder that holds objects is not itself an object", testFolderIsNotObject},
		{"a second Put of a key is ErrExist and leaves the first intact", testCreateOnly},
		{"concurrent Puts of one key have exactly one winner", testConcurrentPut},
		{"a wrong size or checksum is ErrChecksum and leaves nothing visible", testChecksum},
		{"malformed Put options are refused and leave nothing visible", testBadOptions},
		{"an upload whose reader fails midway leaves nothing visible", testReaderFails},
		{"a cancelled context stops an upload and leaves nothing visible", testCancelledUpload},
		{"hostile keys are refused by the Key constructors", func(t *testing.T, _ *suite) { testHostileKeys(t) }},
		{"List returns each object in its folder exactly once in key order", testListFolder},
		{"List stops at and returns the callback's error", testListCallbackError},
		{"List returns 1200 objects exactly once across pages", testListMany},
		{"a deleted object is gone and its key can be written again", testDelete},
		{"metadata round-trips through Stat", testMetadata},
		{"objects larger than 8 MiB round-trip across block boundaries", testLargeObject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newBackend(t)
			tc.fn(t, &suite{b: b, prefix: freshPrefix(t)})
		})
	}
}

// suite is what each case works with: the backend and a prefix of its own.
type suite struct {
	b      storage.Backend
	prefix storage.Key
}

// key returns a key under the case's prefix.
func (s *suite) key(t *testing.T, segments ...string) storage.Key {
	t.Helper()
	k, err := s.prefix.Join(segments...)
	if err != nil {
		t.Fatalf("build key %v: %v", segments, err)
	}
	return k
}

func freshPrefix(t *testing.T) storage.Key {
	t.Helper()
	k, err := storage.NewKey("storagetest", "run-"+rand.Text()[:16])
	if err != nil {
		t.Fatalf("build prefix: %v", err)
	}
	return k
}

// payload returns n deterministic pseudo-random bytes for seed.
func payload(seed uint64, n int) []byte {
	r := mrand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 's', 't', 'r', 'a', 't', 'a'})
	p := make([]byte, n)
	_, _ = r.Read(p) // ChaCha8.Read never fails
	return p
}

func sha(p []byte) string {
	sum := sha256.Sum256(p)
	return hex.EncodeToString(sum[:])
}

// optsFor returns the correct PutOptions for p.
func optsFor(p []byte) storage.PutOptions {
	return storage.PutOptions{Size: int64(len(p)), SHA256: sha(p)}
}

// put stores p under key and fails the test on error.
func (s *suite) put(t *testing.T, key storage.Key, p []byte) storage.ObjectInfo {
	t.Helper()
	info, err := s.b.Put(t.Context(), key, bytes.NewReader(p), optsFor(p))
	if err != nil {
		t.Fatalf("Put %s (%d bytes): %v", key, len(p), err)
	}
	return info
}

// get reads the whole object and fails the test on error.
func (s *suite) get(t *testing.T, key storage.Key) []byte {
	t.Helper()
	rc, err := s.b.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get %s: %v", key, err)
	}
	defer rc.Close()
	p, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return p
}

// wantContent fails unless key holds exactly want.
func (s *suite) wantContent(t *testing.T, key storage.Key, want []byte) {
	t.Helper()
	if got := s.get(t, key); !bytes.Equal(got, want) {
		t.Fatalf("Get %s: got %d bytes (sha %s), want %d bytes (sha %s)", key, len(got), sha(got), len(want), sha(want))
	}
}

// list returns the keys List reports under prefix, in the order reported.
func (s *suite) list(t *testing.T, prefix storage.Key) []string {
	t.Helper()
	var keys []string
	err := s.b.List(t.Context(), prefix, func(info storage.ObjectInfo) error {
		keys = append(keys, info.Key.String())
		return nil
	})
	if err != nil {
		t.Fatalf("List %s: %v", prefix, err)
	}
	return keys
}

// wantNotVisible fails unless key is absent from Stat, Get and List.
func (s *suite) wantNotVisible(t *testing.T, key storage.Key) {
	t.Helper()
	if info, err := s.b.Stat(t.Context(), key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat %s: got (%+v, %v), want ErrNotExist", key, info, err)
	}
	if rc, err := s.b.Get(t.Context(), key); !errors.Is(err, storage.ErrNotExist) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Get %s: got error %v, want ErrNotExist", key, err)
	}
	if keys := s.list(t, s.prefix); slices.Contains(keys, key.String()) {
		t.Errorf("List %s shows %s, which must not be visible", s.prefix, key)
	}
}

// wantErrIs fails unless err wraps target.
func wantErrIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// ctxCancelled reports whether err carries a context cancellation.
func ctxCancelled(err error) bool {
	return errors.Is(err, context.Canceled)
}
