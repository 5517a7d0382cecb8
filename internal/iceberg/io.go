package iceberg

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"time"

	icebergio "github.com/apache/iceberg-go/io"

	"github.com/stratahq/strata/internal/storage"
)

// iceberg-go finds the file system of a location only through a
// process-wide registry of URI schemes, whose factories receive the
// catalog's properties. Strata registers one factory for each scheme its
// locations use; every call into iceberg-go registers its own adapter
// (its context, store and retention) under a fresh id in ios and names it
// in the catalog's properties (propIO), so no credentials are handed to
// iceberg-go and concurrent calls never share a context. This is the one
// package-level state here, imposed by iceberg-go's design.
var (
	registerOnce sync.Once
	ios          sync.Map // id -> *blobIO
)

// propIO is the catalog property naming the adapter of a call.
const propIO = "strata.io"

// schemes are the schemes of newLocator's bases.
var schemes = []string{"file", "s3", "abfss"}

func registerSchemes() {
	registerOnce.Do(func() {
		for _, s := range schemes {
			// iceberg-go registers its own local file system for file://
			// (and the empty scheme); a location without our property
			// still gets it.
			icebergio.Unregister(s)
			icebergio.Register(s, factory(s))
		}
	})
}

func factory(scheme string) icebergio.SchemeFactory {
	return func(ctx context.Context, u *url.URL, props map[string]string) (icebergio.IO, error) {
		if v, ok := ios.Load(props[propIO]); ok {
			return v.(*blobIO), nil
		}
		if scheme == "file" {
			return icebergio.LocalFS{}, nil
		}
		return nil, fmt.Errorf("iceberg: no Strata storage for %s:// locations in this call", scheme)
	}
}

// blobIO is iceberg-go's file system over a storage.Backend. It reads any
// object of the archive but writes and removes only the table metadata
// (keys with a metadataDir segment): the archive's objects are never
// touched through it.
type blobIO struct {
	ctx   context.Context
	store storage.Backend
	loc   locator
	// retention is what each metadata file asks the store for (the
	// archive's, where archive.immutability is on).
	retention func(now time.Time) storage.Retention
	// written is called with the key of each metadata file stored; an
	// error from it fails the write (after the file is stored), which is
	// how tests stop a publish between its files and its catalog commit.
	written func(storage.Key) error
}

// register makes b reachable from iceberg-go through the returned
// properties until release is called.
func register(b *blobIO) (props map[string]string, release func()) {
	registerSchemes()
	var r [12]byte
	_, _ = rand.Read(r[:])
	id := hex.EncodeToString(r[:])
	ios.Store(id, b)
	return map[string]string{propIO: id}, func() { ios.Delete(id) }
}

func pathErr(op, name string, err error) error {
	if errors.Is(err, storage.ErrNotExist) {
		err = errors.Join(fs.ErrNotExist, err)
	}
	return &fs.PathError{Op: op, Path: name, Err: err}
}

// Open opens the object at location name for reading.
func (b *blobIO) Open(name string) (icebergio.File, error) {
	k, err := b.loc.key(name)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	info, err := b.store.Stat(b.ctx, k)
	if err != nil {
		return nil, pathErr("open", name, err)
	}
	return &blobFile{ra: storage.NewReaderAt(b.ctx, b.store, k, ""), info: info}, nil
}

// ReadFile reads a whole object.
func (b *blobIO) ReadFile(name string) ([]byte, error) {
	k, err := b.loc.key(name)
	if err != nil {
		return nil, pathErr("read", name, err)
	}
	rc, err := b.store.Get(b.ctx, k)
	if err != nil {
		return nil, pathErr("read", name, err)
	}
	defer rc.Close()
	p, err := io.ReadAll(rc)
	if err != nil {
		return nil, pathErr("read", name, err)
	}
	return p, nil
}

// metadataKey is the key of name if it is table metadata.
func (b *blobIO) metadataKey(op, name string) (storage.Key, error) {
	k, err := b.loc.key(name)
	if err != nil {
		return storage.Key{}, pathErr(op, name, err)
	}
	for _, s := range k.Segments() {
		if s == metadataDir {
			return k, nil
		}
	}
	return storage.Key{}, pathErr(op, name, fmt.Errorf("iceberg: %s is not table metadata (under %s/): refused", k, metadataDir))
}

// Remove deletes a metadata file iceberg-go wrote and no longer needs
// (after a failed commit). A store's retention may refuse.
func (b *blobIO) Remove(name string) error {
	k, err := b.metadataKey("remove", name)
	if err != nil {
		return err
	}
	if err := b.store.Delete(b.ctx, k); err != nil && !errors.Is(err, storage.ErrNotExist) {
		return pathErr("remove", name, err)
	}
	return nil
}

// WriteFile stores p at name, create-only.
func (b *blobIO) WriteFile(name string, p []byte) error {
	k, err := b.metadataKey("write", name)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(p)
	opts := storage.PutOptions{Size: int64(len(p)), SHA256: hex.EncodeToString(sum[:])}
	if b.retention != nil {
		opts.Retention = b.retention(time.Now())
	}
	if _, err := b.store.Put(b.ctx, k, bytes.NewReader(p), opts); err != nil {
		return pathErr("write", name, err)
	}
	if b.written != nil {
		if err := b.written(k); err != nil {
			return pathErr("write", name, err)
		}
	}
	return nil
}

// Create returns a writer whose bytes are stored at name on Close.
// Metadata files are small (kilobytes to a few megabytes), so they are
// held in memory and stored with one create-only Put.
func (b *blobIO) Create(name string) (icebergio.FileWriter, error) {
	if _, err := b.metadataKey("create", name); err != nil {
		return nil, err
	}
	return &blobWriter{io: b, name: name}, nil
}

type blobWriter struct {
	bytes.Buffer
	io     *blobIO
	name   string
	closed bool
}

func (w *blobWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	return w.io.WriteFile(w.name, w.Bytes())
}

// blobFile reads an object by ranges.
type blobFile struct {
	ra   *storage.ReaderAt
	info storage.ObjectInfo
	off  int64
}

func (f *blobFile) Stat() (fs.FileInfo, error) { return fileInfo{f.info}, nil }
func (f *blobFile) Close() error               { return nil }

func (f *blobFile) Read(p []byte) (int, error) {
	if f.off >= f.info.Size {
		return 0, io.EOF
	}
	if rest := f.info.Size - f.off; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := f.ra.ReadAt(p, f.off)
	f.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (f *blobFile) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.info.Size {
		return 0, io.EOF
	}
	want := len(p)
	if rest := f.info.Size - off; int64(want) > rest {
		p = p[:rest]
	}
	n, err := f.ra.ReadAt(p, off)
	if err == nil && n < want {
		err = io.EOF
	}
	return n, err
}

func (f *blobFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += f.info.Size
	default:
		return 0, fmt.Errorf("seek: whence %d", whence)
	}
	if offset < 0 {
		return 0, fmt.Errorf("seek: negative offset %d", offset)
	}
	f.off = offset
	return offset, nil
}

type fileInfo struct{ o storage.ObjectInfo }

func (i fileInfo) Name() string {
	s := i.o.Key.String()
	return s[strings.LastIndexByte(s, '/')+1:]
}
func (i fileInfo) Size() int64        { return i.o.Size }
func (i fileInfo) Mode() fs.FileMode  { return 0o444 }
func (i fileInfo) ModTime() time.Time { return i.o.ModTime }
func (i fileInfo) IsDir() bool        { return false }
func (i fileInfo) Sys() any           { return nil }
