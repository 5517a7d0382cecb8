package strata

import (
	"context"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/audit"
	"github.com/stratahq/strata/internal/catalog"
)

// ArchiveSource archives the dataset's Layer 3 rows that are not yet in a
// committed source batch (rows written by other programs; ingested rows are
// archived as they arrive), transforming them into Layer 2 when the dataset
// has a transform. Several processes may run it at once: rows are claimed,
// never archived twice.
func (s *Service) ArchiveSource(ctx context.Context, dataset string, opts archive.SourceOptions) (archive.Report, error) {
	ds, err := s.Dataset(dataset)
	if err != nil {
		return archive.Report{}, err
	}
	spec, err := s.SourceSpec(ds)
	if err != nil {
		return archive.Report{}, err
	}
	if err := s.CheckImmutability(ctx); err != nil && !opts.DryRun {
		return archive.Report{}, s.recordRun(ctx, audit.ActionArchiveSource, dataset, archive.Report{}, false, err)
	}
	if !opts.DryRun {
		s.publishTables(ctx, dataset) // a publish a crash prevented
		defer s.publishAfter(ctx, dataset)
	}
	rep, err := s.Archiver().Source(ctx, spec, opts)
	return rep, s.recordRun(ctx, audit.ActionArchiveSource, dataset, rep, opts.DryRun, err)
}

// ArchiveAnalytics moves the dataset's Layer 2 rows older than its
// retention to the analytics archive, whole UTC days at a time. When another
// process is archiving the dataset the run is skipped (Report.Skipped).
func (s *Service) ArchiveAnalytics(ctx context.Context, dataset string, opts archive.Options) (archive.Report, error) {
	ds, err := s.Dataset(dataset)
	if err != nil {
		return archive.Report{}, err
	}
	spec, err := s.AnalyticsSpec(ds)
	if err != nil {
		return archive.Report{}, err
	}
	if err := s.CheckImmutability(ctx); err != nil && !opts.DryRun {
		return archive.Report{}, s.recordRun(ctx, audit.ActionArchiveAnalytics, dataset, archive.Report{}, false, err)
	}
	if !opts.DryRun {
		s.publishTables(ctx, dataset) // a publish a crash prevented
		defer s.publishAfter(ctx, dataset)
	}
	arch := s.Archiver()
	arch.Progress = opts.Progress
	rep, err := arch.Analytics(ctx, spec, opts)
	return rep, s.recordRun(ctx, audit.ActionArchiveAnalytics, dataset, rep, opts.DryRun, err)
}

// recordRun records an archive run and anchors the audit chain's head (at
// every archive run that wrote something).
func (s *Service) recordRun(ctx context.Context, action, dataset string, rep archive.Report, dryRun bool, err error) error {
	e := audit.Entry{Action: action, Dataset: dataset, Rows: rep.Rows(), Objects: int64(len(rep.Days)), Err: err}
	switch {
	case dryRun:
		e.Detail, e.Objects = "dry run", 0
	case rep.Skipped != "":
		e.Detail = "skipped: " + rep.Skipped
	}
	err = s.record(ctx, e)
	if !dryRun && rep.Skipped == "" {
		s.audit.Anchor(ctx, true)
	}
	return err
}

// PurgeReport is the outcome of Purge.
type PurgeReport struct {
	Layer3 archive.PurgeReport
	Expiry archive.ExpiryReport
	// IdempotencyKeys are the ingest keys past source.idempotency_window
	// deleted (or, in a dry run, that would be).
	IdempotencyKeys int64
	// ErasedObjects are old objects of erasures whose retention has
	// ended, deleted from storage now (none in a dry run).
	ErasedObjects int
	// expiring: the Layer 3 purge is done and expiry ran.
	expiring bool
}

// Purge deletes the dataset's archived Layer 3 rows older than
// source.retention (never a row that is not archived, nor, with a
// transform, one not processed) and expires its archive objects past
// archive.retention. A dataset without a source table only expires objects.
// Objects under a legal hold are kept (Expiry.Held names the holds); the
// Layer 3 rows of a held source period are purged as usual, since every
// purged row is in a committed source object, which the hold keeps.
func (s *Service) Purge(ctx context.Context, dataset string, dryRun bool) (PurgeReport, error) {
	rep, err := s.purge(ctx, dataset, dryRun)
	if !dryRun && rep.expiring {
		s.publishAfter(ctx, dataset)
	}
	detail := ""
	if dryRun {
		detail = "dry run"
	}
	perr := err
	if rep.expiring { // expiry ran: purge itself ended well
		perr = nil
	}
	err1 := s.record(ctx, audit.Entry{Action: audit.ActionPurge, Dataset: dataset, Rows: rep.Layer3.Purged, Detail: detail, Err: perr})
	if !rep.expiring {
		return rep, err1
	}
	return rep, s.record(ctx, audit.Entry{Action: audit.ActionExpire, Dataset: dataset, Objects: int64(len(rep.Expiry.Expired)), Detail: detail, Err: err})
}

func (s *Service) purge(ctx context.Context, dataset string, dryRun bool) (PurgeReport, error) {
	var rep PurgeReport
	ds, err := s.Dataset(dataset)
	if err != nil {
		return rep, err
	}
	if err := s.CheckImmutability(ctx); err != nil && !dryRun {
		return rep, err
	}
	arch := s.Archiver()
	if ds.Source != nil {
		spec, err := s.SourceSpec(ds)
		if err != nil {
			return rep, err
		}
		if rep.Layer3, err = arch.Purge(ctx, spec, ds.Source.Retention.Duration(), spec.Transform != nil, dryRun); err != nil {
			return rep, err
		}
		if rep.IdempotencyKeys, err = catalog.PurgeIngestKeys(ctx, s.pool, dataset, dryRun); err != nil {
			return rep, err
		}
	}
	if !dryRun { // a released hold's storage flags must be cleared before its objects can expire
		if _, err := s.ReconcileHolds(ctx); err != nil {
			s.log.Error("storage legal holds not in line with the holds; objects whose flag is still set stay locked", "err", err)
		}
	}
	rep.expiring = true
	if rep.Expiry, err = arch.Expire(ctx, dataset, dryRun); err != nil || dryRun {
		return rep, err
	}
	rep.ErasedObjects, err = s.deleteErased(ctx, dataset)
	return rep, err
}
