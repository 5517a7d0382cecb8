package storage

import (
	"context"
	"io"
)

// OpenVersion opens length bytes (length < 0: to the end) from offset of
// version versionID of the object at key; versionID "" reads the current
// version through Get or GetRange. Reading the version an upload made,
// rather than whatever is current, means an object another writer put on
// top of it is never read in its place.
func OpenVersion(ctx context.Context, b Backend, key Key, versionID string, offset, length int64) (io.ReadCloser, error) {
	switch {
	case versionID != "":
		return b.GetVersionRange(ctx, key, versionID, offset, length)
	case offset == 0 && length < 0:
		return b.Get(ctx, key)
	}
	return b.GetRange(ctx, key, offset, length)
}
