package local_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/local"
	"github.com/stratahq/strata/internal/storage/storagetest"
)

// open returns a backend over a fresh temporary directory.
func open(t *testing.T) *local.Backend {
	t.Helper()
	b, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend { return open(t) })
}

func TestRetentionConformance(t *testing.T) {
	storagetest.RunRetention(t, func(t *testing.T) storage.Backend { return open(t) })
}

func TestALocalDiskKeepsRetentionButIsNotWORM(t *testing.T) {
	caps := open(t).Caps()
	if !caps.Retention || !caps.LegalHold || caps.WORM || caps.Versions {
		t.Errorf("Caps %+v: want Retention and LegalHold kept by the backend, WORM false (a local disk is not WORM), no versions", caps)
	}
}

func TestFromURLAcceptsOnlyAbsoluteFileURLs(t *testing.T) {
	dir := t.TempDir()
	for _, raw := range []string{"file://" + dir, "file://localhost" + dir} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		b, err := local.FromURL(u)
		if err != nil {
			t.Errorf("FromURL(%s): %v", raw, err)
			continue
		}
		if b.Dir() != filepath.Clean(dir) {
			t.Errorf("FromURL(%s).Dir() = %s, want %s", raw, b.Dir(), dir)
		}
		b.Close()
	}
	tests := []struct{ name, url, hint string }{
		{"a relative path read as a host", "file://archive/x", "three slashes"},
		{"an opaque relative path", "file:archive", "three slashes"},
		{"another scheme", "s3://bucket/x", "not a file:// URL"},
		{"a remote host", "file://server/share", "three slashes"},
		{"a query", "file:///tmp/x?mode=1", "remove it"},
	}
	for _, tc := range tests {
		t.Run("a URL with "+tc.name+" is refused with advice", func(t *testing.T) {
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := local.FromURL(u); err == nil || !strings.Contains(err.Error(), tc.hint) {
				t.Errorf("FromURL(%s) = %v, want an error mentioning %q", tc.url, err, tc.hint)
			}
		})
	}
}

func TestReservedNamesAreRefused(t *testing.T) {
	b := open(t)
	for _, k := range []storage.Key{storage.MustKey(".strata-tmp", "x"), storage.MustKey(".strata-meta"), storage.MustKey(".strata-other")} {
		p := []byte("x")
		_, err := b.Put(t.Context(), k, bytes.NewReader(p), opts(p))
		if !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put %s: got %v, want ErrInvalidKey", k, err)
		}
		if err := b.List(t.Context(), k, func(storage.ObjectInfo) error { return nil }); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("List %s: got %v, want ErrInvalidKey", k, err)
		}
	}
}

func TestObjectsAreReadOnlyWithASidecarAndNoTempLeftovers(t *testing.T) {
	dir := t.TempDir()
	b, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := []byte("content")
	key := storage.MustKey("d", "obj")
	if _, err := b.Put(t.Context(), key, bytes.NewReader(p), opts(p)); err != nil {
		t.Fatal(err)
	}
	bad := opts(p)
	bad.Size++
	if _, err := b.Put(t.Context(), storage.MustKey("d", "bad"), bytes.NewReader(p), bad); !errors.Is(err, storage.ErrChecksum) {
		t.Fatalf("Put with a wrong size: %v", err)
	}
	fi, err := os.Stat(filepath.Join(dir, "d", "obj"))
	if err != nil || fi.Mode().Perm() != 0o444 {
		t.Errorf("object mode = %v (err %v), want 0444", fi.Mode().Perm(), err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".strata-meta", "d", "obj.meta")); err != nil {
		t.Errorf("sidecar: %v", err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, ".strata-tmp")); len(tmp) != 0 {
		t.Errorf("temp files left behind: %v", tmp)
	}
}

func TestAnObjectCannotHoldObjectsBeneathIt(t *testing.T) {
	b := open(t)
	p := []byte("x")
	if _, err := b.Put(t.Context(), storage.MustKey("a"), bytes.NewReader(p), opts(p)); err != nil {
		t.Fatal(err)
	}
	_, err := b.Put(t.Context(), storage.MustKey("a", "b"), bytes.NewReader(p), opts(p))
	if err == nil || errors.Is(err, storage.ErrExist) || !strings.Contains(err.Error(), "choose another key") {
		t.Errorf("Put a/b under object a: got %v, want a conflict error with advice", err)
	}
	if _, err := b.Put(t.Context(), storage.MustKey("c", "d"), bytes.NewReader(p), opts(p)); err != nil {
		t.Fatal(err)
	}
	_, err = b.Put(t.Context(), storage.MustKey("c"), bytes.NewReader(p), opts(p))
	if err == nil || errors.Is(err, storage.ErrExist) || !strings.Contains(err.Error(), "folder") {
		t.Errorf("Put c over folder c: got %v, want a folder conflict error", err)
	}
}

