package cli

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/units"
)

func newVerifyCmd(env Env, g *globalFlags) *cobra.Command {
	var opts archive.VerifyOptions
	var showRetention bool
	cmd := &cobra.Command{
		Use:   "verify [--dataset N] [--deep] [--repair] [--retention]",
		Short: "Check that every committed archive object is present, intact and protected",
		Long: `Verify compares the catalog with the storage. Every committed object must
exist with the recorded size; with --deep each object is read whole, its
SHA-256 and Parquet row count compared with the catalog. On a versioned
store the version Strata wrote is the one read; when the object's current
version is another one (another writer put an object on top of it), its
bytes are read too and, when they differ, the object is named as
overwritten (reads keep taking the version Strata wrote). Objects in
storage that the catalog does not list are reported as unexpected and left
alone.

Verify also reads each object's write-once retention as the storage states
it, and flags as retention an object that the storage protects for less
than its expiry: none, or a retain-until before it, where its upload asked
for one or its dataset has archive.immutability on. --retention prints that
retention for every object (RETENTION KEY MODE UNTIL).

Each problem is printed on its own line as KIND KEY DETAIL, where KIND is
missing, size, checksum, rows, unreadable, overwritten, retention,
unexpected, orphan, table-missing, table-extra or table-damaged. The exit
status is 3 when anything is wrong, 0 when
the archive is sound.

Verify then checks every lakehouse table (tables.delta, tables.iceberg)
lists exactly the committed, current objects: a committed object the table
does not list is printed as table-missing, a file it lists that is not
committed and current (superseded, expired, restored, or never archived) as
table-extra, each with the format and the table; 'strata tables rebuild
--dataset N', or verify --repair, repairs both. A table whose log cannot
be read (an entry edited or removed by hand) is table-damaged: log entries
are never rewritten, so move its _delta_log away, then rebuild.

--repair removes what interrupted runs left behind: objects uploaded by a run
that never committed (orphans). And where archive.immutability is on, it
puts every committed object that lacks the retention under it, until the
object's expiry (objects archived before immutability was turned on: S3
PutObjectRetention on the version Strata wrote, Azure's version-level
immutability policy, the local sidecar), and records it in the catalog.
It rebuilds from the catalog the lakehouse tables of every dataset whose
tables differ from it (as strata tables rebuild does; a damaged table is
left to you, as above). It never changes a committed object's bytes.`,
		Example: `  strata verify                 # presence, size, current version and retention of every object
  strata verify --deep          # read everything: checksums and row counts
  strata verify --retention     # and print every object's retention as the storage states it
  strata verify --repair        # remove uploads of interrupted runs; protect objects archived before
                                # immutability; rebuild lakehouse tables behind the catalog`,
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
			opts.Immutability = map[string]storage.RetentionMode{}
			for _, ds := range a.cfg.Datasets {
				opts.Immutability[ds.Name] = ds.Archive.RetentionMode()
			}
			rep, err := arch.Verify(c.Context(), opts)
			if err != nil {
				return err
			}
			diffs, err := a.svc.TablesCheck(c.Context(), opts.Dataset)
			if err != nil {
				return err
			}
			printVerify(env, rep, opts.Deep, showRetention)
			if opts.Repair && len(diffs) > 0 {
				if diffs, err = repairTables(c.Context(), env, a.svc, diffs); err != nil {
					return err
				}
			}
			printTableDiffs(env, diffs)
			if len(rep.Problems) > 0 || len(diffs) > 0 {
				return &ExitError{Code: ExitFound}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&opts.Dataset, "dataset", "d", "", "verify only this dataset")
	cmd.Flags().BoolVar(&opts.Deep, "deep", false, "read every object: SHA-256 and Parquet row count")
	cmd.Flags().BoolVar(&opts.Repair, "repair", false, "remove uploads of interrupted runs; put objects lacking the configured retention under it; rebuild lakehouse tables that differ from the catalog")
	cmd.Flags().BoolVar(&showRetention, "retention", false, "print every object's retention as the storage states it")
	return cmd
}

func printVerify(env Env, rep archive.VerifyReport, deep, showRetention bool) {
	for _, k := range rep.Repaired {
		fmt.Fprintf(env.Stdout, "repaired %s (orphan removed)\n", k)
	}
	for _, r := range rep.Protected {
		fmt.Fprintf(env.Stdout, "repaired %s (put under %s)\n", r.Key, statedRetention(r.Stated))
	}
	protected := 0
	for _, r := range rep.Retention {
		if r.Stated.Mode != storage.RetentionOff {
			protected++
		}
		if showRetention {
			fmt.Fprintf(env.Stdout, "retention %s %s\n", r.Key, statedRetention(r.Stated))
		}
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(env.Stdout, "%s %s %s\n", p.Kind, p.Key, p.Detail)
	}
	depth := "present with the recorded size"
	if deep {
		depth = "read whole: checksums and row counts match"
	}
	if len(rep.Problems) > 0 {
		fmt.Fprintf(env.Stdout, "verify: %d problem(s) in %d committed object(s)\n", len(rep.Problems), rep.Checked)
		return
	}
	fmt.Fprintf(env.Stdout, "verify: ok: %d committed object(s), %s, %s; %d under write-once retention as the storage states it\n",
		rep.Checked, units.Bytes(rep.Bytes), depth, protected)
}

// statedRetention is a retention as MODE UNTIL [legal-hold], or none.
func statedRetention(r storage.Retention) string {
	s := "none"
	if r.Mode != storage.RetentionOff {
		s = string(r.Mode) + " " + r.Until.UTC().Format(time.RFC3339)
	}
	if r.LegalHold {
		s += " legal-hold"
	}
	return s
}

// repairTables rebuilds, from the catalog, the tables of every dataset
// whose tables differ from it without being damaged (strata tables
// rebuild), prints what each now lists, and returns the differences left
// after: those of damaged tables, which a rebuild does not read, and any
// a rebuild could not mend.
func repairTables(ctx context.Context, env Env, svc *strata.Service, diffs []strata.TableDifference) ([]strata.TableDifference, error) {
	damaged := map[string]bool{}
	for _, d := range diffs {
		if d.Damaged != "" {
			damaged[d.Dataset] = true
		}
	}
	var datasets []string
	for _, d := range diffs {
		if !damaged[d.Dataset] && !slices.Contains(datasets, d.Dataset) {
			datasets = append(datasets, d.Dataset)
		}
	}
	for _, ds := range datasets {
		rep, err := svc.TablesRebuild(ctx, ds)
		if err != nil {
			return nil, fmt.Errorf("verify --repair: rebuild the lakehouse tables of %s: %w", ds, err)
		}
		for _, p := range rep.Publications {
			fmt.Fprintf(env.Stdout, "repaired %s table %s/%s (rebuilt from the catalog: lists %d object(s))\n", p.Format, p.Type, ds, p.Objects)
		}
	}
	var left []strata.TableDifference
	for _, ds := range datasets {
		d, err := svc.TablesCheck(ctx, ds)
		if err != nil {
			return nil, fmt.Errorf("verify --repair: check the rebuilt tables of %s: %w", ds, err)
		}
		left = append(left, d...)
	}
	for _, d := range diffs {
		if damaged[d.Dataset] {
			left = append(left, d)
		}
	}
	return left, nil
}

// printTableDiffs prints each lakehouse table's difference from the
// catalog, one key a line.
func printTableDiffs(env Env, diffs []strata.TableDifference) {
	for _, d := range diffs {
		table := d.Format + " table " + d.Type + "/" + d.Dataset
		if d.Damaged != "" {
			fmt.Fprintf(env.Stdout, "table-damaged %s/%s %s: %s\n", d.Type, d.Dataset, d.Format, d.Damaged)
		}
		for _, k := range d.Missing {
			fmt.Fprintf(env.Stdout, "table-missing %s committed and current, not listed by the %s\n", k, table)
		}
		for _, k := range d.Extra {
			fmt.Fprintf(env.Stdout, "table-extra %s listed by the %s, not committed and current\n", k, table)
		}
	}
	if len(diffs) > 0 {
		fmt.Fprintf(env.Stdout, "verify: %d lakehouse table(s) differ from the catalog: run strata tables rebuild --dataset N\n", len(diffs))
	}
}
