package strata

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/stratahq/strata/internal/archive"
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
// bounds inclusive.
type CompareRequest struct {
	Dataset  string
	From, To time.Time
}

// Compare takes the raw records ingested in the period (from Layer 3 or
// the source archive, whichever holds them), runs the dataset's current
// transform over them (the latest record per key winning, as at ingest)
// and compares the result, key by key, with the analytics rows of those
// keys wherever they are now, in Layer 2 or the analytics archive. It
// changes nothing. Report.Agree says whether they agree.
//
// The work is done by PostgreSQL in temporary tables of one session;
// memory does not grow with the period. docs/LINEAGE.md says which rows
// are compared and the limits. An unknown dataset matches ErrNotFound; a
// dataset without source, analytics and transform, or a bad period,
// ErrInvalid.
func (s *Service) Compare(ctx context.Context, req CompareRequest) (*CompareReport, error) {
	return s.lineageRun(ctx, req.Dataset, req.From, req.To, false)
}

// lineageRun checks the request and runs compare or replay.
func (s *Service) lineageRun(ctx context.Context, dataset string, from, to time.Time, apply bool) (*CompareReport, error) {
	ds, err := s.Dataset(dataset)
	if err != nil {
		return nil, err
	}
	if ds.Source == nil || ds.Analytics == nil || ds.Transform == "" {
		return nil, invalid("dataset %q needs a source table, an analytics table and a transform for compare and replay (datasets[].source, .analytics, .transform)", ds.Name)
	}
	switch {
	case from.IsZero() || to.IsZero():
		return nil, invalid("from and to are required: the period of ingestion times to compare")
	case to.Before(from):
		return nil, invalid("to %s is before from %s", to.UTC().Format(time.RFC3339Nano), from.UTC().Format(time.RFC3339Nano))
	}
	spec, err := s.lineageSpec(ds)
	if err != nil {
		return nil, err
	}
	c := &lineage.Comparer{Pool: s.pool, Fetch: s.fetchCSV(ds.Name), Supersede: s.superseder(ds), Log: s.log}
	req := lineage.Request{From: from, To: to, Apply: apply}
	if !apply {
		return s.compareRun(ctx, c, spec, req)
	}
	// An apply is a run: in strata.runs, named by its lineage record, and
	// announced to OpenLineage like ingest and archive runs.
	runID, end, err := s.cat.BeginRun(ctx, "replay", ds.Name, catalog.TypeAnalytics)
	if err != nil {
		return nil, err
	}
	defer end()
	req.RunID = &runID
	done := s.Archiver().ObserveRun(ctx, archive.RunInfo{ID: runID, Kind: catalog.LineageReplay, Dataset: ds.Name, From: from, To: to})
	rep, err := s.compareRun(ctx, c, spec, req)
	var totals catalog.RunTotals
	if rep != nil && rep.Applied != nil {
		totals = catalog.RunTotals{Rows: rep.Applied.Inserted + rep.Applied.Updated, Objects: len(rep.Applied.Objects)}
	}
	if ferr := s.cat.FinishRun(context.WithoutCancel(ctx), runID, totals, err); ferr != nil && err == nil {
		err = ferr
	}
	done(archive.RunResult{Rows: totals.Rows, Objects: totals.Objects, Err: err})
	return rep, err
}

func (s *Service) compareRun(ctx context.Context, c *lineage.Comparer, spec lineage.Spec, req lineage.Request) (*CompareReport, error) {
	rep, err := c.Run(ctx, spec, req)
	if errors.Is(err, lineage.ErrInvalid) {
		return nil, asInvalid(err)
	}
	return rep, err
}

// lineageSpec describes the dataset for package lineage, loading its
// transform.
func (s *Service) lineageSpec(ds *config.Dataset) (lineage.Spec, error) {
	src, err := s.SourceSpec(ds)
	if err != nil {
		return lineage.Spec{}, err
	}
	return lineage.Spec{Dataset: ds.Name, SourceTable: src.Table, IDColumn: src.IDColumn, SourceTime: src.TimeColumn,
		PayloadColumn: src.PayloadColumn, ProcessedColumn: src.ProcessedColumn,
		AnalyticsTable: ds.Analytics.Table.String(), Key: ds.Analytics.Key, AnalyticsTime: ds.Analytics.TimeColumn,
		Transform: src.Transform.SQL}, nil
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