func TestStatWithoutASidecarReportsNoChecksumAndADamagedOneIsAnError(t *testing.T) {
	dir := t.TempDir()
	b, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := []byte("content")
	for _, n := range []string{"lost", "damaged", "truncated"} {
		if _, err := b.Put(t.Context(), storage.MustKey(n), bytes.NewReader(p), opts(p)); err != nil {
			t.Fatal(err)
		}
	}
	meta := filepath.Join(dir, ".strata-meta")
	must(t, os.Remove(filepath.Join(meta, "lost.meta")))
	must(t, os.Chmod(filepath.Join(meta, "damaged.meta"), 0o644))
	must(t, os.WriteFile(filepath.Join(meta, "damaged.meta"), []byte("{"), 0o644))
	must(t, os.Chmod(filepath.Join(dir, "truncated"), 0o644))
	must(t, os.Truncate(filepath.Join(dir, "truncated"), 3))

	if info, err := b.Stat(t.Context(), storage.MustKey("lost")); err != nil || info.SHA256 != "" || info.Size != int64(len(p)) {
		t.Errorf("Stat without sidecar = (%+v, %v), want size and no SHA-256", info, err)
	}
	for _, n := range []string{"damaged", "truncated"} {
		if _, err := b.Stat(t.Context(), storage.MustKey(n)); err == nil || !strings.Contains(err.Error(), "verify --deep") {
			t.Errorf("Stat %s = %v, want an error that points to verify --deep", n, err)
		}
	}
}

func TestListSkipsFilesThatAreNotKeys(t *testing.T) {
	dir := t.TempDir()
	b, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := []byte("x")
	if _, err := b.Put(t.Context(), storage.MustKey("ok"), bytes.NewReader(p), opts(p)); err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(filepath.Join(dir, "has space"), p, 0o644))
	must(t, os.Symlink("ok", filepath.Join(dir, "link")))
	var got []string
	if err := b.List(t.Context(), storage.Key{}, func(i storage.ObjectInfo) error { got = append(got, i.Key.String()); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != "ok" {
		t.Errorf("List = %v, want only [ok]", got)
	}
}

func opts(p []byte) storage.PutOptions {
	sum := sha256.Sum256(p)
	return storage.PutOptions{Size: int64(len(p)), SHA256: hex.EncodeToString(sum[:])}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestNoSidecarLooksLikeAParquetFileAndOldSidecarsAreStillRead(t *testing.T) {
	dir := t.TempDir()
	b, err := local.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	p := []byte("content")
	for _, k := range []storage.Key{storage.MustKey("a", "2024", "chunk_1.parquet"), storage.MustKey("a", "2024", "chunk_2.parquet")} {
		if _, err := b.Put(t.Context(), k, bytes.NewReader(p), opts(p)); err != nil {
			t.Fatal(err)
		}
	}
	var parquet []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".parquet") {
			parquet = append(parquet, strings.TrimPrefix(path, dir+"/"))
		}
		return nil
	})
	if want := []string{"a/2024/chunk_1.parquet", "a/2024/chunk_2.parquet"}; !slices.Equal(parquet, want) {
		t.Errorf("files named *.parquet under the archive: %v, want only the objects %v", parquet, want)
	}
	// A sidecar of the layout before .meta: read, and removed with its object.
	meta := filepath.Join(dir, ".strata-meta", "a", "2024")
	must(t, os.Rename(filepath.Join(meta, "chunk_2.parquet.meta"), filepath.Join(meta, "chunk_2.parquet")))
	info, err := b.Stat(t.Context(), storage.MustKey("a", "2024", "chunk_2.parquet"))
	if err != nil || info.SHA256 != opts(p).SHA256 {
		t.Fatalf("Stat with an old sidecar = (%+v, %v), want its SHA-256", info, err)
	}
	must(t, b.Delete(t.Context(), storage.MustKey("a", "2024", "chunk_2.parquet")))
	if _, err := os.Stat(filepath.Join(meta, "chunk_2.parquet")); !os.IsNotExist(err) {
		t.Errorf("the old sidecar outlived its object: %v", err)
	}
}
