package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata"
)

const holdLong = `A legal hold keeps the archived records of a dataset's period exactly as
they are until it is released, whatever their retention says: while a hold
covers an archive object, Strata never expires it (purge), deletes it,
replaces it (replay --apply's corrections, erasure) or restores it into
Layer 2. Each refusal names the hold that stopped it.

An object is covered when its rows' times overlap the period (analytics:
the dataset's analytics time column; source: the ingestion time), for the
archive type(s) held. Superseded objects, kept for audit, are covered too.

Where the storage has its own legal hold (S3 Object Lock, Azure immutable
storage), Strata also sets it on every held object, and on objects archived
into the period later, so nobody can delete them outside Strata either; it
is cleared on release when no other hold covers the object. 'strata hold
list' and 'strata purge' repair the storage flags after a crash.

Holds and releases are recorded with who (the operating-system user here,
the token's name over HTTP), the database role, when and why; released
holds stay listed with --all.`

func newHoldCmd(env Env, g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hold add|list|release",
		Short: "Place, list and release legal holds on archived records",
		Long:  holdLong,
		Example: `  # litigation over November 2024's orders: keep both archives of that month
  strata hold add --dataset orders --from 2024-11-01 --to 2024-11-30 --reason "case 24-117, Smith v. Acme"

  # what is held, and what was
  strata hold list --all

  # the case is closed
  strata hold release 3 --reason "case 24-117 settled, counsel's email of 2025-02-03"`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return usageErr("say what to do: strata hold add|list|release (see 'strata hold --help')")
		},
	}
	cmd.AddCommand(newHoldAddCmd(env, g), newHoldListCmd(env, g), newHoldReleaseCmd(env, g))
	return cmd
}

type holdAddFlags struct {
	dataset, typ, from, to, reason string
}

