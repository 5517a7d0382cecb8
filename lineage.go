package strata

import (
	"context"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/audit"
	"github.com/stratahq/strata/internal/evidence"
	"github.com/stratahq/strata/internal/lineage"
	"github.com/stratahq/strata/internal/openlineage"
)

// LineageRequest asks for the evidence chain of one dataset over a period.
type LineageRequest struct {
	Dataset  string
	From, To time.Time // inclusive
	// Verify re-reads every listed object that has not expired and checks
	// its SHA-256 and size against the catalog.
	Verify bool
}

// Lineage reports the evidence chain of req.Dataset over [req.From,
// req.To]: what a compliance officer asks for. Everything is read from the
// catalog and the tables in one read-only snapshot; with req.Verify the
// listed objects are then read back from storage and checked. An unknown
// dataset matches ErrNotFound, a bad period ErrInvalid.
func (s *Service) Lineage(ctx context.Context, req LineageRequest) (*LineageReport, error) {
	rep, err := s.evidence(ctx, req)
	e := audit.Entry{Action: audit.ActionLineage, Dataset: req.Dataset, From: req.From, To: req.To, Err: err}
	if rep != nil {
		e.Rows = rep.Totals.RecordsIn
		e.Objects = int64(rep.Totals.SourceObjects + rep.Totals.AnalyticsObjects)
	}
	if req.Verify {
		e.Detail = "verify: objects read back"
	}
	return rep, s.record(ctx, e)
}

func (s *Service) evidence(ctx context.Context, req LineageRequest) (*LineageReport, error) {
	ds, err := s.Dataset(req.Dataset)
	if err != nil {
		return nil, err
	}
	if req.From.IsZero() || req.To.IsZero() {
		return nil, invalid("lineage: from and to are required")
	}
	if req.To.Before(req.From) {
		return nil, invalid("lineage: to %s is before from %s", req.To.Format(time.RFC3339Nano), req.From.Format(time.RFC3339Nano))
	}
	rep, err := evidence.Build(ctx, s.pool, s.store, evidence.Request{Dataset: ds,
		TransformPath: s.cfg.TransformPath(ds), From: req.From, To: req.To, Verify: req.Verify})
	if err != nil {
		return nil, fmt.Errorf("lineage %s: %w", ds.Name, err)
	}
	return rep, nil
}

// The evidence chain's report (built by internal/evidence); its JSON form
// (the field tags) is stable for tools.
type (
	// LineageReport is the evidence chain of a dataset over a period: the
	// raw records received (source objects, Layer 3), every batch and run
	// that touched them (strata.lineage, strata.runs), the transform texts
	// used, the analytics objects of the period's days, totals and an
	// integrity statement.
	LineageReport = evidence.Report
	// LineageObject is one archive object as the catalog records it.
	LineageObject = evidence.Object
	// LineageSource is the raw side: source archive objects holding
	// records ingested in the period, and the period's rows still in Layer 3.
	LineageSource = evidence.Source
	// LineageAnalytics is the transformed side: analytics objects of the
	// period's UTC days and the period's rows still in Layer 2.
	LineageAnalytics = evidence.Analytics
	// LiveRows counts a table's rows whose time column lies in the period.
	LiveRows = evidence.LiveRows
	// LineageBatch is one lineage record: one source batch or ingest
	// batch, one analytics archive job, one replay or restore.
	LineageBatch = evidence.Batch
	// LineageMoved is what a replay did with rows that had moved between days.
	LineageMoved = lineage.MovedDetail
	// LineageRun is the audit trail of one run (strata.runs).
	LineageRun = evidence.Run
	// LineageTransform is one transform version: its full text, as
	// recorded in strata.transforms when it first wrote rows.
	LineageTransform = evidence.Transform
	// CurrentTransform is the transform the dataset is configured with now.
	CurrentTransform = evidence.CurrentTransform
	// LineageTotals sum a LineageReport.
	LineageTotals = evidence.Totals
	// LineageIntegrity is the report's verdict.
	LineageIntegrity = evidence.Integrity
	// LineageCandidate is one candidate transform adopted for a period by
	// a replay (strata replay --transform FILE --apply): the version that
	// wrote those rows instead of the dataset's configured transform.
	LineageCandidate = evidence.Candidate
	// CandidateTransform describes a candidate transform tried by Compare
	// or adopted by Replay with Apply in place of the dataset's configured
	// one: where it came from and the configured transform it stood in for.
	CandidateTransform = lineage.Candidate
	// LineageQuarantine is the period's records that the transform refused
	// at ingest (source.on_transform_error quarantine), kept unprocessed
	// in Layer 3 until a replay --apply processes them.
	LineageQuarantine = evidence.Quarantine
	// QuarantinedRecord is one record of strata.quarantine.
	QuarantinedRecord = evidence.QuarantinedRecord
)

// runObserver is the Service's archive.RunObserver (internal/openlineage/
// observer), nil (untyped) when no lineage destination is configured.
func (s *Service) runObserver() archive.RunObserver {
	if s.lineage == nil {
		return nil
	}
	return s.lineage
}

// OpenLineageStats counts the OpenLineage events emitted, sent and lost
// (all zero when lineage.openlineage_url and _file are unset).
func (s *Service) OpenLineageStats() openlineage.Stats {
	return s.lineage.Stats()
}
