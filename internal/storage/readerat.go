package storage

import (
	"context"
	"fmt"
	"io"
)

// ReaderAt reads an object by ranges, for formats such as Parquet that read
// a footer first and then only the column chunks they need.
type ReaderAt struct {
	ctx     context.Context
	b       Backend
	key     Key
	version string
}

// NewReaderAt returns an io.ReaderAt over version versionID ("" the current
// one; see OpenVersion) of the object at key. Each ReadAt is one ranged
// GET; callers buffer as they see fit.
func NewReaderAt(ctx context.Context, b Backend, key Key, versionID string) *ReaderAt {
	return &ReaderAt{ctx: ctx, b: b, key: key, version: versionID}
}

// ReadAt implements io.ReaderAt.
func (r *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	rc, err := OpenVersion(r.ctx, r.b, r.key, r.version, off, int64(len(p)))
	if err != nil {
		return 0, fmt.Errorf("read %s at %d: %w", r.key, off, err)
	}
	defer rc.Close()
	n, err := io.ReadFull(rc, p)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}
