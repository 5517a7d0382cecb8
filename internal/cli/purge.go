package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/hold"
)

func newPurgeCmd(env Env, g *globalFlags) *cobra.Command {
	var dataset string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "purge [--dataset N] [--dry-run]",
		Short: "Delete archived Layer 3 rows past source.retention, and expired archive objects",
		Long: `Purge deletes the Layer 3 rows older than source.retention (7d by default)
that are in a committed source batch and, for a dataset with a transform,
processed. A row that is not archived is never purged, whatever its age.

It also expires archive objects whose archive.retention (7y by default,
counted from the end of the day of their data) has ended on the database
clock: the catalog marks them expired, then the object is deleted from
storage. An object whose write-once retention (archive.immutability; its
retain-until in 'strata catalog list --objects') has not ended is never
tried; one the storage still refuses to delete stays committed, is reported,
and the next purge tries again. An object under a legal hold ('strata
hold') is kept, and listed with the hold that keeps it, until the hold is
released. Layer 3 rows of a held period are purged as usual: each is in a
committed source object, which the hold keeps.

It also deletes the idempotency keys of ingests older than
source.idempotency_window (24h by default): a retry after that is a new
request.

--dry-run says how many rows and objects would go, and why old rows stay.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := openFor(c.Context(), env, g, !dryRun)
			if err != nil {
				return err
			}
			defer a.close()
			dss, err := sourceDatasets(a.cfg, dataset)
			if err != nil {
				return err
			}
			arch, err := a.archiver()
			if err != nil {
				return err
			}
			verb := "purged"
			if dryRun {
				verb = "would purge"
			}
			for _, ds := range dss {
				spec, err := a.svc.SourceSpec(ds)
				if err != nil {
					return err
				}
				rep, err := arch.Purge(c.Context(), spec, ds.Source.Retention.Duration(), spec.Transform != nil, dryRun)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "%s: %s %d Layer 3 rows older than %s", ds.Name, verb, rep.Purged, rep.Cutoff.Format(time.RFC3339))
				if rep.NotArchived+rep.NotProcessed > 0 {
					fmt.Fprintf(env.Stdout, "; staying: %d not yet archived, %d archived but not processed", rep.NotArchived, rep.NotProcessed)
				}
				if rep.Quarantined > 0 {
					fmt.Fprintf(env.Stdout, " (%d of them quarantined: the transform refused them; fix it, then 'strata replay --apply' over their period)", rep.Quarantined)
				}
				keys, err := catalog.PurgeIngestKeys(c.Context(), a.svc.Pool(), ds.Name, dryRun)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stdout, "; %s %d idempotency key(s) past source.idempotency_window\n", verb, keys)
			}
			if !dryRun { // a released hold's storage flags go before its objects can expire
				if _, err := a.svc.ReconcileHolds(c.Context()); err != nil {
					a.log.Error("storage legal holds not in line with the holds; objects whose flag is still set stay locked", "err", err)
				}
			}
			exp, err := arch.Expire(c.Context(), dataset, dryRun)
			for _, h := range exp.Held {
				fmt.Fprintf(env.Stdout, "kept %s: under legal hold %s (strata hold list)\n", h.Key, hold.FormatRefs(h.Holds))
			}
			for _, k := range exp.Expired {
				fmt.Fprintf(env.Stdout, "expired %s\n", k)
			}
			for _, k := range exp.Locked {
				fmt.Fprintf(env.Stdout, "kept %s: the storage refused to delete it (its retention has not ended by the storage's clock); the next purge tries again\n", k)
			}
			fmt.Fprintf(env.Stdout, "archive: %d object(s) past archive.retention %s", len(exp.Expired), map[bool]string{true: "(dry run)", false: "expired"}[dryRun])
			if exp.Retained > 0 {
				fmt.Fprintf(env.Stdout, "; %d more past it wait for their write-once retention (retain-until) to end", exp.Retained)
			}
			fmt.Fprintln(env.Stdout)
			return err
		},
	}
	cmd.Flags().StringVarP(&dataset, "dataset", "d", "", "only this dataset")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be purged and why other rows stay; change nothing")
	return cmd
}
