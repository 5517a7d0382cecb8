package strata

import (
	"context"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/overview"
)

// Overview is what the web console shows at a glance: per dataset, the
// database's rows and bytes against the archive's, every day's state, and
// the integrity signals (type alias of the overview package's).
type Overview = overview.Report

// OverviewRun is one run of strata.runs as the console shows it.
type OverviewRun = overview.Run

// OverviewRequest selects the datasets of an overview.
type OverviewRequest struct {
	// Datasets to include, in configuration order; empty means all.
	Datasets []string
}

// Overview reads the overview of the datasets asked for, in one read-only
// snapshot of the catalog and the tables. The Layer 2 and Layer 3 tables
// are counted per day (a scan of each) up to overview.DefaultMaxCountRows
// rows by the planner's estimate; a larger table shows the estimate and
// no live days, so the page's cost stays bounded. An unknown dataset matches
// ErrNotFound.
func (s *Service) Overview(ctx context.Context, req OverviewRequest) (*Overview, error) {
	dss, err := s.datasetsOf(req.Datasets)
	if err != nil {
		return nil, err
	}
	return overview.Build(ctx, s.pool, dss, overview.Options{})
}

// RecentRuns returns, for each (command, dataset, archive type) of the
// datasets, its last perJob runs (1 to 50), newest first: the jobs'
// history for the console. With datasets empty, every dataset's and the
// runs of none (strata verify without --dataset).
func (s *Service) RecentRuns(ctx context.Context, datasets []string, perJob int) ([]OverviewRun, error) {
	if perJob < 1 || perJob > 50 {
		return nil, invalid("runs per job: %d is outside 1..50", perJob)
	}
	dss, err := s.datasetsOf(datasets)
	if err != nil {
		return nil, err
	}
	names := make([]string, len(dss))
	for i, ds := range dss {
		names[i] = ds.Name
	}
	return overview.RecentRuns(ctx, s.pool, names, len(datasets) == 0, perJob)
}

// datasetsOf returns the configured datasets named (all when names is
// empty), in configuration order.
func (s *Service) datasetsOf(names []string) ([]config.Dataset, error) {
	if len(names) == 0 {
		return s.cfg.Datasets, nil
	}
	want := map[string]bool{}
	for _, n := range names {
		if _, err := s.Dataset(n); err != nil {
			return nil, err
		}
		want[n] = true
	}
	var out []config.Dataset
	for _, ds := range s.cfg.Datasets {
		if want[ds.Name] {
			out = append(out, ds)
		}
	}
	return out, nil
}

// MaxSampleRows bounds DayRequest.SampleRows.
const MaxSampleRows = 50

// DayRequest names one UTC day of one archive type of a dataset.
type DayRequest struct {
	Dataset string
	Type    string // analytics or source
	Day     time.Time
	// SampleRows is how many of each current object's first rows to read
	// (0 to MaxSampleRows).
	SampleRows int
}

// DayReport is one day of an archive: every object the catalog lists for
// it, in any state, with a sample of each current one.
type DayReport struct {
	Dataset, Type string
	Day           time.Time
	Objects       []DayObject
}

// DayObject is a catalog object of the day and its sample.
type DayObject struct {
	catalog.Object
	// Sample holds the object's first rows, read through the same
	// retrieval as the API (checksum checked first); nil for objects a
	// retrieval does not read (superseded, expired, restored).
	Sample *DaySample
}

// DaySample is the first rows of an object as PostgreSQL text ("" for
// NULL is shown as NULL by Null).
type DaySample struct {
	Columns []string
	Rows    [][]string
	// Null marks, per row and column, a NULL value.
	Null [][]bool
	// More is set when the object has more rows than were read.
	More bool
	// Err says why the rows could not be read (a checksum mismatch, a
	// missing object); the page shows it instead.
	Err string
}

// Day lists the catalog's objects of one day and reads the first rows of
// each current one. An unknown dataset or type matches ErrNotFound, a bad
// request ErrInvalid; a sample that cannot be read is reported in its
// DaySample, not as an error.
func (s *Service) Day(ctx context.Context, req DayRequest) (*DayReport, error) {
	ds, err := s.Dataset(req.Dataset)
	if err != nil {
		return nil, err
	}
	if _, _, err := s.layer(ds, req.Type); err != nil {
		return nil, err
	}
	if req.SampleRows < 0 || req.SampleRows > MaxSampleRows {
		return nil, invalid("sample rows: %d is outside 0..%d", req.SampleRows, MaxSampleRows)
	}
	day := req.Day.UTC().Truncate(24 * time.Hour)
	objs, err := s.cat.List(ctx, catalog.Filter{Dataset: ds.Name, Type: req.Type, From: &day, To: &day, WithSuperseded: true,
		States: []string{catalog.StateCommitted, catalog.StateRestored, catalog.StateExpired}})
	if err != nil {
		return nil, fmt.Errorf("day %s of %s %s: %w", day.Format(time.DateOnly), ds.Name, req.Type, err)
	}
	rep := &DayReport{Dataset: ds.Name, Type: req.Type, Day: day}
	for _, o := range objs {
		d := DayObject{Object: o}
		if req.SampleRows > 0 && o.State == catalog.StateCommitted && o.SupersededBy == nil {
			d.Sample = s.sample(ctx, ds.Name, req.Type, day, o.ID, req.SampleRows)
		}
		rep.Objects = append(rep.Objects, d)
	}
	return rep, nil
}

// sample reads the first n rows of object id through RetrieveArchivedData
// (so it is verified, cast and audited like any retrieval).
func (s *Service) sample(ctx context.Context, dataset, typ string, day time.Time, id int64, n int) *DaySample {
	out := &DaySample{}
	rows, err := s.RetrieveArchivedData(ctx, RetrieveRequest{Table: dataset, DataType: typ,
		Start: day, End: day.Add(24*time.Hour - time.Microsecond), object: id})
	if err != nil {
		out.Err = err.Error()
		return out
	}
	out.Columns = rows.Columns()
	for len(out.Rows) < n && rows.rs.Next() { // the values as text, not as Go values
		vs := rows.rs.Values()
		row, nulls := make([]string, len(vs)), make([]bool, len(vs))
		for i, v := range vs {
			nulls[i] = v.IsNull()
			if !nulls[i] {
				row[i] = string(v.AppendText(nil))
			}
		}
		out.Rows, out.Null = append(out.Rows, row), append(out.Null, nulls)
	}
	if err := rows.Err(); err != nil {
		out.Err = err.Error()
	} else {
		out.More = rows.rs.Next() // one row more tells; the rest is not read
	}
	if err := rows.Close(); err != nil && out.Err == "" {
		out.Err = err.Error()
	}
	return out
}
