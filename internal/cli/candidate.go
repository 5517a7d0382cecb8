package cli

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/transform"
)

// readCandidate reads the candidate transform file of --transform ("" when
// none); the service checks its SQL.
func readCandidate(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", usageErr("--transform %s: no such file (give the candidate transform's SQL file)", path)
	case err != nil:
		return "", usageErr("--transform %s: %v", path, err)
	case st.IsDir():
		return "", usageErr("--transform %s is a folder: give the candidate transform's SQL file", path)
	case st.Size() > transform.MaxSize:
		return "", usageErr("--transform %s is %d bytes, over the %d-byte limit of a transform (one SELECT ... FROM {{source}})", path, st.Size(), transform.MaxSize)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", usageErr("--transform %s: %v", path, err)
	}
	if len(b) == 0 {
		return "", usageErr("--transform %s is empty: write one SELECT ... FROM {{source}} AS r", path)
	}
	return string(b), nil
}

// transformLabel names the transform a report ran: the configured one, or
// a candidate beside the configured one it stands in for.
func transformLabel(r *strata.CompareReport) string {
	c := r.Candidate
	if c == nil {
		return "transform " + versionPrefix(r.TransformVersion)
	}
	conf := "the dataset has no configured transform"
	if c.ConfiguredPath != "" {
		conf = "configured transform " + c.ConfiguredPath
		if c.ConfiguredVersion != "" {
			conf += " " + versionPrefix(c.ConfiguredVersion)
		}
	}
	return fmt.Sprintf("CANDIDATE transform %s %s (in place of the %s)", c.Name, versionPrefix(r.TransformVersion), conf)
}

// printCandidateOutcome says what a compare or replay with a candidate
// transform means, what an apply adopted, that the configured transform
// is unchanged, and how to make the candidate the default.
func printCandidateOutcome(w io.Writer, r *strata.CompareReport, verb string) {
	c := r.Candidate
	switch {
	case r.Applied != nil:
		printApplied(w, r.Applied)
		if r.Applied.Lineage != 0 {
			fmt.Fprintf(w, "adopted: candidate %s for this period, recorded in the catalog as transform version %s (lineage record %d)\n",
				c.Name, r.TransformVersion, r.Applied.Lineage)
		}
	case verb == "replay":
		fmt.Fprintf(w, "dry run: nothing was changed (--apply adopts candidate %s for this period: it writes the changed and missing rows above)\n", c.Name)
		return
	case r.Agree:
		fmt.Fprintf(w, "result: candidate %s makes the rows there are: adopting it would change nothing in this period\n", c.Name)
		return
	default:
		fmt.Fprintf(w, "result: adopting candidate %s would change the rows above (exit 3); nothing was written.\n"+
			"        'strata replay --dataset %s --from %s --to %s --transform %s --apply' adopts it for this period\n",
			c.Name, r.Dataset, r.From.Format(time.RFC3339Nano), r.To.Format(time.RFC3339Nano), c.Name)
		return
	}
	if c.ConfiguredPath == "" {
		fmt.Fprintln(w, "the dataset has no configured transform: ingest writes no Layer 2 rows (set datasets[].transform to make one the default)")
		return
	}
	fmt.Fprintf(w, "unchanged: the configured transform %s; ingest and later replays still use it, and compare with it\n"+
		"reports the rows this candidate wrote as changed. To make the candidate the default, copy %s over\n"+
		"%s (the file datasets[].transform names); compare then agrees.\n", c.ConfiguredPath, c.Name, c.ConfiguredPath)
}
