package strata

import (
	"context"
	"fmt"
	"io"

	"github.com/stratahq/strata/internal/audit"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/delta"
	"github.com/stratahq/strata/internal/iceberg"
	"github.com/stratahq/strata/internal/tables"
)

// TablesReport is the outcome of TablesRebuild: what each format now
// publishes of the dataset.
type TablesReport struct {
	Dataset      string
	Publications []catalog.Publication
}

// TableDifference is a lakehouse table that does not list exactly the
// committed, current objects (verify).
type TableDifference = tables.Difference

// newPublisher wires the lakehouse formats tables.delta and tables.iceberg
// turn on.
func (s *Service) newPublisher() (*tables.Publisher, error) {
	p := &tables.Publisher{Pool: s.pool, Catalog: s.cat, Storage: s.store, Prefix: s.prefix, Log: s.log,
		Specs: s.tableSpecs}
	if s.cfg.Tables.On("delta") {
		p.Formats = append(p.Formats, delta.New(s.store, delta.Options{Prefix: s.prefix,
			CheckpointEvery: int64(s.cfg.Tables.CheckpointEvery), Retention: s.anchorRetention()}))
	}
	if s.cfg.Tables.On("iceberg") {
		f, err := iceberg.New(iceberg.Options{Pool: s.pool, Store: s.store, StorageURL: s.cfg.Storage.URL,
			Retention: s.anchorRetention(), Failpoints: s.fp})
		if err != nil {
			return nil, invalid("tables.iceberg: %v", err)
		}
		p.Formats = append(p.Formats, f)
	}
	return p, nil
}

// closeTables releases what the formats hold (the Iceberg catalog's
// database connections).
func (s *Service) closeTables() {
	for _, f := range s.tables.Formats {
		if c, ok := f.(io.Closer); ok {
			_ = c.Close()
		}
	}
}

// tableSpecs are the tables of a dataset: one per archive type it has.
func (s *Service) tableSpecs(dataset string) []tables.Spec {
	ds, ok := s.cfg.Dataset(dataset)
	if !ok {
		return nil
	}
	specs := []tables.Spec{}
	if ds.Analytics != nil {
		specs = append(specs, tables.Spec{Dataset: ds.Name, Type: catalog.TypeAnalytics, TimeColumn: ds.Analytics.TimeColumn})
	}
	if ds.Source != nil {
		specs = append(specs, tables.Spec{Dataset: ds.Name, Type: catalog.TypeSource, TimeColumn: ds.Source.TimeColumn})
	}
	return specs
}

// publishTables publishes dataset's tables after a Strata commit (or
// before a run, to repair one a crash left behind). A failure is logged
// and counted, never returned: Strata's own commit stands, and the next
// publish repairs the tables.
func (s *Service) publishTables(ctx context.Context, dataset string) {
	s.tables.PublishLogged(ctx, dataset)
}

// CatchUpTables publishes, in the background, the lakehouse tables of
// every configured dataset that are behind the catalog: the commits of a
// process killed between a commit and its publish, which no later commit
// or run has published yet. A table already in step gets no new version.
// strata serve calls it when it starts; Close waits for it to finish.
func (s *Service) CatchUpTables(ctx context.Context) {
	for _, ds := range s.cfg.Datasets {
		s.tables.PublishAsync(ctx, ds.Name)
	}
}

// publishAfter is publishTables after a commit: the failpoint
// before-tables (a kill there leaves the commit unpublished) comes first.
func (s *Service) publishAfter(ctx context.Context, dataset string) {
	if err := s.fp.Hit("before-tables"); err != nil {
		s.log.Warn("lakehouse tables not published", "dataset", dataset, "err", err)
		return
	}
	s.publishTables(ctx, dataset)
}

// TablesRebuild writes dataset's lakehouse tables (every format on) from
// the catalog alone: whatever the tables list now, after it they list
// exactly the committed, current objects.
func (s *Service) TablesRebuild(ctx context.Context, dataset string) (TablesReport, error) {
	rep, err := s.tablesRebuild(ctx, dataset)
	e := audit.Entry{Action: audit.ActionTablesRebuild, Dataset: dataset, Err: err}
	for _, p := range rep.Publications {
		e.Objects += p.Objects
	}
	return rep, s.record(ctx, e)
}

func (s *Service) tablesRebuild(ctx context.Context, dataset string) (TablesReport, error) {
	rep := TablesReport{Dataset: dataset}
	if _, err := s.Dataset(dataset); err != nil {
		return rep, err
	}
	if len(s.tables.Formats) == 0 {
		return rep, invalid("no lakehouse table format is on: set tables.delta (or tables.iceberg) to on in the config")
	}
	if err := s.tables.Rebuild(ctx, dataset); err != nil {
		return rep, unavailable(fmt.Errorf("tables rebuild %s: %w", dataset, err))
	}
	pubs, err := catalog.Publications(ctx, s.pool, dataset)
	rep.Publications = pubs
	return rep, unavailable(err)
}

// TablesCheck compares every lakehouse table of dataset ("" for all) with
// the catalog, for verify.
func (s *Service) TablesCheck(ctx context.Context, dataset string) ([]TableDifference, error) {
	var out []TableDifference
	for _, ds := range s.cfg.Datasets {
		if dataset != "" && ds.Name != dataset {
			continue
		}
		d, err := s.tables.Check(ctx, ds.Name)
		if err != nil {
			return nil, unavailable(err)
		}
		out = append(out, d...)
	}
	return out, nil
}

// OnTablesFailed sets f to be told of every failed publish of a lakehouse
// table (the server counts them in strata_table_publish_failures_total).
// Call it before the Service is used concurrently.
func (s *Service) OnTablesFailed(f func(dataset, format string)) { s.tables.Failed = f }
