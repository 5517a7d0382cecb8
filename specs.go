package strata

import (
	"strings"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
)

// Dataset returns the configured dataset called name, or an error matching
// ErrNotFound that lists the datasets there are.
func (s *Service) Dataset(name string) (*config.Dataset, error) {
	if ds, ok := s.cfg.Dataset(name); ok {
		return ds, nil
	}
	return nil, notFound("no dataset %q in the config (datasets: %s)", name, s.DatasetNames())
}

// DatasetNames lists the configured datasets, comma separated.
func (s *Service) DatasetNames() string {
	names := make([]string, len(s.cfg.Datasets))
	for i, ds := range s.cfg.Datasets {
		names[i] = ds.Name
	}
	return strings.Join(names, ", ")
}

// layer returns the dataset's table, time column for an archive type, or
// ErrNotFound when the dataset has no such layer.
func (s *Service) layer(ds *config.Dataset, typ string) (table config.TableName, timeCol string, err error) {
	switch {
	case typ == catalog.TypeAnalytics && ds.Analytics != nil:
		return ds.Analytics.Table, ds.Analytics.TimeColumn, nil
	case typ == catalog.TypeSource && ds.Source != nil:
		return ds.Source.Table, ds.Source.TimeColumn, nil
	case typ != catalog.TypeAnalytics && typ != catalog.TypeSource:
		return table, "", invalid("archive type %q: use analytics or source", typ)
	}
	return table, "", notFound("dataset %q has no %s table in the config", ds.Name, typ)
}

// SourceSpec maps a dataset's Layer 3 table to an archive spec, loading its
// transform when it has one.
func (s *Service) SourceSpec(ds *config.Dataset) (archive.SourceSpec, error) {
	src := ds.Source
	if src == nil {
		return archive.SourceSpec{}, notFound("dataset %q has no source table (datasets[].source in the config)", ds.Name)
	}
	spec := archive.SourceSpec{
		Dataset:          ds.Name,
		Table:            src.Table.String(),
		IDColumn:         src.IDColumn,
		TimeColumn:       src.TimeColumn,
		PayloadColumn:    src.PayloadColumn,
		ProcessedColumn:  src.ProcessedColumn,
		ArchiveAfter:     src.ArchiveAfter.Duration(),
		BatchMaxRows:     src.BatchMaxRows,
		BatchMaxBytes:    src.BatchMaxBytes,
		BatchMaxWait:     src.BatchMaxWait.Duration(),
		ArchiveRetention: ds.Archive.Retention.Duration(),
		Immutability:     ds.Archive.RetentionMode(),
		Compression:      string(ds.Archive.Compression),
		RowGroupRows:     ds.Archive.RowGroupRows,
		OnTransformError: src.OnTransformError,
	}
	if ds.Transform == "" || ds.Analytics == nil {
		return spec, nil
	}
	t, err := s.transforms.Load(s.cfg.TransformPath(ds))
	if err != nil {
		return spec, invalid("datasets %s transform: %v", ds.Name, err)
	}
	spec.Transform = &archive.TransformSpec{SQL: t, Table: ds.Analytics.Table.String(), Key: ds.Analytics.Key}
	return spec, nil
}

// AnalyticsSpec maps a dataset's Layer 2 table to an archive spec.
func (s *Service) AnalyticsSpec(ds *config.Dataset) (archive.AnalyticsSpec, error) {
	if ds.Analytics == nil {
		return archive.AnalyticsSpec{}, notFound("dataset %q has no analytics table (datasets[].analytics in the config)", ds.Name)
	}
	return archive.AnalyticsSpec{
		Dataset:          ds.Name,
		Table:            ds.Analytics.Table.String(),
		TimeColumn:       ds.Analytics.TimeColumn,
		Key:              ds.Analytics.Key,
		Retention:        ds.Analytics.Retention.Duration(),
		ArchiveRetention: ds.Archive.Retention.Duration(),
		Immutability:     ds.Archive.RetentionMode(),
		Compression:      string(ds.Archive.Compression),
		RowGroupRows:     ds.Archive.RowGroupRows,
		Parallelism:      ds.Archive.Parallelism,
	}, nil
}
