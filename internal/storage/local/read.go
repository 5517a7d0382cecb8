package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/stratahq/strata/internal/storage"
)

// notExist reports whether err means "no object there": missing, or a path
// component that is itself an object.
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// openObject opens the regular file under key; a folder is not an object.
func (b *Backend) openObject(ctx context.Context, op string, key storage.Key) (*os.File, fs.FileInfo, error) {
	name, err := b.path(op, key)
	if err != nil {
		return nil, nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("local %s %s: %w", op, key, err)
	}
	f, err := b.root.Open(name)
	if notExist(err) {
		return nil, nil, fmt.Errorf("local %s %s: %w", op, key, storage.ErrNotExist)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("local %s %s: %w", op, key, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("local %s %s: %w", op, key, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, fmt.Errorf("local %s %s: %w (it is a folder)", op, key, storage.ErrNotExist)
	}
	return f, fi, nil
}

// Get opens the whole object; the caller closes it. ErrNotExist if missing.
func (b *Backend) Get(ctx context.Context, key storage.Key) (io.ReadCloser, error) {
	f, _, err := b.openObject(ctx, "get", key)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// GetRange opens length bytes from offset (length < 0: to the end); past
// the end the body is cut short or empty. ErrNotExist if missing.
func (b *Backend) GetRange(ctx context.Context, key storage.Key, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("local get range %s: negative offset %d", key, offset)
	}
	f, fi, err := b.openObject(ctx, "get range", key)
	if err != nil {
		return nil, err
	}
	n := max(fi.Size()-offset, 0)
	if length >= 0 {
		n = min(n, length)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, offset, n), f}, nil
}

// Stat returns size, modification time, and the SHA-256 and metadata from
// the sidecar (empty when none was recorded). ErrNotExist if missing; an
// error if the sidecar is damaged or its size disagrees with the file.
func (b *Backend) Stat(ctx context.Context, key storage.Key) (storage.ObjectInfo, error) {
	name, err := b.path("stat", key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("local stat %s: %w", key, err)
	}
	fi, err := b.root.Stat(name)
	if notExist(err) || (err == nil && !fi.Mode().IsRegular()) {
		return storage.ObjectInfo{}, fmt.Errorf("local stat %s: %w", key, storage.ErrNotExist)
	}
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("local stat %s: %w", key, err)
	}
	info := storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}
	sc, ok, err := b.readSidecar(name)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("local stat %s: %w", key, err)
	}
	if ok {
		if sc.Size != fi.Size() {
			return storage.ObjectInfo{}, fmt.Errorf("local stat %s: object is %d bytes but %d were stored: it is damaged (run verify --deep)", key, fi.Size(), sc.Size)
		}
		info.SHA256, info.Metadata, info.Retention = sc.SHA256, cloneMeta(sc.Metadata), sc.retention()
	}
	return info, nil
}

// List walks the folder prefix in lexical key order (see storage.Backend).
// Files whose names are not valid keys, symlinks, and the scratch and
// sidecar folders are skipped. SHA256 and Metadata are left empty.
func (b *Backend) List(ctx context.Context, prefix storage.Key, fn func(storage.ObjectInfo) error) error {
	// The open root keeps working on a folder that was deleted or moved
	// away; say so instead of listing nothing.
	if _, err := os.Stat(b.dir); err != nil {
		return fmt.Errorf("local list: the archive folder %s is gone (%v): %w", b.dir, err, storage.ErrNotExist)
	}
	dir := "."
	if !prefix.IsZero() {
		var err error
		if dir, err = b.path("list", prefix); err != nil {
			return err
		}
	}
	fi, err := b.root.Stat(dir)
	if notExist(err) || (err == nil && !fi.IsDir()) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("local list %s: %w", prefix, err)
	}
	return b.walk(ctx, dir, fn)
}

// walk lists dir depth-first. Sorting each folder's entries with a '/'
// appended to folder names yields global lexical key order: "a.c" < "a/b"
// because '.' < '/'.
func (b *Backend) walk(ctx context.Context, dir string, fn func(storage.ObjectInfo) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local list: %w", err)
	}
	entries, err := b.readDir(dir)
	if err != nil {
		return fmt.Errorf("local list %s: %w", filepath.ToSlash(dir), err)
	}
	for _, e := range entries {
		name := filepath.Join(dir, e.Name())
		if dir == "." && strings.HasPrefix(e.Name(), reserved) {
			continue
		}
		switch {
		case e.IsDir():
			if err := b.walk(ctx, name, fn); err != nil {
				return err
			}
		case e.Type().IsRegular():
			key, err := storage.ParseKey(filepath.ToSlash(name))
			if err != nil {
				continue // not written by Strata and not addressable by a Key
			}
			fi, err := e.Info()
			if notExist(err) {
				continue // deleted while listing
			}
			if err != nil {
				return fmt.Errorf("local list %s: %w", key, err)
			}
			if err := fn(storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *Backend) readDir(dir string) ([]fs.DirEntry, error) {
	d, err := b.root.Open(dir)
	if notExist(err) {
		return nil, nil // deleted while listing
	}
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	sortKey := func(e fs.DirEntry) string {
		if e.IsDir() {
			return e.Name() + "/"
		}
		return e.Name()
	}
	slices.SortFunc(entries, func(x, y fs.DirEntry) int { return strings.Compare(sortKey(x), sortKey(y)) })
	return entries, nil
}

// Delete removes the object and its sidecar, then prunes folders left
// empty. ErrNotExist if missing, ErrImmutable while the sidecar's
// retention or legal hold protects it (see CheckRetention: a local disk is
// not WORM). Read-only files are removed like any other.
func (b *Backend) Delete(ctx context.Context, key storage.Key) error {
	name, err := b.path("delete", key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local delete %s: %w", key, err)
	}
	mu := b.lock(key)
	mu.Lock()
	defer mu.Unlock()
	fi, err := b.root.Lstat(name)
	if notExist(err) || (err == nil && fi.IsDir()) {
		return fmt.Errorf("local delete %s: %w", key, storage.ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("local delete %s: %w", key, err)
	}
	if err := b.checkDeletable(key, name, time.Now()); err != nil {
		return err
	}
	if err := b.root.Remove(name); err != nil {
		if notExist(err) {
			return fmt.Errorf("local delete %s: %w", key, storage.ErrNotExist)
		}
		return fmt.Errorf("local delete %s: %w", key, err)
	}
	if err := b.root.Remove(metaPath(name)); err != nil && !notExist(err) {
		return fmt.Errorf("local delete %s: object removed, but its sidecar was not (remove %s by hand): %w", key, metaPath(name), err)
	}
	if err := syncDir(b.root, filepath.Dir(name)); err != nil {
		return fmt.Errorf("local delete %s: %w", key, err)
	}
	b.removeLegacySidecar(name)
	b.pruneEmpty(filepath.Dir(name))
	b.pruneEmpty(filepath.Dir(metaPath(name)))
	return nil
}

// pruneEmpty removes dir and its parents while they are empty. Best effort:
// a folder that is not empty (or a concurrent Put's fresh one) stays, and an
// empty folder left behind costs nothing.
func (b *Backend) pruneEmpty(dir string) {
	for dir != "." && dir != metaDir {
		if err := b.root.Remove(dir); err != nil {
			return
		}
		dir = filepath.Dir(dir)
	}
}
