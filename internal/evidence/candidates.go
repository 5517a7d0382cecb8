package evidence

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/lineage"
)

// Candidate is one candidate transform adopted for a period by a
// replay (strata replay --transform FILE --apply): the version that wrote
// those rows instead of the dataset's configured transform.
type Candidate struct {
	Version string `json:"version"`
	// Name is where the candidate came from (a file name), as given.
	Name string `json:"name,omitempty"`
	// LineageID, At and RunID are the replay's lineage record and run.
	LineageID int64     `json:"lineage_id"`
	At        time.Time `json:"at"`
	RunID     *int64    `json:"run_id,omitempty"`
	// PeriodFrom and PeriodTo are the period the replay covered.
	PeriodFrom *time.Time `json:"period_from,omitempty"`
	PeriodTo   *time.Time `json:"period_to,omitempty"`
	// ConfiguredVersion was the dataset's configured transform then, left
	// unchanged; Current is true when the configured transform has the
	// candidate's version now (it was made the default since).
	ConfiguredVersion string `json:"configured_version,omitempty"`
	Current           bool   `json:"current"`
	// Layer2Inserted and Layer2Updated are the Layer 2 rows it wrote;
	// ArchivedRows the archived rows it corrected, in AnalyticsObjects,
	// which supersede the objects in Superseded.
	Layer2Inserted   int64    `json:"layer2_inserted"`
	Layer2Updated    int64    `json:"layer2_updated"`
	ArchivedRows     int64    `json:"archived_rows"`
	AnalyticsObjects []string `json:"analytics_objects"`
	Superseded       []string `json:"superseded"`
}

// candidates lists the replays of the report that adopted a candidate
// transform (their lineage detail names it), marks their batches and the
// versions among the transforms.
func (g *gatherer) candidates() {
	r := g.rep
	cur := ""
	if r.CurrentTransform != nil {
		cur = r.CurrentTransform.Version
	}
	for i := range r.Batches {
		b := &r.Batches[i]
		c := batchCandidate(*b)
		if c == nil {
			continue
		}
		b.Candidate = c
		lc := Candidate{Version: b.TransformVersion, Name: c.Name, LineageID: b.ID, At: b.At, RunID: b.RunID,
			PeriodFrom: b.PeriodFrom, PeriodTo: b.PeriodTo, ConfiguredVersion: c.ConfiguredVersion,
			Current: cur != "" && cur == b.TransformVersion, Layer2Inserted: detailInt(b.Detail, "inserted"),
			Layer2Updated: detailInt(b.Detail, "updated"), ArchivedRows: detailInt(b.Detail, "archived_rows"),
			AnalyticsObjects: b.AnalyticsObjects, Superseded: b.Superseded}
		r.Candidates = append(r.Candidates, lc)
		for j := range r.Transforms {
			if r.Transforms[j].Version == b.TransformVersion {
				r.Transforms[j].Candidate = true
			}
		}
	}
}

// batchCandidate reads the candidate a replay's lineage detail names.
func batchCandidate(b Batch) *lineage.Candidate {
	raw, ok := b.Detail["candidate"]
	if b.Kind != catalog.LineageReplay || !ok {
		return nil
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return nil
	}
	var c lineage.Candidate
	if json.Unmarshal(data, &c) != nil {
		return nil
	}
	return &c
}

// detailInt reads a count of a lineage record's detail (JSON numbers
// decode as float64).
func detailInt(d map[string]any, key string) int64 {
	if f, ok := d[key].(float64); ok {
		return int64(f)
	}
	return 0
}

// candidateNotes say, for each candidate adopted, what it wrote and that
// the configured transform was left as it was.
func (r *Report) candidateNotes() []string {
	var out []string
	for _, c := range r.Candidates {
		name := ""
		if c.Name != "" {
			name = " (" + c.Name + ")"
		}
		note := fmt.Sprintf("candidate transform version %s%s was adopted by replay (lineage record %d): it wrote %d Layer 2 row(s) and corrected %d archived row(s); the configured transform",
			short(c.Version), name, c.LineageID, c.Layer2Inserted+c.Layer2Updated, c.ArchivedRows)
		if c.ConfiguredVersion != "" {
			note += " (version " + short(c.ConfiguredVersion) + ")"
		}
		note += " was left unchanged"
		if c.Current {
			note += ", and has since been made this version"
		}
		out = append(out, note)
	}
	return out
}