func newHoldAddCmd(env Env, g *globalFlags) *cobra.Command {
	var f holdAddFlags
	cmd := &cobra.Command{
		Use:   "add --dataset N [--type source|analytics] --from T --to T --reason TEXT",
		Short: "Place a legal hold; prints its id",
		Long: `Add places a legal hold on the dataset's archive over [--from, --to]
(both inclusive; a date as --to means that whole UTC day) and prints its id
on standard output, alone, for scripts. Without --type both the source and
the analytics archive are held.

Exit status: 0 placed, 1 failure (if only the storage's legal-hold flag
could not be set, the hold is in force in Strata and the message says so),
2 bad input: an unknown dataset, a bad or reversed period, no reason.`,
		Example: `  strata hold add --dataset orders --type analytics --from 2024-11-01 --to 2024-11-30 --reason "audit 2025-Q1"`,
		Args:    cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if f.dataset == "" {
				return usageErr("--dataset is required")
			}
			from, to, err := parseRange(f.from, f.to)
			if err != nil {
				return err
			}
			if strings.TrimSpace(f.reason) == "" {
				return usageErr("--reason is required: say why (a case, an investigation, a ticket); it is recorded with the hold")
			}
			a, err := openApp(c.Context(), env, g)
			if err != nil {
				return err
			}
			defer a.close()
			h, err := a.svc.AddHold(c.Context(), strata.HoldRequest{Dataset: f.dataset, Type: f.typ, From: from, To: to, Reason: f.reason})
			if h.ID != 0 {
				fmt.Fprintln(env.Stdout, h.ID)
				fmt.Fprintf(env.Stderr, "hold %d placed on %s: %d object(s) held now, %d with the storage's legal hold\n",
					h.ID, describeHold(h), h.Objects, h.StorageHeld)
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.dataset, "dataset", "d", "", "dataset name (required)")
	fl.StringVarP(&f.typ, "type", "t", "", "archive to hold: source, analytics, or both (default both)")
	fl.StringVar(&f.from, "from", "", "start of the period: an RFC 3339 time or a date (required)")
	fl.StringVar(&f.to, "to", "", "end of the period, inclusive: an RFC 3339 time or a date (required)")
	fl.StringVar(&f.reason, "reason", "", "why: recorded with the hold (required)")
	return cmd
}

func newHoldListCmd(env Env, g *globalFlags) *cobra.Command {
	var dataset, format string
	var all bool
	cmd := &cobra.Command{
		Use:   "list [--dataset N] [--all] [--format text|json]",
		Short: "List legal holds (active ones unless --all)",
		Long: `List shows the active legal holds (with --all the released ones too):
id, dataset, archive type, period [from, to), the objects covered now, how
many carry the storage's legal hold, who placed it and why. It first brings
the storage's legal-hold flags in line with the holds (repairing what a
crash between a hold and the storage calls left).`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			if format != "text" && format != "json" {
				return usageErr("--format %q: use text or json", format)
			}
			a, err := openApp(c.Context(), env, g)
			if err != nil {
				return err
			}
			defer a.close()
			hs, err := a.svc.ListHolds(c.Context(), strata.HoldFilter{Dataset: dataset, All: all})
			if err != nil {
				return err
			}
			if format == "json" {
				if hs == nil {
					hs = []strata.Hold{}
				}
				enc := json.NewEncoder(env.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(hs)
			}
			return writeHolds(env.Stdout, hs)
		},
	}
	cmd.Flags().StringVarP(&dataset, "dataset", "d", "", "only this dataset")
	cmd.Flags().BoolVar(&all, "all", false, "include released holds")
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func newHoldReleaseCmd(env Env, g *globalFlags) *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "release ID --reason TEXT",
		Short: "Release a legal hold",
		Long: `Release ends hold ID, recording who, when and why. Objects no other hold
covers may then expire at the next purge, and the storage's legal hold is
cleared on them.

Exit status: 0 released, 1 failure, 2 bad input: no such hold, a hold
already released, no reason.`,
		Example: `  strata hold release 3 --reason "investigation closed (ticket SEC-881)"`,
		Args:    cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || id <= 0 {
				return usageErr("hold id %q: give the number 'strata hold list' shows", args[0])
			}
			if strings.TrimSpace(reason) == "" {
				return usageErr("--reason is required: say why the hold ends; it is recorded with the release")
			}
			a, err := openApp(c.Context(), env, g)
			if err != nil {
				return err
			}
			defer a.close()
			h, err := a.svc.ReleaseHold(c.Context(), id, reason)
			if err == nil {
				fmt.Fprintf(env.Stdout, "released hold %d on %s\n", h.ID, describeHold(h))
			}
			return err
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why the hold ends: recorded with the release (required)")
	return cmd
}

// describeHold is "orders (analytics) 2024-11-01T00:00:00Z .. 2024-12-01T00:00:00Z".
func describeHold(h strata.Hold) string {
	return fmt.Sprintf("%s (%s) [%s, %s)", h.Dataset, h.Type, h.From.Format(time.RFC3339Nano), h.To.Format(time.RFC3339Nano))
}

func writeHolds(w io.Writer, hs []strata.Hold) error {
	if len(hs) == 0 {
		_, err := fmt.Fprintln(w, "no holds")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tDATASET\tTYPE\tFROM\tTO\tOBJECTS\tSTORAGE HELD\tPLACED\tBY\tREASON\tRELEASED")
	for _, h := range hs {
		rel := "-"
		if h.Released != nil {
			rel = fmt.Sprintf("%s by %s: %s", h.Released.At.Format(time.RFC3339), h.Released.By, h.Released.Reason)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\n", h.ID, h.Dataset, h.Type,
			h.From.Format(time.RFC3339Nano), h.To.Format(time.RFC3339Nano), h.Objects, h.StorageHeld,
			h.Created.At.Format(time.RFC3339), h.Created.By, h.Reason, rel)
	}
	return tw.Flush()
}
