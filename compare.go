package strata

import (
	"context"
	"errors"
	"github.com/stratahq/strata/internal/erasure"
	"io"
	"time"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/audit"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/lineage"
)

// CompareReport is the outcome of Compare and Replay: counts of matched,
// missing, unexpected and changed keys, the differing columns, samples,
// and, for an applied replay, what was written. Its JSON form is what
// `strata compare --format json` prints.
type CompareReport = lineage.Report

// ErrBusy is returned by Compare and Replay when an analytics archive run
// (or a restore or another replay) held the dataset for longer than they
// wait; retry when it has finished.
var ErrBusy = lineage.ErrBusy

// CompareRequest names a dataset and a period of ingestion times, both
// bounds inclusive, and optionally a candidate transform.
type CompareRequest struct {
	Dataset  string
	From, To time.Time
	// Transform, when set, is the SQL text of a candidate transform run
	// instead of the dataset's configured one: what adopting it would
	// change. It is checked like a transform file (one SELECT naming
	// {{source}} once, at most 256 KiB); one that does not parse, or that
	// PostgreSQL refuses or fails to run, is ErrInvalid with the database's
	// message. It runs in a read-only transaction.
	Transform string
	// TransformName labels the candidate in the report and in lineage (a
	// file name, say); "request" when empty.
	TransformName string
}

// Compare takes the raw records ingested in the period (from Layer 3 or
// the source archive, whichever holds them), runs the dataset's current
// transform (or req.Transform, a candidate) over them (the latest record
// per key winning, as at ingest) and compares the result, key by key, with
// the analytics rows of those keys wherever they are now, in Layer 2 or
// the analytics archive. It changes nothing. Report.Agree says whether
// they agree.
//
// The work is done by PostgreSQL in temporary tables of one session;
// memory does not grow with the period. docs/LINEAGE.md says which rows
// are compared and the limits. An unknown dataset matches ErrNotFound; a
// dataset without source, analytics and transform, a bad period, or a
// transform that does not parse or run, ErrInvalid.
func (s *Service) Compare(ctx context.Context, req CompareRequest) (*CompareReport, error) {
	return s.lineageRun(ctx, ReplayRequest{Dataset: req.Dataset, From: req.From, To: req.To,
		Transform: req.Transform, TransformName: req.TransformName}, audit.ActionCompare)
}

// lineageRun runs compare or replay and records it.
func (s *Service) lineageRun(ctx context.Context, req ReplayRequest, action string) (*CompareReport, error) {
	rep, err := s.lineageCheckedRun(ctx, req)
	e := audit.Entry{Action: action, Dataset: req.Dataset, From: req.From, To: req.To, Err: err}
	if req.Transform != "" {
		e.Detail = "candidate transform " + req.TransformName
	}
	if rep != nil {
		e.Rows = rep.SourceRecords.Archive + rep.SourceRecords.Layer3
		if rep.Applied != nil {
			e.Rows, e.Objects = rep.Applied.Inserted+rep.Applied.Updated, int64(len(rep.Applied.Objects))
		}
	}
	return rep, s.record(ctx, e)
}

// lineageCheckedRun checks the request and runs compare or replay.
func (s *Service) lineageCheckedRun(ctx context.Context, req ReplayRequest) (*CompareReport, error) {
	ds, err := s.Dataset(req.Dataset)
	if err != nil {
		return nil, err
	}
	if ds.Source == nil || ds.Analytics == nil || (ds.Transform == "" && req.Transform == "") {
		return nil, invalid("dataset %q needs a source table, an analytics table and a transform for compare and replay (datasets[].source, .analytics, .transform)", ds.Name)
	}
	switch {
	case req.From.IsZero() || req.To.IsZero():
		return nil, invalid("from and to are required: the period of ingestion times to compare")
	case req.To.Before(req.From):
		return nil, invalid("to %s is before from %s", req.To.UTC().Format(time.RFC3339Nano), req.From.UTC().Format(time.RFC3339Nano))
	}
	spec, err := s.lineageSpec(ds, req)
	if err != nil {
		return nil, err
	}
	c := &lineage.Comparer{Pool: s.pool, Fetch: s.fetchCSV(ds.Name), Supersede: s.superseder(ds), Objects: s.Archiver(), Log: s.log,
		Erased: erasure.Filter(ds, s.cfg.ErasureKeyPath())}
	lreq := lineage.Request{From: req.From, To: req.To, Apply: req.Apply}
	if !req.Apply {
		return s.compareRun(ctx, c, spec, lreq, s.cfg.TransformPath(ds))
	}
	// An apply is a run: in strata.runs, named by its lineage record, and
	// announced to OpenLineage like ingest and archive runs. It begins once
	// the comparison is done, so a transform that fails leaves no trace.
	run := &applyRun{s: s, info: archive.RunInfo{Kind: catalog.LineageReplay, Dataset: ds.Name, From: req.From, To: req.To}}
	lreq.Begin = run.begin
	rep, err := s.compareRun(ctx, c, spec, lreq, s.cfg.TransformPath(ds))
	return rep, run.finish(ctx, rep, err)
}

