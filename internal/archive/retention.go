package archive

import (
	"context"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/storage"
)

// Expiry is when an archive object holding data of day expires: the end of
// that UTC day plus retention. Retention runs from the date of the records
// (as SOX and HIPAA count it), not from when they were archived, so the
// same day expires at the same instant whenever, and however often, it is
// archived; a retry or a superseding object asks the storage for the same
// date. A retention of 0 means the object never expires (nil).
func Expiry(day time.Time, retention time.Duration) *time.Time {
	if retention <= 0 {
		return nil
	}
	t := utcDay(day).AddDate(0, 0, 1).Add(retention)
	return &t
}

// retentionMargin is how far in the future a retain-until date must lie for
// an upload to ask the storage for it: S3 refuses a date in the past, and
// the storage's clock, not the database's, decides.
const retentionMargin = time.Minute

// setExpiry sets the object's expiry from its day and, when mode is on, the
// retention its upload asks the storage for: until that expiry.
func (s *staged) setExpiry(retention time.Duration, mode storage.RetentionMode) {
	s.obj.ExpiresAt = Expiry(s.day, retention)
	s.obj.RetentionMode, s.obj.RetainUntil = "", nil
	if mode != storage.RetentionOff && s.obj.ExpiresAt != nil {
		until := *s.obj.ExpiresAt
		s.obj.RetentionMode, s.obj.RetainUntil = string(mode), &until
	}
}

// keepAtLeast lengthens the object's expiry (and retention) to at least
// expiry, that of an object it supersedes: a correction never shortens how
// long the rows it carries are kept. A nil expiry (never expires) makes the
// object's expiry nil too; its retention then stays its own.
func (s *staged) keepAtLeast(expiry *time.Time) {
	switch {
	case expiry == nil:
		s.obj.ExpiresAt = nil
	case s.obj.ExpiresAt != nil && expiry.After(*s.obj.ExpiresAt):
		t := *expiry
		s.obj.ExpiresAt = &t
		if s.obj.RetainUntil != nil {
			u := t
			s.obj.RetainUntil = &u
		}
	}
}

// putRetention is the retention an upload of s asks the storage for. An
// object whose retention already ended (data older than archive.retention,
// archived late), or ends within retentionMargin by the database clock, is
// written without one and recorded so: the storage would refuse the date,
// and the next purge removes the object anyway.
func (a *Archiver) putRetention(ctx context.Context, s *staged) (storage.Retention, error) {
	if s.obj.RetainUntil == nil {
		return storage.Retention{}, nil
	}
	now, err := a.dbNow(ctx)
	if err != nil {
		return storage.Retention{}, fmt.Errorf("read the database clock: %w", err)
	}
	if s.obj.RetainUntil.Before(now.Add(retentionMargin)) {
		a.logger().Warn("object expires at once: written without write-once retention",
			"key", s.obj.Key, "day", s.day.Format(time.DateOnly), "expires", s.obj.ExpiresAt)
		s.obj.RetentionMode, s.obj.RetainUntil = "", nil
		return storage.Retention{}, nil
	}
	return storage.Retention{Mode: storage.RetentionMode(s.obj.RetentionMode), Until: *s.obj.RetainUntil}, nil
}

// CheckImmutability asks the storage whether it can enforce write-once
// retention in mode, for the datasets named (in messages) that ask for
// it. A storage that cannot is an error wrapping its reason (matching
// storage.ErrUnsupported when it lacks the feature). A store that keeps
// retention without being WORM (a local disk: read-only files) is logged as
// such.
func (a *Archiver) CheckImmutability(ctx context.Context, mode storage.RetentionMode, datasets []string) error {
	if mode == storage.RetentionOff {
		return nil
	}
	if err := a.Store.CheckRetention(ctx, mode); err != nil {
		return fmt.Errorf("archive.immutability %s (datasets %v): %w (set archive.immutability: off for them, or use a store that enforces retention; docs/CONFIG.md)",
			mode, datasets, err)
	}
	if c := a.Store.Caps(); !c.WORM {
		a.logger().Warn("archive.immutability on a store that is not WORM: a "+c.Name+" store keeps objects read-only and Strata does not delete them before their retention, but anyone with write access to it can delete or change them; use S3 Object Lock or Azure immutability for compliance",
			"mode", mode.String(), "datasets", datasets)
	}
	return nil
}
