package cli

import (
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/transform"
)

// sourceSpec maps a configured dataset's Layer 3 table to an archive spec,
// loading its transform when it has one.
func sourceSpec(cfg *config.Config, ds *config.Dataset) (archive.SourceSpec, error) {
	s := ds.Source
	spec := archive.SourceSpec{
		Dataset:          ds.Name,
		Table:            s.Table.String(),
		IDColumn:         s.IDColumn,
		TimeColumn:       s.TimeColumn,
		PayloadColumn:    s.PayloadColumn,
		ProcessedColumn:  s.ProcessedColumn,
		ArchiveAfter:     s.ArchiveAfter.Duration(),
		BatchMaxRows:     s.BatchMaxRows,
		BatchMaxBytes:    s.BatchMaxBytes,
		BatchMaxWait:     s.BatchMaxWait.Duration(),
		ArchiveRetention: ds.Archive.Retention.Duration(),
		Compression:      string(ds.Archive.Compression),
		RowGroupRows:     ds.Archive.RowGroupRows,
	}
	if ds.Transform == "" || ds.Analytics == nil {
		return spec, nil
	}
	t, err := transform.Load(cfg.TransformPath(ds))
	if err != nil {
		return spec, usageErr("datasets %s transform: %v", ds.Name, err)
	}
	spec.Transform = &archive.TransformSpec{SQL: t, Table: ds.Analytics.Table.String(), Key: ds.Analytics.Key}
	return spec, nil
}

// sourceDatasets returns the datasets with a Layer 3 table (or the one named).
func sourceDatasets(cfg *config.Config, only string) ([]*config.Dataset, error) {
	var out []*config.Dataset
	for i := range cfg.Datasets {
		ds := &cfg.Datasets[i]
		if only != "" && ds.Name != only {
			continue
		}
		if ds.Source == nil {
			if only != "" {
				return nil, usageErr("dataset %q has no source table (datasets[].source in the config)", only)
			}
			continue
		}
		out = append(out, ds)
	}
	if only != "" && len(out) == 0 {
		return nil, usageErr("no dataset %q in the config (datasets: %s)", only, datasetNames(cfg))
	}
	return out, nil
}