// applyRun is the strata.runs row and OpenLineage run of a replay --apply.
type applyRun struct {
	s    *Service
	info archive.RunInfo
	end  func()
	done func(archive.RunResult)
}

func (r *applyRun) begin(ctx context.Context) (int64, error) {
	id, end, err := r.s.cat.BeginRun(ctx, "replay", r.info.Dataset, catalog.TypeAnalytics)
	if err != nil {
		return 0, err
	}
	r.info.ID, r.end = id, end
	r.done = r.s.Archiver().ObserveRun(ctx, r.info)
	return id, nil
}

// finish ends the run, when it began, with the outcome of the replay.
func (r *applyRun) finish(ctx context.Context, rep *CompareReport, err error) error {
	if r.end == nil {
		return err
	}
	defer r.end()
	var totals catalog.RunTotals
	if rep != nil && rep.Applied != nil {
		totals = catalog.RunTotals{Rows: rep.Applied.Inserted + rep.Applied.Updated, Objects: len(rep.Applied.Objects)}
	}
	if ferr := r.s.cat.FinishRun(context.WithoutCancel(ctx), r.info.ID, totals, err); ferr != nil && err == nil {
		err = ferr
	}
	r.done(archive.RunResult{Rows: totals.Rows, Objects: totals.Objects, Err: err})
	return err
}

// compareRun runs c; errors of the transform name it (path: the
// configured transform's file).
func (s *Service) compareRun(ctx context.Context, c *lineage.Comparer, spec lineage.Spec, req lineage.Request, path string) (*CompareReport, error) {
	rep, err := c.Run(ctx, spec, req)
	switch {
	case errors.Is(err, lineage.ErrTransform) && spec.Candidate != nil:
		return nil, invalid("candidate transform %s: %v (nothing was written)", spec.Candidate.Name, err)
	case errors.Is(err, lineage.ErrTransform):
		return nil, invalid("datasets %s transform %s: %v (fix the transform file)", spec.Dataset, path, err)
	case errors.Is(err, lineage.ErrInvalid):
		return nil, asInvalid(err)
	}
	return rep, err
}

// lineageSpec describes the dataset for package lineage, with its
// configured transform, or with req.Transform as a candidate.
func (s *Service) lineageSpec(ds *config.Dataset, req ReplayRequest) (lineage.Spec, error) {
	src, err := s.SourceSpec(ds)
	if err != nil && req.Transform == "" {
		return lineage.Spec{}, err
	}
	spec := lineage.Spec{Dataset: ds.Name, SourceTable: src.Table, IDColumn: src.IDColumn, SourceTime: src.TimeColumn,
		PayloadColumn: src.PayloadColumn, ProcessedColumn: src.ProcessedColumn,
		AnalyticsTable: ds.Analytics.Table.String(), Key: ds.Analytics.Key, AnalyticsTime: ds.Analytics.TimeColumn,
		Retention: ds.Analytics.Retention.Duration()}
	if src.Transform != nil {
		spec.Transform = src.Transform.SQL
	}
	if req.Transform == "" {
		return spec, nil
	}
	return s.candidateSpec(spec, ds, req)
}

// fetchCSV streams a retrieval of the dataset as CSV, for COPY.
func (s *Service) fetchCSV(dataset string) lineage.Fetch {
	return func(ctx context.Context, w io.Writer, r lineage.FetchRequest) error {
		rows, err := s.RetrieveArchivedData(ctx, RetrieveRequest{Table: dataset, DataType: r.Type, Start: r.From, End: r.To,
			Columns: r.Columns, IncludeLive: r.Live})
		if err != nil {
			return err
		}
		defer rows.Close()
		_, err = rows.Write(w, "csv")
		return err
	}
}
