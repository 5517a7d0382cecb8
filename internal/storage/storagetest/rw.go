package storagetest

import (
	"bytes"
	"errors"
	"io"
	"maps"
	"testing"

	"github.com/stratahq/strata/internal/storage"
)

func testReadAfterWrite(t *testing.T, s *suite) {
	key := s.key(t, "dataset=orders", "day=2024-01-02", "part-0.parquet")
	p := payload(1, 100_003)
	info := s.put(t, key, p)
	if info.Key != key || info.Size != int64(len(p)) || info.SHA256 != sha(p) {
		t.Errorf("Put returned %+v, want key %s size %d sha %s", info, key, len(p), sha(p))
	}
	s.wantContent(t, key, p)
}

func testEmptyObject(t *testing.T, s *suite) {
	key := s.key(t, "empty")
	s.put(t, key, nil)
	s.wantContent(t, key, nil)
	info, err := s.b.Stat(t.Context(), key)
	if err != nil || info.Size != 0 {
		t.Errorf("Stat %s: got (%+v, %v), want size 0", key, info, err)
	}
}

func testStat(t *testing.T, s *suite) {
	key := s.key(t, "stat.bin")
	p := payload(2, 4321)
	s.put(t, key, p)
	info, err := s.b.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat %s: %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(p)) || info.SHA256 != sha(p) {
		t.Errorf("Stat %s = %+v, want size %d sha %s", key, info, len(p), sha(p))
	}
	if info.ModTime.IsZero() {
		t.Errorf("Stat %s: ModTime is zero, want the upload time", key)
	}
}

func testRanges(t *testing.T, s *suite) {
	key := s.key(t, "ranges.bin")
	p := payload(3, 1000)
	s.put(t, key, p)
	tests := []struct {
		name           string
		offset, length int64
		want           []byte
	}{
		{"the first bytes", 0, 10, p[:10]},
		{"bytes in the middle", 100, 250, p[100:350]},
		{"to the end with length -1", 990, -1, p[990:]},
		{"the whole object with length -1", 0, -1, p},
		{"a length past the end is cut at the end", 995, 100, p[995:]},
		{"a zero length is empty", 5, 0, nil},
		{"an offset at the end is empty", 1000, -1, nil},
		{"an offset beyond the end is empty", 5000, 10, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rc, err := s.b.GetRange(t.Context(), key, tc.offset, tc.length)
			if err != nil {
				t.Fatalf("GetRange(%d, %d): %v", tc.offset, tc.length, err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatalf("read range: %v", err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("GetRange(%d, %d): got %d bytes, want %d", tc.offset, tc.length, len(got), len(tc.want))
			}
		})
	}
	t.Run("a negative offset is an error", func(t *testing.T) {
		if rc, err := s.b.GetRange(t.Context(), key, -1, 10); err == nil {
			rc.Close()
			t.Error("GetRange(-1, 10): no error, want one")
		}
	})
}

func testMissing(t *testing.T, s *suite) {
	key := s.key(t, "never-written")
	if rc, err := s.b.Get(t.Context(), key); !errors.Is(err, storage.ErrNotExist) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Get: got %v, want ErrNotExist", err)
	}
	if rc, err := s.b.GetRange(t.Context(), key, 0, 10); !errors.Is(err, storage.ErrNotExist) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("GetRange: got %v, want ErrNotExist", err)
	}
	_, err := s.b.Stat(t.Context(), key)
	wantErrIs(t, "Stat", err, storage.ErrNotExist)
	wantErrIs(t, "Delete", s.b.Delete(t.Context(), key), storage.ErrNotExist)
	if keys := s.list(t, key); len(keys) != 0 {
		t.Errorf("List of a missing folder: got %v, want nothing", keys)
	}
}

func testFolderIsNotObject(t *testing.T, s *suite) {
	s.put(t, s.key(t, "folder", "inner"), []byte("x"))
	folder := s.key(t, "folder")
	_, err := s.b.Stat(t.Context(), folder)
	wantErrIs(t, "Stat of a folder", err, storage.ErrNotExist)
	if rc, err := s.b.Get(t.Context(), folder); !errors.Is(err, storage.ErrNotExist) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Get of a folder: got %v, want ErrNotExist", err)
	}
	wantErrIs(t, "Delete of a folder", s.b.Delete(t.Context(), folder), storage.ErrNotExist)
}

func testDelete(t *testing.T, s *suite) {
	key := s.key(t, "deleted")
	keep := s.key(t, "kept")
	s.put(t, key, []byte("first"))
	s.put(t, keep, []byte("kept"))
	if err := s.b.Delete(t.Context(), key); err != nil {
		t.Fatalf("Delete %s: %v", key, err)
	}
	s.wantNotVisible(t, key)
	wantErrIs(t, "second Delete", s.b.Delete(t.Context(), key), storage.ErrNotExist)
	s.wantContent(t, keep, []byte("kept"))
	s.put(t, key, []byte("second"))
	s.wantContent(t, key, []byte("second"))
	if info, err := s.b.Stat(t.Context(), key); err != nil || info.SHA256 != sha([]byte("second")) {
		t.Errorf("Stat after re-Put: got (%+v, %v), want the second object's SHA-256", info, err)
	}
}

func testMetadata(t *testing.T, s *suite) {
	if !s.b.Caps().Metadata {
		t.Skipf("backend %q does not store metadata", s.b.Caps().Name)
	}
	key := s.key(t, "with-metadata")
	p := []byte("rows")
	opts := optsFor(p)
	opts.Metadata = map[string]string{"dataset": "orders", "schema_fingerprint": "ab12", "rows": "4"}
	if _, err := s.b.Put(t.Context(), key, bytes.NewReader(p), opts); err != nil {
		t.Fatalf("Put: %v", err)
	}
	info, err := s.b.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if !maps.Equal(info.Metadata, opts.Metadata) {
		t.Errorf("Stat metadata = %v, want %v", info.Metadata, opts.Metadata)
	}
}

func testLargeObject(t *testing.T, s *suite) {
	key := s.key(t, "large.bin")
	p := payload(4, 9<<20+12345)
	info := s.put(t, key, p)
	if info.Size != int64(len(p)) {
		t.Errorf("Put size = %d, want %d", info.Size, len(p))
	}
	s.wantContent(t, key, p)
	const off = 8<<20 - 100 // straddles an 8 MiB block or part boundary
	rc, err := s.b.GetRange(t.Context(), key, off, 300)
	if err != nil {
		t.Fatalf("GetRange: %v", err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, p[off:off+300]) {
		t.Errorf("GetRange across 8 MiB: got %d bytes (err %v), want the 300 bytes at %d", len(got), err, off)
	}
}
