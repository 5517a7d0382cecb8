package strata

import (
	"context"
	"errors"
	"slices"

	"github.com/stratahq/strata/internal/storage"
)

// CheckImmutability checks, for every archive.immutability the datasets ask
// for, that the storage can enforce it (S3 Object Lock on the bucket, Azure
// version-level immutability on the container). serve and every command
// that writes call it at start, and every method of the Service that writes
// calls it before its first write; it asks the storage once per Service
// when it succeeds. A storage that lacks the feature is ErrInvalid (the
// configuration asks for what the storage cannot do), naming the datasets
// and the storage's reason; a storage that cannot be reached is a plain
// error. With immutability off everywhere it does nothing.
func (s *Service) CheckImmutability(ctx context.Context) error {
	if s.immutable.Load() {
		return nil
	}
	modes := map[storage.RetentionMode][]string{}
	for _, ds := range s.cfg.Datasets {
		if m := ds.Archive.RetentionMode(); m != storage.RetentionOff {
			modes[m] = append(modes[m], ds.Name)
		}
	}
	arch := s.Archiver()
	for _, m := range []storage.RetentionMode{storage.RetentionGovernance, storage.RetentionCompliance} {
		if len(modes[m]) == 0 {
			continue
		}
		if err := arch.CheckImmutability(ctx, m, slices.Clone(modes[m])); err != nil {
			if errors.Is(err, storage.ErrUnsupported) {
				return asInvalid(err)
			}
			return err
		}
	}
	s.immutable.Store(true)
	return nil
}
