package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/units"
)

func newVerifyCmd(env Env, g *globalFlags) *cobra.Command {
	var opts archive.VerifyOptions
	cmd := &cobra.Command{
		Use:   "verify [--dataset N] [--deep] [--repair]",
		Short: "Check that every committed archive object is present and intact",
		Long: `Verify compares the catalog with the storage. Every committed object must
exist with the recorded size; with --deep each object is read whole, its
SHA-256 and Parquet row count compared with the catalog. Objects in storage
that the catalog does not list are reported as unexpected and left alone.

Each problem is printed on its own line as KIND KEY DETAIL, where KIND is
missing, size, checksum, rows, unreadable, unexpected or orphan. The exit
status is 3 when anything is wrong, 0 when the archive is sound.

--repair removes what interrupted runs left behind: objects uploaded by a run
that never committed (orphans). It never touches committed objects.`,
		Example: `  strata verify                 # presence and size of every object
  strata verify --deep          # read everything: checksums and row counts
  strata verify --repair        # remove uploads of interrupted runs`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			a, err := openFor(c.Context(), env, g, opts.Repair)
			if err != nil {
				return err
			}
			defer a.close()
			arch, err := a.archiver()
			if err != nil {
				return err
			}
			rep, err := arch.Verify(c.Context(), opts)
			if err != nil {
				return err
			}
			for _, k := range rep.Repaired {
				fmt.Fprintf(env.Stdout, "repaired %s (orphan removed)\n", k)
			}
			for _, p := range rep.Problems {
				fmt.Fprintf(env.Stdout, "%s %s %s\n", p.Kind, p.Key, p.Detail)
			}
			depth := "present with the recorded size"
			if opts.Deep {
				depth = "read whole: checksums and row counts match"
			}
			if len(rep.Problems) > 0 {
				fmt.Fprintf(env.Stdout, "verify: %d problem(s) in %d committed object(s)\n", len(rep.Problems), rep.Checked)
				return &ExitError{Code: ExitFound}
			}
			fmt.Fprintf(env.Stdout, "verify: ok: %d committed object(s), %s, %s\n", rep.Checked, units.Bytes(rep.Bytes), depth)
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Dataset, "dataset", "d", "", "verify only this dataset")
	cmd.Flags().BoolVar(&opts.Deep, "deep", false, "read every object: SHA-256 and Parquet row count")
	cmd.Flags().BoolVar(&opts.Repair, "repair", false, "remove uploads of interrupted runs (never committed objects)")
	return cmd
}
