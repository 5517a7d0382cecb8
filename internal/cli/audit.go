package cli

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/audit"
)

func newAuditCmd(env Env, g *globalFlags) *cobra.Command {
	if !audit.Enabled {
		fmt.Fprintln(env.Stderr, "strata: this binary was built with -tags strata_noaudit (for benchmarks): it records nothing in the audit trail")
	}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Who read or changed what: list the audit trail, verify its hash chain",
		Long: `Every action that reads archived or live data (retrieve, lineage, compare,
replay, restore), changes it (ingest, archive runs, purge, expiry, replay
--apply, restore) or changes access is recorded in strata.audit, whichever
door it came in by: the command line (as the operating-system user), the
HTTP API (as the token's name) or the Go API. Each record also names the
database role, the dataset, the period, the rows and objects touched and the
result.

Records are hash chained and their chain's head is anchored in the archive
storage under {prefix}/audit/; docs/COMPLIANCE.md says how, and how to
check the chain with other tools.`,
	}
	cmd.AddCommand(newAuditListCmd(env, g), newAuditVerifyCmd(env, g))
	return cmd
}

func newAuditListCmd(env Env, g *globalFlags) *cobra.Command {
	var dataset, from, to, who, format string
	var limit int
	cmd := &cobra.Command{
		Use:   "list [--dataset N] [--from T --to T] [--who NAME] [--format text|json]",
		Short: "List audit records, oldest first",
		Long: `List prints the audit records that match, oldest first. --from and --to
select the records whose period overlaps [from, to] (who read or changed
the data of those days); records of actions without a period (archive
runs, purges) match when they were written in [from, to]. --who is an
actor's name: a token's name, an operating-system user, or "scheduler" for
serve's lifecycle jobs.

--format json prints one JSON object per line with every field of the
record, hashes included.`,
		Example: `  strata audit list --dataset orders --from 2024-03-15 --to 2024-03-15
  strata audit list --who alice --format json`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			var f strata.AuditFilter
			var err error
			if format != "text" && format != "json" {
				return usageErr("--format %q: use text or json", format)
			}
			if from != "" || to != "" {
				if f.From, f.To, err = parseRange(from, to); err != nil {
					return err
				}
			}
			f.Dataset, f.Who, f.Limit = dataset, who, limit
			a, err := openApp(c.Context(), env, g)
			if err != nil {
				return err
			}
			defer a.close()
			recs, err := a.svc.AuditList(c.Context(), f)
			if err != nil {
				return err
			}
			if format == "json" {
				return printJSONLines(env, recs)
			}
			printAudit(env, recs)
			return nil
		},
	}
	cmd.Flags().StringVarP(&dataset, "dataset", "d", "", "only this dataset")
	cmd.Flags().StringVar(&from, "from", "", "start of the period (RFC 3339 or a date); with --to")
	cmd.Flags().StringVar(&to, "to", "", "end of the period, inclusive; with --from")
	cmd.Flags().StringVar(&who, "who", "", "only this actor (token name, OS user, scheduler)")
	cmd.Flags().StringVar(&format, "format", "text", "text or json (one record per line)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many records (default 10000)")
	return cmd
}

func printJSONLines(env Env, recs []strata.AuditRecord) error {
	enc := json.NewEncoder(env.Stdout)
	for i := range recs {
		if err := enc.Encode(&recs[i]); err != nil {
			return err
		}
	}
	return nil
}

func printAudit(env Env, recs []strata.AuditRecord) {
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tAT\tWHO\tVIA\tROLE\tACTION\tDATASET\tPERIOD\tROWS\tOBJECTS\tRESULT")
	for _, r := range recs {
		result := r.Result
		if r.Error != "" {
			result += ": " + r.Error
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\n", r.Seq, r.At.UTC().Format(time.RFC3339),
			r.Actor, r.Via, r.DBRole, r.Action, dash(r.Dataset), period(r.From, r.To), r.Rows, r.Objects, result)
	}
	tw.Flush()
	fmt.Fprintf(env.Stdout, "%d record(s)\n", len(recs))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func period(from, to *time.Time) string {
	if from == nil && to == nil {
		return "-"
	}
	f, t := "", ""
	if from != nil {
		f = from.UTC().Format(time.RFC3339)
	}
	if to != nil {
		t = to.UTC().Format(time.RFC3339)
	}
	return f + ".." + t
}

func newAuditVerifyCmd(env Env, g *globalFlags) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "verify [--format text|json]",
		Short: "Recompute the audit chain and check it against every anchor",
		Long: `Verify reads every audit record in sequence order and recomputes its hash
from its canonical form (docs/COMPLIANCE.md), checks that each record names
its predecessor's hash, and that every anchor under {prefix}/audit/ in the
archive storage names a record with the same hash and time.

Each problem is printed as KIND SEQ TEXT, where KIND is edited (the record's
content no longer hashes to its hash), missing (sequence numbers missing:
records deleted), broken_link (a record deleted, inserted or reordered
before it) or anchor (the chain was rewritten or truncated since the anchor
was written). The exit status is 3 when anything is wrong, 0 when the chain
is intact.`,
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
			rep, err := a.svc.AuditVerify(c.Context())
			if err != nil {
				return err
			}
			if format == "json" {
				if err := json.NewEncoder(env.Stdout).Encode(rep); err != nil {
					return err
				}
			} else {
				printAuditVerify(env, rep)
			}
			if !rep.OK() {
				return &ExitError{Code: ExitFound}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or json")
	return cmd
}

func printAuditVerify(env Env, rep *strata.AuditReport) {
	for _, p := range rep.Problems {
		fmt.Fprintf(env.Stdout, "%s %d %s\n", p.Kind, p.Seq, p.Text)
	}
	if rep.More > 0 {
		fmt.Fprintf(env.Stdout, "... and %d more problem(s)\n", rep.More)
	}
	if !rep.OK() {
		fmt.Fprintf(env.Stdout, "audit verify: %d problem(s) in %d record(s), %d anchor(s)\n", len(rep.Problems)+rep.More, rep.Records, rep.Anchors)
		return
	}
	fmt.Fprintf(env.Stdout, "audit verify: ok: %d record(s) chained, head %d (%.16s…), %d anchor(s) match", rep.Records, rep.Head.Seq, rep.Head.Hash, rep.Anchors)
	if rep.Unanchored > 0 {
		fmt.Fprintf(env.Stdout, "; %d record(s) after the newest anchor", rep.Unanchored)
	}
	fmt.Fprintln(env.Stdout)
}
