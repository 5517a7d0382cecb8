package strata

import (
	"context"
	"errors"
	"time"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/audit"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
)

// ErrRestoreConflict matches a restore refused because archived rows would
// collide with rows already in Layer 2 (or a key archived twice in the
// range); nothing was changed. It is not ErrInvalid: the request is well
// formed, the data is in the way.
var ErrRestoreConflict = archive.ErrRestoreConflict

// RestoreRequest asks for archived analytics rows to be copied back into
// the database.
type RestoreRequest struct {
	// Dataset names the dataset (it must have an analytics table).
	Dataset string
	// From and To select archive objects by their UTC day, inclusive:
	// objects are whole days, so a time within a day restores that
	// whole day.
	From, To time.Time
	// Into, when set, is a table ("table" or "schema.table") to copy the
	// rows into instead of the dataset's Layer 2 table, for investigation:
	// it is created (with the archived columns) when missing, must be empty
	// otherwise, and the catalog is left unchanged.
	Into string
}

// RestoreReport says what Restore copied: per day, objects and rows.
type RestoreReport = archive.RestoreReport

// Restore copies the rows of the dataset's current analytics archive
// objects of the days in [From, To] back into the database, each object
// checked against its catalog SHA-256 and row count, in one transaction.
//
// Without Into the rows go back into Layer 2 and the objects are marked
// restored, so retrieval reads each row once, from the table; a lineage
// record lists the objects. A row whose key is already in Layer 2 is never
// overwritten: the whole restore is refused (ErrRestoreConflict) and nothing
// changes. Restored rows still past analytics.retention are archived again,
// as new objects, by the next archive run.
//
// Errors from the request (unknown dataset, reversed range, a bad or unsuitable
// Into table) match ErrInvalid or ErrNotFound.
func (s *Service) Restore(ctx context.Context, req RestoreRequest) (RestoreReport, error) {
	rep, err := s.restore(ctx, req)
	if len(rep.Objects) > 0 {
		s.publishAfter(ctx, req.Dataset)
	}
	var rows int64
	for _, d := range rep.Days {
		rows += d.Rows
	}
	e := audit.Entry{Action: audit.ActionRestore, Dataset: req.Dataset, From: req.From, To: req.To,
		Rows: rows, Objects: int64(len(rep.Objects)), Err: err}
	if req.Into != "" {
		e.Detail = "into " + req.Into
	}
	return rep, s.record(ctx, e)
}

func (s *Service) restore(ctx context.Context, req RestoreRequest) (RestoreReport, error) {
	ds, err := s.Dataset(req.Dataset)
	if err != nil {
		return RestoreReport{}, err
	}
	if err := s.CheckImmutability(ctx); err != nil {
		return RestoreReport{}, err
	}
	if _, _, err := s.layer(ds, catalog.TypeAnalytics); err != nil {
		return RestoreReport{}, err
	}
	if req.From.IsZero() || req.To.IsZero() {
		return RestoreReport{}, invalid("restore needs a range: from and to")
	}
	if req.To.Before(req.From) {
		return RestoreReport{}, invalid("to %s is before from %s", req.To.Format(time.RFC3339), req.From.Format(time.RFC3339))
	}
	opts := archive.RestoreOptions{From: req.From, To: req.To}
	if req.Into != "" {
		name, err := config.ParseTableName(req.Into)
		if err != nil {
			return RestoreReport{}, invalid("into table: %v", err)
		}
		opts.Into = name.Identifier()
	}
	spec, err := s.AnalyticsSpec(ds)
	if err != nil {
		return RestoreReport{}, err
	}
	rep, err := s.Archiver().Restore(ctx, spec, opts)
	if errors.Is(err, archive.ErrRestoreTarget) {
		err = asInvalid(err)
	}
	return rep, err
}
