package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

func newTablesCmd(env Env, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tables",
		Short: "Lakehouse tables (Delta Lake) over the archive: rebuild them from the catalog",
		Long: `Each dataset's analytics and source archives are published as lakehouse
tables that Spark, Fabric, Synapse, Databricks, Trino and DuckDB read in
place: a Delta Lake log under {prefix}/{type}/{dataset}/_delta_log/ whose
files are the archive's own Parquet objects (never copied). Strata
publishes them after every commit that changes a dataset's objects
(archive, ingest, replay --apply, restore, expiry, erasure) and at the
start of every archive run, so a publish that failed or was interrupted is
done by the next one. tables.delta in the config turns the format off.

docs/LAKEHOUSE.md shows how each engine reads them.`,
	}
	cmd.AddCommand(newTablesRebuildCmd(env, g))
	return cmd
}

func newTablesRebuildCmd(env Env, g *globalFlags) *cobra.Command {
	var dataset string
	cmd := &cobra.Command{
		Use:   "rebuild --dataset N",
		Short: "Write a dataset's lakehouse tables from the catalog alone",
		Long: `Rebuild makes every lakehouse table of the dataset list exactly the
committed, current objects the catalog names, with their schema and
statistics, whatever the tables list now: a missing table is created, a
table that lists a superseded or expired object, or misses one, gets one
commit that corrects it. Log entries are never overwritten. It reads the
catalog, and each object's footer once if its statistics were never
recorded. Unlike the publish after each commit, which reads only the
objects changed since the last publication, it reads every object and
each whole table, so it also repairs what that publication did not
record.

Run it after restoring a catalog, after 'strata verify' reports
table-missing or table-extra, or to publish a dataset archived before
tables existed.`,
		Example: `  strata tables rebuild --dataset orders`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if dataset == "" {
				return usageErr("--dataset is required (the dataset whose tables to rebuild)")
			}
			a, err := openApp(c.Context(), env, g)
			if err != nil {
				return err
			}
			defer a.close()
			rep, err := a.svc.TablesRebuild(c.Context(), dataset)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FORMAT\tTYPE\tDATASET\tOBJECTS\tVERSION\tPUBLISHED")
			for _, p := range rep.Publications {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\n", p.Format, p.Type, p.Dataset, p.Objects, p.Version,
					p.At.UTC().Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&dataset, "dataset", "d", "", "the dataset (required)")
	return cmd
}
