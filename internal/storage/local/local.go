// Package local is the file:// storage backend: objects are files under one
// archive directory, reached only through an os.Root so no key can escape it.
//
// Layout of the archive directory:
//
//	<dir>/<key>                 the object, read-only (0444)
//	<dir>/.strata-meta/<key>.meta  its sidecar: JSON with size, SHA-256,
//	                            metadata, retention and legal hold (named so
//	                            that no glob for *.parquet over the archive,
//	                            such as DuckDB's read_parquet('**/*.parquet'),
//	                            takes it for a Parquet file; sidecars written
//	                            before are read at .strata-meta/<key>)
//	<dir>/.strata-tmp/          uploads in progress; never listed
//
// Put writes into .strata-tmp, hashing as it writes, checks size and SHA-256,
// fsyncs, and then hard-links the file to its key. link(2), unlike rename(2),
// never replaces an existing name, so of two concurrent Puts of one key
// exactly one wins and the other gets storage.ErrExist; a crash leaves at most
// a temp file, never a partial object. The directory is fsynced after the
// link. Only the winner writes the sidecar (temp file + rename), so Stat is
// one stat and one small read. A crash between the link and the sidecar
// leaves a complete object whose Stat reports no SHA-256 (ObjectInfo.SHA256
// "" means "none recorded"); `verify --deep` still hashes it. Such an object
// has no recorded retention either: a local disk is not WORM (see
// retention.go).
//
// Keys whose first segment starts with ".strata-" are reserved and refused
// with storage.ErrInvalidKey. A file system cannot hold both "a/b" and
// "a/b/c": the second Put fails with a clear error.
//
// The file system must support hard links (ext4, xfs, btrfs, zfs, APFS, NTFS
// do; FAT and some network mounts do not).
package local

import (
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/stratahq/strata/internal/storage"
)

const (
	tmpDir  = ".strata-tmp"
	metaDir = ".strata-meta"
	// metaSuffix ends every sidecar's name.
	metaSuffix = ".meta"
	reserved   = ".strata-"
	// staleTmpAge is how old a temp file must be before Open removes it; far
	// longer than any upload, so a concurrent process's upload is left alone.
	staleTmpAge = 24 * time.Hour
	// lockStripes serialises commit and delete of one key inside a process
	// (the link arbitrates between processes).
	lockStripes = 64
)

// Backend is the file:// storage backend. It is safe for concurrent use,
// including by several processes sharing the directory. Close releases the
// directory handle.
type Backend struct {
	root  *os.Root
	dir   string
	locks [lockStripes]sync.Mutex
}

var _ storage.Backend = (*Backend)(nil)

// Open opens the archive directory dir, creating it (0755) and its scratch
// folders if needed. Temp files older than a day, left by crashed uploads,
// are removed.
func Open(dir string) (*Backend, error) {
	if dir == "" {
		return nil, errors.New("local storage: empty directory (set the archive path)")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("local storage: create archive directory: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("local storage: open archive directory: %w", err)
	}
	for _, d := range []string{tmpDir, metaDir} {
		if err := root.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			root.Close()
			return nil, fmt.Errorf("local storage %s: create %s (is the directory writable?): %w", dir, d, err)
		}
	}
	b := &Backend{root: root, dir: dir}
	b.removeStaleTemps(time.Now())
	return b, nil
}

// FromURL opens the backend named by a file URL with an absolute path:
// file:///var/lib/strata/archive (three slashes; "localhost" as host is
// accepted). Relative paths, other hosts, queries and fragments are refused.
func FromURL(u *url.URL) (*Backend, error) {
	if u == nil || u.Scheme != "file" {
		return nil, fmt.Errorf("local storage: URL %q is not a file:// URL (use file:///absolute/path)", u)
	}
	if u.Opaque != "" || (u.Host != "" && u.Host != "localhost") {
		return nil, fmt.Errorf("local storage: URL %q has no absolute path; write file:///absolute/path with three slashes", u)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("local storage: URL %q has a query, fragment or user, which file:// does not use; remove it", u)
	}
	p := filepath.FromSlash(u.Path)
	if !filepath.IsAbs(p) {
		return nil, fmt.Errorf("local storage: URL %q: path %q is not absolute (use file:///absolute/path)", u, u.Path)
	}
	return Open(filepath.Clean(p))
}

// Close releases the directory handle. Calls after Close fail.
func (b *Backend) Close() error { return b.root.Close() }

// Dir returns the archive directory as given to Open.
func (b *Backend) Dir() string { return b.dir }

// Caps reports create-only Puts, stored metadata, and retention and legal
// holds kept by this backend (Retention, LegalHold) on a disk that is not
// WORM (WORM false: see CheckRetention).
func (b *Backend) Caps() storage.Caps {
	return storage.Caps{CreateOnly: true, Metadata: true, Retention: true, LegalHold: true, Name: "file"}
}

// path maps a key to its file name inside the root, refusing reserved names.
func (b *Backend) path(op string, key storage.Key) (string, error) {
	if key.IsZero() {
		return "", fmt.Errorf("local %s: %w: empty key (name an object)", op, storage.ErrInvalidKey)
	}
	if s := key.String(); strings.HasPrefix(s, reserved) {
		return "", fmt.Errorf("local %s %s: %w: names starting with %q are reserved by the file backend", op, s, storage.ErrInvalidKey, reserved)
	}
	return filepath.FromSlash(key.String()), nil
}

func metaPath(name string) string { return filepath.Join(metaDir, name) + metaSuffix }

// legacyMetaPath is where sidecars were written before they had
// metaSuffix: still read, and removed when the sidecar is written again
// or its object deleted.
func legacyMetaPath(name string) string { return filepath.Join(metaDir, name) }

// lock returns the stripe lock for key.
func (b *Backend) lock(key storage.Key) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(key.String()))
	return &b.locks[h.Sum32()%lockStripes]
}

func (b *Backend) removeStaleTemps(now time.Time) {
	d, err := b.root.Open(tmpDir)
	if err != nil {
		return
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) > staleTmpAge {
			// Best effort: a failure only leaves a stray temp file for next time.
			_ = b.root.Remove(filepath.Join(tmpDir, e.Name()))
		}
	}
}

// RemoveArchive deletes a whole archive folder, such as a demo's or a
// benchmark's, whose folders and files this backend wrote: it makes the
// folders writable first, since the backend leaves objects read-only.
func RemoveArchive(dir string) error {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove archive folder %s: %w", dir, err)
	}
	return nil
}
