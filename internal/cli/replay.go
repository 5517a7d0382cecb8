package cli

import (
	"github.com/spf13/cobra"
)

const replayLong = `Replay re-runs the dataset's current transform over the raw records
ingested in the period, read from the source archive (and Layer 3 for
records not archived yet), exactly as compare does, and prints the same
report.

Without --apply it changes nothing: it shows what an apply would write.

With --apply, in one transaction, it writes the transform's rows back:
  - keys whose analytics row is in Layer 2 and differs, or that have no row
    anywhere (missing), are upserted into Layer 2 as ingest does
    (INSERT ... ON CONFLICT (key) DO UPDATE of the columns the transform
    yields); a row that changed after it was compared (an ingest ran
    meanwhile) is left alone and counted as skipped;
  - keys whose row is in the analytics archive and differs get a new
    archive object per day that supersedes the old ones (which stay,
    immutable, marked superseded, until they expire), so retrieval returns
    the corrected rows;
  - a row found on another day than its records give it (its time column
    moved) goes where its corrected time says: Layer 2 when younger than
    analytics.retention, else an object of its own day; its stale copy
    leaves its old object (superseded), so each key is kept once;
  - a lineage record (period, transform version, rows and objects written)
    and the transform's text are kept in the catalog.
Unexpected rows are reported, never deleted; keys with a record after the
period are left to the replay of that period; Layer 3 is never modified.
Applying twice changes nothing the second time.

This is how a transform bug is fixed (fix the SQL file, then replay the
affected period with --apply) and how Layer 2 is rebuilt after a disaster
(with Layer 2 and Layer 3 emptied, replay --apply over the period rebuilds
Layer 2 from the source archive alone).

--transform FILE runs a candidate transform instead of the configured one,
checked and run as by 'strata compare --transform'. With --apply the
candidate is adopted for the period: its rows are written as above, its
text is recorded in the catalog as a transform version (strata.transforms),
and the lineage record names it, so 'strata lineage' shows which rows it
wrote. The dataset's configured transform is unchanged: ingest and later
replays still use it (and compare with it reports the candidate's rows as
changed). To make the candidate the default, copy it over the file
datasets[].transform names. A candidate that does not parse or run exits 2
with the database's message, and nothing is written.

Exit status: 0 when it ran, whether or not it found differences; 2 on bad
input (including a candidate transform that does not parse or run); 1 on
failure (nothing was changed).`

func newReplayCmd(env Env, g *globalFlags) *cobra.Command {
	var f compareFlags
	cmd := &cobra.Command{
		Use:   "replay --dataset N --from T --to T [--transform FILE] [--apply] [--format text|json]",
		Short: "Re-run the transform over a period's archived raw records; with --apply, write the differences back",
		Long:  replayLong,
		Example: `  strata replay --dataset orders --from 2024-11-01 --to 2024-11-30           # what would change
  strata replay --dataset orders --from 2024-11-01 --to 2024-11-30 --apply   # after fixing transforms/orders.sql
  strata replay --dataset orders --from 2024-11-01 --to 2024-11-30 --transform candidate.sql --apply   # adopt a candidate for November`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runCompare(c.Context(), env, g, f, "replay")
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&f.apply, "apply", false, "write the differences to Layer 2 and the archive (default: only report them)")
	return cmd
}
