package local

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/stratahq/strata/internal/storage"
)

// A local disk is not WORM. The file backend keeps PutOptions.Retention
// and legal holds in the object's sidecar and its own Delete refuses a
// protected object with storage.ErrImmutable; the object file is read-only
// (0444) like every object here. Anyone with write access to the archive
// folder can still chmod, delete or overwrite both, so Caps().WORM is
// false: use S3 Object Lock or Azure immutability where the storage itself
// must refuse.

// CheckRetention accepts every mode: the file backend keeps retention (see
// above), and Caps().WORM tells callers that a local disk is not WORM.
func (b *Backend) CheckRetention(context.Context, storage.RetentionMode) error { return nil }

// GetVersionRange reads the object (versionID ""): the file backend keeps
// no versions, so another id is ErrUnsupported.
func (b *Backend) GetVersionRange(ctx context.Context, key storage.Key, versionID string, offset, length int64) (io.ReadCloser, error) {
	if versionID != "" {
		return nil, storage.Unsupported("local get "+key.String(), "reading version "+versionID, "the file backend keeps no versions")
	}
	return b.GetRange(ctx, key, offset, length)
}

// SetLegalHold records (on) or clears the object's legal hold in its
// sidecar; Delete refuses the object while it is set. ErrNotExist if
// missing.
func (b *Backend) SetLegalHold(ctx context.Context, key storage.Key, on bool) error {
	return b.updateSidecar(ctx, "legal hold", key, func(sc *sidecar) error {
		sc.LegalHold = on
		return nil
	})
}

// SetRetention records r in the object's sidecar (the file backend keeps
// no versions: versionID must be ""). An active retention is only ever
// extended: a shorter Until, or governance over compliance, is
// ErrImmutable. ErrNotExist if missing.
func (b *Backend) SetRetention(ctx context.Context, key storage.Key, versionID string, r storage.Retention) error {
	if versionID != "" {
		return storage.Unsupported("local set retention "+key.String(), "version "+versionID, "the file backend keeps no versions")
	}
	if r.Mode == storage.RetentionOff || r.Until.IsZero() {
		return fmt.Errorf("local set retention %s: a mode and an until time are needed", key)
	}
	return b.updateSidecar(ctx, "set retention", key, func(sc *sidecar) error {
		if cur := sc.retention(); cur.Mode != storage.RetentionOff && cur.Active(time.Now()) &&
			(r.Until.Before(cur.Until) || (cur.Mode == storage.RetentionCompliance && r.Mode != storage.RetentionCompliance)) {
			return fmt.Errorf("%w (%s retention until %s cannot be shortened or weakened)",
				storage.ErrImmutable, cur.Mode, cur.Until.Format(time.RFC3339))
		}
		until := r.Until.UTC()
		sc.RetainMode, sc.RetainUntil = r.Mode, &until
		return nil
	})
}

// updateSidecar changes an existing object's sidecar with change, under
// the key's lock. ErrNotExist if the object is missing.
func (b *Backend) updateSidecar(ctx context.Context, op string, key storage.Key, change func(*sidecar) error) error {
	name, err := b.path(op, key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("local %s %s: %w", op, key, err)
	}
	mu := b.lock(key)
	mu.Lock()
	defer mu.Unlock()
	fi, err := b.root.Stat(name)
	if notExist(err) || (err == nil && !fi.Mode().IsRegular()) {
		return fmt.Errorf("local %s %s: %w", op, key, storage.ErrNotExist)
	}
	if err != nil {
		return fmt.Errorf("local %s %s: %w", op, key, err)
	}
	sc, ok, err := b.readSidecar(name)
	if err != nil {
		return fmt.Errorf("local %s %s: %w", op, key, err)
	}
	if !ok {
		sc = sidecar{Size: fi.Size()} // a crash lost it: keep what is known
	}
	if err := change(&sc); err != nil {
		return fmt.Errorf("local %s %s: %w", op, key, err)
	}
	if err := b.writeSidecar(name, sc); err != nil {
		return fmt.Errorf("local %s %s: %w", op, key, err)
	}
	return nil
}

// checkDeletable returns ErrImmutable while the object's sidecar says a
// retention or legal hold protects it.
func (b *Backend) checkDeletable(key storage.Key, name string, now time.Time) error {
	sc, ok, err := b.readSidecar(name)
	if err != nil {
		return fmt.Errorf("local delete %s: %w", key, err)
	}
	if r := sc.retention(); ok && r.Active(now) {
		if r.LegalHold {
			return fmt.Errorf("local delete %s: %w (its legal hold is set)", key, storage.ErrImmutable)
		}
		return fmt.Errorf("local delete %s: %w (%s retention until %s)", key, storage.ErrImmutable, r.Mode, r.Until.Format(time.RFC3339))
	}
	return nil
}
