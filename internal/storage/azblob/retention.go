package azblob

import (
	"context"
	"fmt"
	"io"

	"github.com/stratahq/strata/internal/storage"
)

// GetVersionRange reads the current version only (versionID ""); versions
// are not implemented yet.
func (b *Backend) GetVersionRange(ctx context.Context, key storage.Key, versionID string, offset, length int64) (io.ReadCloser, error) {
	if versionID != "" {
		return nil, storage.Unsupported("azblob get version "+key.String(), "reading a version by id", "")
	}
	return b.GetRange(ctx, key, offset, length)
}

// CheckRetention accepts only RetentionOff until retention is implemented.
func (b *Backend) CheckRetention(_ context.Context, mode storage.RetentionMode) error {
	if mode == storage.RetentionOff {
		return nil
	}
	return storage.Unsupported("azblob", fmt.Sprintf("%s retention", mode), "not implemented yet")
}

// SetLegalHold is not implemented yet.
func (b *Backend) SetLegalHold(_ context.Context, key storage.Key, _ bool) error {
	return storage.Unsupported("azblob legal hold "+key.String(), "legal hold", "not implemented yet")
}

// refuseRetention refuses a Put that asks for retention this backend does
// not enforce yet, rather than store an unprotected object.
func refuseRetention(opts storage.PutOptions) error {
	if opts.Retention.Mode == storage.RetentionOff {
		return nil
	}
	return storage.Unsupported("azblob put", fmt.Sprintf("%s retention", opts.Retention.Mode), "not implemented yet")
}
