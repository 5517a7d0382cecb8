package local

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/stratahq/strata/internal/storage"
)

// copyBufferSize is the chunk between context checks while uploading.
const copyBufferSize = 256 << 10

// Put stores r under key create-only, as described in the package comment.
// It reads at most opts.Size+1 bytes. On any error, including a cancelled ctx
// or a reader error, nothing is visible under key and the temp file is gone.
func (b *Backend) Put(ctx context.Context, key storage.Key, r io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	name, err := b.path("put", key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	if err := opts.Validate(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("local put %s: %w", key, err)
	}
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("local put %s: %w", key, err)
	}
	// Fail fast before reading the body; the link below still arbitrates.
	if err := b.checkFree(name); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("local put %s: %w", key, err)
	}
	tmp, err := b.writeTemp(ctx, r, opts)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("local put %s: %w", key, err)
	}
	defer b.root.Remove(tmp) // the object keeps its own link; a leftover is cleaned by Open

	mu := b.lock(key)
	mu.Lock()
	defer mu.Unlock()
	if err := b.link(tmp, name); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("local put %s: %w", key, err)
	}
	fi, err := b.root.Stat(name)
	if err == nil {
		err = b.writeSidecar(name, newSidecar(opts))
	}
	if err != nil {
		// Keep "an error leaves nothing visible": take the fresh object back.
		if rerr := b.root.Remove(name); rerr != nil {
			return storage.ObjectInfo{}, fmt.Errorf("local put %s: record metadata: %w (and removing the object failed: %v; delete it by hand)", key, err, rerr)
		}
		return storage.ObjectInfo{}, fmt.Errorf("local put %s: record metadata: %w", key, err)
	}
	return storage.ObjectInfo{
		Key: key, Size: opts.Size, ModTime: fi.ModTime(), SHA256: opts.SHA256, Metadata: cloneMeta(opts.Metadata),
		Retention: opts.Retention,
	}, nil
}

// checkFree returns ErrExist when an object already holds name, and a
// descriptive error when a folder of other objects does.
func (b *Backend) checkFree(name string) error {
	fi, err := b.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return nil // ENOTDIR: an object is in the path; link reports it
	case err != nil:
		return err
	case fi.IsDir():
		return fmt.Errorf("key is a folder of other objects on the file backend; choose another key")
	default:
		return storage.ErrExist
	}
}

// writeTemp copies r into a new read-only temp file, hashing as it writes,
// and returns its name once size and SHA-256 match and it is fsynced.
func (b *Backend) writeTemp(ctx context.Context, r io.Reader, opts storage.PutOptions) (name string, err error) {
	name, f, err := b.createTemp()
	if err != nil {
		return "", err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close temp file: %w", cerr)
		}
		if err != nil {
			_ = b.root.Remove(name) // the real error is err; a leftover is cleaned by Open
		}
	}()
	n, sum, err := copyHashed(ctx, f, r, opts.Size)
	if err != nil {
		return name, err
	}
	if n != opts.Size {
		return name, fmt.Errorf("%w: read %d bytes, expected %d (incomplete or oversized upload)", storage.ErrChecksum, n, opts.Size)
	}
	if sum != opts.SHA256 {
		return name, fmt.Errorf("%w: content SHA-256 %s, expected %s", storage.ErrChecksum, sum, opts.SHA256)
	}
	if err := f.Chmod(0o444); err != nil {
		return name, fmt.Errorf("make temp file read-only: %w", err)
	}
	if err := f.Sync(); err != nil {
		return name, fmt.Errorf("fsync temp file: %w", err)
	}
	return name, nil
}

func (b *Backend) createTemp() (string, *os.File, error) {
	for range 3 {
		name := filepath.Join(tmpDir, rand.Text())
		f, err := b.root.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("create temp file in %s (is the archive directory writable and not full?): %w", tmpDir, err)
		}
		return name, f, nil
	}
	return "", nil, errors.New("create temp file: names keep colliding")
}

// copyHashed copies at most size+1 bytes from r to w, checking ctx between
// chunks, and returns the count and lower-case hex SHA-256 of what was read.
func copyHashed(ctx context.Context, w io.Writer, r io.Reader, size int64) (int64, string, error) {
	h := sha256.New()
	buf := make([]byte, copyBufferSize)
	var n int64
	for n <= size {
		if err := ctx.Err(); err != nil {
			return n, "", err
		}
		chunk := buf[:min(int64(len(buf)), size+1-n)]
		k, rerr := r.Read(chunk)
		if k > 0 {
			h.Write(chunk[:k])
			if _, err := w.Write(chunk[:k]); err != nil {
				return n, "", fmt.Errorf("write temp file: %w", err)
			}
			n += int64(k)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return n, "", fmt.Errorf("read body after %d bytes: %w", n, rerr)
		}
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// link publishes tmp under name without ever replacing an existing file,
// creating parent folders as needed and fsyncing the parent afterwards.
func (b *Backend) link(tmp, name string) error {
	dir := filepath.Dir(name)
	var err error
	for range 3 {
		if err = b.mkdirs(dir, false); err != nil {
			return err
		}
		err = b.root.Link(tmp, name)
		if !errors.Is(err, fs.ErrNotExist) {
			break // ErrNotExist: a Delete pruned the empty parent meanwhile; retry
		}
	}
	switch {
	case err == nil:
		return syncDir(b.root, dir)
	case errors.Is(err, fs.ErrExist):
		if ferr := b.checkFree(name); ferr != nil {
			return ferr
		}
		return storage.ErrExist
	case errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EXDEV):
		return fmt.Errorf("publish object: the file system refused a hard link (the file backend needs hard links; use ext4, xfs, btrfs, zfs, APFS or NTFS): %w", err)
	default:
		return fmt.Errorf("publish object: %w", err)
	}
}

// mkdirs creates dir and its parents inside the root, fsyncing each parent
// that gained an entry. In the object tree a file in the way is a conflict
// between keys; in the sidecar tree (meta true) it is a stale sidecar of a
// deleted object and is removed.
func (b *Backend) mkdirs(dir string, meta bool) error {
	if dir == "." {
		return nil
	}
	parent := filepath.Dir(dir)
	if err := b.mkdirs(parent, meta); err != nil {
		return err
	}
	err := b.root.Mkdir(dir, 0o755)
	if err == nil {
		return syncDir(b.root, parent)
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create folder %s: %w", filepath.ToSlash(dir), err)
	}
	fi, serr := b.root.Lstat(dir)
	switch {
	case serr != nil:
		return fmt.Errorf("create folder %s: %w", filepath.ToSlash(dir), serr)
	case fi.IsDir():
		return nil
	case meta:
		if err := b.root.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove stale sidecar %s: %w", filepath.ToSlash(dir), err)
		}
		return b.mkdirs(dir, meta)
	default:
		return fmt.Errorf("%s is an object, so the file backend cannot store objects beneath it; choose another key", filepath.ToSlash(dir))
	}
}

// syncDir fsyncs a directory so the entries created in it survive a crash.
func syncDir(root *os.Root, dir string) error {
	d, err := root.Open(dir)
	if err != nil {
		return fmt.Errorf("open folder %s to fsync: %w", filepath.ToSlash(dir), err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		// EINVAL: some file systems cannot fsync directories; nothing to do.
		return fmt.Errorf("fsync folder %s: %w", filepath.ToSlash(dir), err)
	}
	return nil
}
