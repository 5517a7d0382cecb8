package storage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
)

// Fetch downloads version versionID ("" the current one; see OpenVersion)
// of the object at key into an unlinked temporary file in dir (gone when
// closed, whatever happens) and checks its size and hex SHA-256 against the
// ones recorded for it before a byte of it is trusted. A mismatch is
// ErrChecksum, naming both. The file is returned at its end; read it with
// ReadAt or seek first.
func Fetch(ctx context.Context, b Backend, key Key, versionID string, size int64, sha string, dir string) (*os.File, error) {
	rc, err := OpenVersion(ctx, b, key, versionID, 0, -1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	defer rc.Close()
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "strata-read-*.parquet")
	if err != nil {
		return nil, fmt.Errorf("spool file: %w", err)
	}
	os.Remove(f.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	if sum := hex.EncodeToString(h.Sum(nil)); n != size || sum != sha {
		f.Close()
		return nil, fmt.Errorf("%w: %s has %d bytes with sha256 %s, the catalog recorded %d bytes with %s; run 'strata verify --deep'",
			ErrChecksum, key, n, sum, size, sha)
	}
	return f, nil
}
