package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
)

type retrieveFlags struct {
	dataset, typ, from, to, columns, format, where string
	includeLive                                    bool
}

func newRetrieveCmd(env Env, g *globalFlags) *cobra.Command {
	var f retrieveFlags
	cmd := &cobra.Command{
		Use:   "retrieve --dataset N --type analytics|source --from T --to T [--columns a,b] [--where EXPR] [--format jsonl|csv|parquet] [--include-live]",
		Short: "Stream archived rows of a time range to standard output",
		Long: `Retrieve streams exactly the archived rows of a dataset whose time column
lies in [--from, --to], with only the columns asked for, to standard output.
--type analytics reads the analytics archive (Layer 2 rows, by their time
column); --type source reads the source archive (raw records as received,
by ingestion time).

--where keeps only the rows that match a filter over the dataset's columns:
  =  !=  <  <=  >  >=   IN (...)   IS [NOT] NULL   AND  OR  NOT  ( )
with 'single-quoted' strings, numbers, TRUE/FALSE, and times as strings
('2024-11-01T06:00:00Z' or '2024-11-01'). Unknown columns and wrong types
are refused (exit 2) naming the column. Row groups whose statistics rule
the filter out are not read. See docs/FILTERS.md.

A column whose type changed (ALTER TABLE ... ALTER COLUMN ... TYPE) after
some of its days were archived comes back, and is filtered, with its type
now: archived values are cast as that ALTER cast the rows it found, so each
column has one type in the output. A change the archive cannot follow (one
made with USING), or an archived value the cast refuses, fails the command
(exit 2) naming the column, the objects and the types. See docs/TYPES.md.

--include-live adds the rows of the range still in the database (Layer 2
rows not yet archived, Layer 3 records not yet in a source batch), read in
the same snapshot as the catalog, so each row comes once whichever layer
holds it, even while an archive runs. Archived rows come first, then live
rows.

Times are RFC 3339 (2024-11-01T06:00:00Z) or dates (2024-11-01); a date as
--to includes that whole UTC day. Each object is checked against its catalog
SHA-256 before any of its rows are returned: a damaged archive makes the
command fail, never return wrong rows.

Formats: jsonl (one JSON object per line, each value as PostgreSQL's to_json
writes it in UTC, except numeric, a string of its exact text; NaN and Infinity
as strings; json columns embedded, except a source archive's raw payload, which
is a JSON string holding the record byte for byte as received), csv (header
line, then each row byte for byte as COPY ... TO (FORMAT csv, HEADER) writes it
in UTC, NULL as an empty unquoted field, so COPY ... FROM ... CSV HEADER reads
it back) and parquet (one snappy Parquet file with the columns typed as
archived, for DuckDB, Spark or pandas; redirect it to a file). How each type
is written: docs/TYPES.md.`,
		Example: `  strata retrieve --dataset scor_metrics --type analytics --from 2024-01-01 --to 2024-01-31 \
      --columns metric_id,value,timestamp,process_id
  strata retrieve -d orders --from 2024-03-01 --to 2024-03-31 \
      --where "status = 'shipped' AND amount >= 100" --include-live
  strata retrieve -d scor_metrics --type source --from 2024-11-01 --to 2024-11-08 \
      --columns raw_id,raw_data,ingested_at
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
	fl.StringVarP(&f.where, "where", "w", "", "filter expression, e.g. \"status = 'shipped' AND amount >= 100\" (see docs/FILTERS.md)")
	fl.BoolVar(&f.includeLive, "include-live", false, "also return the range's rows still in the database (not yet archived)")
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
	rows, err := a.svc.RetrieveArchivedData(ctx, req)
	if err != nil {
		return retrieveErr(err)
	}
	defer rows.Close()
	n, err := rows.Write(env.Stdout, f.format)
	if err != nil {
		return retrieveErr(err)
	}
	a.log.Info("retrieved", "dataset", req.Table, "type", req.DataType, "rows", n, "objects", rows.Objects())
	return nil
}

func retrieveRequest(f retrieveFlags) (strata.RetrieveRequest, error) {
	if f.dataset == "" {
		return strata.RetrieveRequest{}, usageErr("--dataset is required")
	}
	if f.typ != catalog.TypeAnalytics && f.typ != catalog.TypeSource {
		return strata.RetrieveRequest{}, usageErr("--type %q: use analytics or source", f.typ)
	}
	from, to, err := parseRange(f.from, f.to)
	if err != nil {
		return strata.RetrieveRequest{}, err
	}
	req := strata.RetrieveRequest{Table: f.dataset, DataType: f.typ, Start: from, End: to,
		Where: f.where, IncludeLive: f.includeLive}
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

func retrieveErr(err error) error {
	if errors.Is(err, strata.ErrInvalid) || errors.Is(err, strata.ErrNotFound) {
		return &ExitError{Code: ExitUsage, Err: err}
	}
	return fmt.Errorf("retrieve: %w", err)
}
