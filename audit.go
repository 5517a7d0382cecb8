package strata

import (
	"context"
	"log/slog"
	"time"

	"github.com/stratahq/strata/internal/audit"
	"github.com/stratahq/strata/internal/storage"
)

// The audit trail's types (built by internal/audit); their JSON form is
// what `strata audit list|verify --format json` and GET /v1/audit print.
type (
	// AuditRecord is one record of the audit trail: when, who (actor,
	// via, address, database role), what, on which dataset and period,
	// rows and objects, the result, and its place in the hash chain.
	AuditRecord = audit.Record
	// AuditReport is what AuditVerify found: records, anchors, problems.
	AuditReport = audit.Report
	// AuditEntry is an action to record (see Service.AuditTrail).
	AuditEntry = audit.Entry
)

// AuditFilter selects audit records; zero fields match everything.
type AuditFilter struct {
	Dataset string
	// From and To (inclusive) select records whose period overlaps them;
	// records without a period (archive runs, purges), by when they were
	// written.
	From, To time.Time
	// Who is an actor's name: a token's name, an operating-system user,
	// "scheduler".
	Who string
	// Limit caps the records returned; 0 means 10,000.
	Limit int
}

// AuditList returns the audit records matching f, oldest first.
func (s *Service) AuditList(ctx context.Context, f AuditFilter) ([]AuditRecord, error) {
	if f.Dataset != "" {
		if _, err := s.Dataset(f.Dataset); err != nil {
			return nil, err
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && f.To.Before(f.From) {
		return nil, invalid("to %s is before from %s", f.To.Format(time.RFC3339), f.From.Format(time.RFC3339))
	}
	if f.Limit < 0 {
		return nil, invalid("limit %d: use a positive number", f.Limit)
	}
	return audit.List(ctx, s.pool, audit.Filter{Dataset: f.Dataset, From: f.From, To: f.To, Who: f.Who, Limit: f.Limit})
}

// AuditVerify recomputes the audit chain and checks it against every
// anchor in the archive storage. AuditReport.OK says whether it is intact;
// its Problems name each record that was edited, deleted or reordered and
// each anchor the chain no longer matches.
func (s *Service) AuditVerify(ctx context.Context) (*AuditReport, error) {
	return audit.Verify(ctx, s.pool, s.store, s.auditDir)
}

// AuditAnchor writes the audit chain's head to the archive storage now
// (unless it is anchored already).
func (s *Service) AuditAnchor(ctx context.Context) error {
	return s.anchors.MaybeAnchor(ctx, s.pool, true)
}

// AuditTrail is the Service's audit trail, for actions recorded outside
// the Service's own methods (Strata's commands):
// `return s.AuditTrail().Record(ctx, strata.AuditEntry{Action: "token.create", Err: err})`.
func (s *Service) AuditTrail() *audit.Trail { return s.audit }

// record appends e to the audit trail (who: actor.From(ctx)) and returns
// e.Err, or an error saying the record could not be written.
func (s *Service) record(ctx context.Context, e audit.Entry) error {
	err := s.audit.Record(ctx, e)
	if e.Err == nil && err != nil {
		return unavailable(err)
	}
	return err
}

// openAudit sets up the audit trail and its anchors under {prefix}/audit.
func (s *Service) openAudit() error {
	dir, err := s.prefix.Join("audit")
	if err != nil {
		return invalid("storage.prefix %q: %v", s.cfg.Storage.Prefix, err)
	}
	s.auditDir = dir
	s.anchors = &audit.Anchorer{Store: s.store, Dir: dir, Every: s.cfg.Audit.AnchorEvery.Duration(),
		Retention: s.anchorRetention()}
	s.audit = audit.New(s.pool, s.anchors, s.log.With(slog.String("component", "audit")))
	return nil
}

// anchorRetention is the retention anchors ask the storage for: where any
// dataset's archive.immutability is on, the strictest of their modes,
// until now plus the longest archive.retention of those datasets, so the
// proof of the trail lasts as long as the archive it speaks of. nil (plain
// create-only objects) when immutability is off everywhere.
func (s *Service) anchorRetention() func(now time.Time) storage.Retention {
	var mode storage.RetentionMode
	var keep time.Duration
	for _, ds := range s.cfg.Datasets {
		m := ds.Archive.RetentionMode()
		if m == storage.RetentionOff {
			continue
		}
		if mode != storage.RetentionCompliance {
			mode = m
		}
		keep = max(keep, ds.Archive.Retention.Duration())
	}
	if mode == storage.RetentionOff || keep <= 0 {
		return nil
	}
	return func(now time.Time) storage.Retention {
		return storage.Retention{Mode: mode, Until: now.Add(keep)}
	}
}
