package strata

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/audit"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/lineage"
)

// ReplayRequest names a dataset, a period of ingestion times (both bounds
// inclusive) and whether to write the differences back.
type ReplayRequest struct {
	Dataset  string
	From, To time.Time
	// Apply writes the differences back; without it Replay only reports
	// them, like Compare.
	Apply bool
	// Transform, when set, is the SQL text of a candidate transform run
	// instead of the configured one (see CompareRequest.Transform). With
	// Apply it is adopted for the period: its text is recorded as a
	// transform version in the catalog (strata.transforms) and the lineage
	// record marks it a candidate; the dataset's configured transform is
	// unchanged, so later ingests still use it.
	Transform string
	// TransformName labels the candidate (a file name); "request" when empty.
	TransformName string
}

// Replay re-runs the dataset's current transform over the raw records
// ingested in the period, as Compare does. Without Apply it reports what
// would change and changes nothing. With Apply, in one transaction, it
// upserts the expected rows of keys that are live in Layer 2 and differ,
// or are missing everywhere (so with Layer 2 emptied it rebuilds it from
// the source archive), corrects changed archived rows with new analytics
// objects that supersede the old ones, and records a lineage record with
// the transform's text. Rows changed in Layer 2 after they were compared
// are left alone (Applied.Skipped). The period's quarantined records (the
// transform refused them at ingest, source.on_transform_error quarantine)
// count in SourceRecords.Quarantined; an apply processes them: marks them
// processed in Layer 3 and resolved in strata.quarantine, in the same
// transaction (Applied.Quarantined). Otherwise replay never deletes a row
// nor touches Layer 3, and applying twice changes nothing the second time.
//
// An archived object under a legal hold is never superseded: the apply is
// refused (ErrHeld, naming the hold) before anything is written. New
// objects an apply commits into a held period get the storage's legal hold
// at once.
func (s *Service) Replay(ctx context.Context, req ReplayRequest) (*CompareReport, error) {
	if req.Apply {
		if err := s.CheckImmutability(ctx); err != nil {
			return nil, s.record(ctx, audit.Entry{Action: audit.ActionReplayApply, Dataset: req.Dataset, From: req.From, To: req.To, Err: err})
		}
	}
	action := audit.ActionReplay
	if req.Apply {
		action = audit.ActionReplayApply
	}
	rep, err := s.lineageRun(ctx, req, action)
	if err == nil && rep != nil && rep.Applied != nil {
		s.Archiver().HoldNew(ctx, rep.Applied.Objects)
		s.publishAfter(ctx, req.Dataset)
	}
	return rep, err
}

// superseder corrects archived analytics rows for replay --apply with
// archive.Archiver.Supersede, in the replay's transaction.
func (s *Service) superseder(ds *config.Dataset) lineage.Superseder {
	spec, err := s.AnalyticsSpec(ds)
	if err != nil {
		return nil // lineageRun checked that the dataset has an analytics table
	}
	arch := s.Archiver()
	return func(ctx context.Context, tx pgx.Tx, corrections string, days []time.Time) (lineage.SupersedeResult, error) {
		rep, err := arch.Supersede(ctx, tx, spec, corrections, days)
		return lineage.SupersedeResult{Objects: rep.Written, Superseded: rep.Superseded, Rows: rep.Corrected}, err
	}
}
