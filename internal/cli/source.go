package cli

import "github.com/stratahq/strata/internal/config"

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
