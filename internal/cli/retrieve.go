package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/retrieve"
)

type retrieveFlags struct {
	dataset, typ, from, to, columns, format string
}

func newRetrieveCmd(env Env, g *globalFlags) *cobra.Command {
	var f retrieveFlags
	cmd := &cobra.Command{
		Use:   "retrieve --dataset N --type analytics --from T --to T [--columns a,b] [--format jsonl|csv|parquet]",
		Short: "Stream archived rows of a time range to standard output",
		Long: `Retrieve streams exactly the archived rows of a dataset whose time column
lies in [--from, --to], with only the columns asked for, to standard output.

Times are RFC 3339 (2024-11-01T06:00:00Z) or dates (2024-11-01); a date as
--to includes that whole UTC day. Each object is checked against its catalog
SHA-256 before any of its rows are returned: a damaged archive makes the
command fail, never return wrong rows.

Formats: jsonl (one JSON object per line; exact numerics, NaN and Infinity as
strings, json columns embedded, except a source archive's raw payload, which is
a JSON string holding the record byte for byte as received), csv (header line, PostgreSQL text form,
NULL as an empty unquoted field, so COPY ... FROM ... CSV HEADER reads it back)
and parquet (one snappy Parquet file with the columns typed as archived, for
DuckDB, Spark or pandas; redirect it to a file).`,
		Example: `  strata retrieve --dataset scor_metrics --type analytics --from 2024-01-01 --to 2024-01-31 \
      --columns metric_id,value,timestamp,process_id
  strata retrieve -d orders -t analytics --from 2024-03-15 --to 2024-03-15 --format csv > orders.csv`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runRetrieve(c.Context(), env, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.dataset, "dataset", "d", "", "dataset name (required)")
	fl.StringVarP(&f.typ, "type", "t", "analytics", "archive type: analytics or source")
	fl.StringVar(&f.from, "from", "", "start of the range, inclusive (required)")
	fl.StringVar(&f.to, "to", "", "end of the range, inclusive (required)")
	fl.StringVar(&f.columns, "columns", "", "comma-separated columns to return (default: all)")
	fl.StringVarP(&f.format, "format", "f", "jsonl", "output format: jsonl, csv or parquet")
	return cmd
}

func runRetrieve(ctx context.Context, env Env, g *globalFlags, f retrieveFlags) error {
	req, err := retrieveRequest(f)
	if err != nil {
		return err
	}
	if f.format != "jsonl" && f.format != "csv" && f.format != "parquet" {
		return usageErr("--format %q: use jsonl, csv or parquet", f.format)
	}
	a, err := openApp(ctx, env, g)
	if err != nil {
		return err
	}
	defer a.close()
	ds, ok := a.cfg.Dataset(req.Dataset)
	if !ok {
		return usageErr("no dataset %q in the config (datasets: %s)", req.Dataset, datasetNames(a.cfg))
	}
	if req.TimeColumn, err = timeColumn(ds, req.Type); err != nil {
		return err
	}
	if req.Type == catalog.TypeSource {
		req.RawColumns = []string{ds.Source.PayloadColumn}
	}
	r := &retrieve.Retriever{Catalog: a.cat, Store: a.store, SpoolDir: spoolDir()}
	rows, err := r.Query(ctx, req)
	if err != nil {
		return retrieveErr(err)
	}
	defer rows.Close()
	n, err := retrieve.Write(env.Stdout, rows, f.format)
	if err != nil {
		return retrieveErr(err)
	}
	a.log.Info("retrieved", "dataset", req.Dataset, "type", req.Type, "rows", n, "objects", rows.Objects())
	return nil
}

func retrieveRequest(f retrieveFlags) (retrieve.Request, error) {
	if f.dataset == "" {
		return retrieve.Request{}, usageErr("--dataset is required")
	}
	if f.typ != catalog.TypeAnalytics && f.typ != catalog.TypeSource {
		return retrieve.Request{}, usageErr("--type %q: use analytics or source", f.typ)
	}
	from, to, err := parseRange(f.from, f.to)
	if err != nil {
		return retrieve.Request{}, err
	}
	req := retrieve.Request{Dataset: f.dataset, Type: f.typ, From: from, To: to}
	if f.columns != "" {
		for _, c := range strings.Split(f.columns, ",") {
			c = strings.TrimSpace(c)
			if err := config.ValidateIdentifier(c); err != nil {
				return req, usageErr("--columns: %v", err)
			}
			req.Columns = append(req.Columns, c)
		}
	}
	return req, nil
}

func timeColumn(ds *config.Dataset, typ string) (string, error) {
	switch {
	case typ == catalog.TypeAnalytics && ds.Analytics != nil:
		return ds.Analytics.TimeColumn, nil
	case typ == catalog.TypeSource && ds.Source != nil:
		return ds.Source.TimeColumn, nil
	}
	return "", usageErr("dataset %q has no %s table in the config", ds.Name, typ)
}

func retrieveErr(err error) error {
	if errors.Is(err, retrieve.ErrBadRequest) {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	return fmt.Errorf("retrieve: %w", err)
}
