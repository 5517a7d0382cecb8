package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/config"
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
			dss, err := purgeDatasets(a.cfg, dataset)
			if err != nil {
				return err
			}
			verb := "purged"
			if dryRun {
				verb = "would purge"
			}
			var expired, retained int
			for _, ds := range dss {
				rep, err := a.svc.Purge(c.Context(), ds.Name, dryRun)
				if ds.Source != nil && !rep.Layer3.Cutoff.IsZero() {
					printPurge(env, ds.Name, verb, rep)
				}
				printExpiry(env, rep.Expiry)
				expired += len(rep.Expiry.Expired)
				retained += rep.Expiry.Retained
				if err != nil {
					return err
				}
			}
			fmt.Fprintf(env.Stdout, "archive: %d object(s) past archive.retention %s", expired, map[bool]string{true: "(dry run)", false: "expired"}[dryRun])
			if retained > 0 {
				fmt.Fprintf(env.Stdout, "; %d more past it wait for their write-once retention (retain-until) to end", retained)
			}
			fmt.Fprintln(env.Stdout)
			return nil
		},
	}
	cmd.Flags().StringVarP(&dataset, "dataset", "d", "", "only this dataset")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be purged and why other rows stay; change nothing")
	return cmd
}

// purgeDatasets are the configured datasets, or the one named.
func purgeDatasets(cfg *config.Config, only string) ([]*config.Dataset, error) {
	var out []*config.Dataset
	for i := range cfg.Datasets {
		if only == "" || cfg.Datasets[i].Name == only {
			out = append(out, &cfg.Datasets[i])
		}
	}
	if only != "" && len(out) == 0 {
		return nil, usageErr("no dataset %q in the config (datasets: %s)", only, datasetNames(cfg))
	}
	return out, nil
}

// printPurge says what the purge of a dataset's Layer 3 did.
func printPurge(env Env, name, verb string, rep strata.PurgeReport) {
	l3 := rep.Layer3
	fmt.Fprintf(env.Stdout, "%s: %s %d Layer 3 rows older than %s", name, verb, l3.Purged, l3.Cutoff.Format(time.RFC3339))
	if l3.NotArchived+l3.NotProcessed > 0 {
		fmt.Fprintf(env.Stdout, "; staying: %d not yet archived, %d archived but not processed", l3.NotArchived, l3.NotProcessed)
	}
	if l3.Quarantined > 0 {
		fmt.Fprintf(env.Stdout, " (%d of them quarantined: the transform refused them; fix it, then 'strata replay --apply' over their period)", l3.Quarantined)
	}
	fmt.Fprintf(env.Stdout, "; %s %d idempotency key(s) past source.idempotency_window\n", verb, rep.IdempotencyKeys)
}

// printExpiry lists the objects expiry removed, and those it kept.
func printExpiry(env Env, exp archive.ExpiryReport) {
	for _, h := range exp.Held {
		fmt.Fprintf(env.Stdout, "kept %s: under legal hold %s (strata hold list)\n", h.Key, hold.FormatRefs(h.Holds))
	}
	for _, k := range exp.Expired {
		fmt.Fprintf(env.Stdout, "expired %s\n", k)
	}
	for _, k := range exp.Locked {
		fmt.Fprintf(env.Stdout, "kept %s: the storage refused to delete it (its retention has not ended by the storage's clock); the next purge tries again\n", k)
	}
}
