package local

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"time"

	"github.com/stratahq/strata/internal/storage"
)

// sidecar is what .strata-meta/<key>.meta records about an object at Put time.
// Keeping it beside the tree rather than in xattrs works on every file system
// and survives copying the archive with ordinary tools.
type sidecar struct {
	Version  int               `json:"version"`
	Size     int64             `json:"size"`
	SHA256   string            `json:"sha256"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// RetainMode and RetainUntil are PutOptions.Retention; LegalHold is set
	// by SetLegalHold. Delete refuses while they protect the object.
	RetainMode  storage.RetentionMode `json:"retain_mode,omitempty"`
	RetainUntil *time.Time            `json:"retain_until,omitempty"`
	LegalHold   bool                  `json:"legal_hold,omitempty"`
}

// retention is the sidecar's retention as storage states it.
func (sc sidecar) retention() storage.Retention {
	r := storage.Retention{Mode: sc.RetainMode, LegalHold: sc.LegalHold}
	if sc.RetainUntil != nil {
		r.Until = *sc.RetainUntil
	}
	return r
}

const sidecarVersion = 1

// newSidecar is the sidecar of an object Put with opts.
func newSidecar(opts storage.PutOptions) sidecar {
	sc := sidecar{Size: opts.Size, SHA256: opts.SHA256, Metadata: opts.Metadata,
		RetainMode: opts.Retention.Mode, LegalHold: opts.Retention.LegalHold}
	if opts.Retention.Mode != storage.RetentionOff {
		until := opts.Retention.Until.UTC()
		sc.RetainUntil = &until
	}
	return sc
}

// writeSidecar records sc for the object at name: temp file, fsync, rename
// (replacing is right here: only the Put that won the link writes it, and a
// file already there is a stale leftover of a deleted object).
func (b *Backend) writeSidecar(name string, sc sidecar) error {
	sc.Version = sidecarVersion
	data, err := json.Marshal(sc)
	if err != nil {
		return fmt.Errorf("encode sidecar: %w", err)
	}
	tmp, f, err := b.createTemp()
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = b.root.Remove(tmp)
		return fmt.Errorf("write sidecar: %w", err)
	}
	mp := metaPath(name)
	for range 3 {
		if err = b.placeSidecar(tmp, mp); !errors.Is(err, fs.ErrNotExist) {
			break // ErrNotExist: a Delete pruned the empty folder meanwhile; retry
		}
	}
	if err != nil {
		_ = b.root.Remove(tmp)
		return err
	}
	b.removeLegacySidecar(name)
	return syncDir(b.root, filepath.Dir(mp))
}

// removeLegacySidecar removes the object's sidecar of the old layout, if
// there is one (a file: a folder there holds other keys' old sidecars).
func (b *Backend) removeLegacySidecar(name string) {
	if fi, err := b.root.Lstat(legacyMetaPath(name)); err == nil && fi.Mode().IsRegular() {
		_ = b.root.Remove(legacyMetaPath(name))
	}
}

// placeSidecar renames the temp file tmp to mp, making room first.
func (b *Backend) placeSidecar(tmp, mp string) error {
	if err := b.mkdirs(filepath.Dir(mp), true); err != nil {
		return err
	}
	if fi, err := b.root.Lstat(mp); err == nil && fi.IsDir() {
		// Stale sidecars of deleted objects once stored beneath this name.
		if err := b.root.RemoveAll(mp); err != nil {
			return fmt.Errorf("remove stale sidecar folder: %w", err)
		}
	}
	if err := b.root.Rename(tmp, mp); err != nil {
		return fmt.Errorf("publish sidecar: %w", err)
	}
	return nil
}

// readSidecar returns the sidecar of the object at name; ok is false when
// there is none (a crash between publishing the object and its sidecar).
func (b *Backend) readSidecar(name string) (sc sidecar, ok bool, err error) {
	path := metaPath(name)
	data, err := b.root.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		path = legacyMetaPath(name)
		if fi, lerr := b.root.Lstat(path); lerr != nil || !fi.Mode().IsRegular() {
			return sidecar{}, false, nil
		}
		data, err = b.root.ReadFile(path)
	}
	if err != nil {
		return sidecar{}, false, fmt.Errorf("read sidecar: %w", err)
	}
	if err := json.Unmarshal(data, &sc); err != nil || sc.Version != sidecarVersion {
		return sidecar{}, false, fmt.Errorf("sidecar %s is damaged or of an unknown version (run verify --deep): %v",
			filepath.ToSlash(path), err)
	}
	return sc, true, nil
}

func cloneMeta(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return maps.Clone(m)
}
