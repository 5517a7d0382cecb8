package cli

import (
	"fmt"
	"io"

	"github.com/stratahq/strata"
)

// replayedTransform names the transform a replay ran: the configured one
// of then, or a candidate in its place.
func replayedTransform(b strata.LineageBatch) string {
	c := b.Candidate
	if c == nil {
		return "the transform"
	}
	name := ""
	if c.Name != "" {
		name = " " + c.Name
	}
	conf := "the dataset had no configured transform"
	if c.ConfiguredVersion != "" {
		conf = "in place of the configured version " + lineageVersion(c.ConfiguredVersion)
	}
	return fmt.Sprintf("a CANDIDATE transform%s (version %s, %s)", name, lineageVersion(b.TransformVersion), conf)
}

// printLineageCandidates lists the candidate transforms adopted for the
// period: which version wrote which rows, in place of which configured one.
func printLineageCandidates(w io.Writer, r *strata.LineageReport) {
	if len(r.Candidates) == 0 {
		return
	}
	fmt.Fprintf(w, "\n  Candidate transforms adopted in this period (strata replay --transform FILE --apply);\n"+
		"  the configured transform was left as it was each time:\n")
	for _, c := range r.Candidates {
		name := ""
		if c.Name != "" {
			name = " (" + c.Name + ")"
		}
		fmt.Fprintf(w, "\n  - version %s%s, lineage record %d", lineageVersion(c.Version), name, c.LineageID)
		if c.RunID != nil {
			fmt.Fprintf(w, ", run %d", *c.RunID)
		}
		fmt.Fprintf(w, ", %s\n", lineageTime(c.At))
		if c.PeriodFrom != nil && c.PeriodTo != nil {
			fmt.Fprintf(w, "    for records received %s to %s\n", lineageTime(*c.PeriodFrom), lineageTime(*c.PeriodTo))
		}
		fmt.Fprintf(w, "    wrote Layer 2: %d row(s) inserted, %d updated; corrected %d archived row(s)\n",
			c.Layer2Inserted, c.Layer2Updated, c.ArchivedRows)
		for _, k := range c.AnalyticsObjects {
			fmt.Fprintf(w, "      into %s\n", k)
		}
		for _, k := range c.Superseded {
			fmt.Fprintf(w, "      superseding %s\n", k)
		}
		switch {
		case c.Current:
			fmt.Fprintln(w, "    it is the configured transform now (made the default since)")
		case c.ConfiguredVersion != "":
			fmt.Fprintf(w, "    the configured transform then was version %s\n", lineageVersion(c.ConfiguredVersion))
		}
	}
}
