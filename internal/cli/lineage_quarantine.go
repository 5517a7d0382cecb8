package cli

import (
	"fmt"
	"io"

	"github.com/stratahq/strata"
)

// printLineageQuarantine lists the records the transform refused.
func printLineageQuarantine(w io.Writer, q *strata.LineageQuarantine) {
	if q == nil {
		return
	}
	fmt.Fprintf(w, "  Quarantined: %d record(s) the transform refused at ingest were stored unprocessed; %d still wait, %d were processed by a replay --apply.\n",
		q.Open+q.Resolved, q.Open, q.Resolved)
	for _, x := range q.Records {
		fmt.Fprintf(w, "    id %d  %s  %s\n", x.ID, lineageTime(x.IngestedAt), x.Error)
	}
	if n := q.Open - int64(len(q.Records)); n > 0 {
		fmt.Fprintf(w, "    ... and %d more (strata.quarantine)\n", n)
	}
}

// lineageQuarantineLines says how many records a batch quarantined or a
// replay processed out of quarantine.
func lineageQuarantineLines(detail map[string]any) []string {
	var out []string
	if n, _ := detail["quarantined"].(float64); n > 0 {
		out = append(out, fmt.Sprintf("quarantined %d record(s) the transform refused: stored and archived, not processed", int64(n)))
	}
	if n, _ := detail["quarantined_processed"].(float64); n > 0 {
		out = append(out, fmt.Sprintf("processed %d quarantined record(s)", int64(n)))
	}
	return out
}
