package storage

import (
	"context"
	"fmt"
	"io"
)

// versionReader is a Backend that reads a given version of an object
// (Backend.GetVersionRange on stores that keep versions).
type versionReader interface {
	GetVersionRange(ctx context.Context, key Key, versionID string, offset, length int64) (io.ReadCloser, error)
}

// OpenVersion opens length bytes (length < 0: to the end) from offset of
// version versionID of the object at key, as GetRange does for the current
// version; versionID "" reads the current version. Reading the version an
// upload made, rather than whatever is current, means an object another
// writer put on top of it is never read in its place. A store that cannot
// read versions fails with ErrUnsupported.
func OpenVersion(ctx context.Context, b Backend, key Key, versionID string, offset, length int64) (io.ReadCloser, error) {
	switch {
	case versionID != "":
		vr, ok := b.(versionReader)
		if !ok {
			return nil, fmt.Errorf("read %s version %s: the %s store cannot read a given version: %w", key, versionID, b.Caps().Name, ErrUnsupported)
		}
		return vr.GetVersionRange(ctx, key, versionID, offset, length)
	case offset == 0 && length < 0:
		return b.Get(ctx, key)
	}
	return b.GetRange(ctx, key, offset, length)
}
