package lineage

import (
	"slices"
	"strings"
	"time"
)

// SampleLimit is how many samples a report keeps per category.
const SampleLimit = 5

// Report is the outcome of a compare or replay. Its JSON form is what
// `strata compare --format json` prints and the HTTP API answers.
type Report struct {
	Dataset string    `json:"dataset"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	// Matched keys have an analytics row equal, in every compared column,
	// to what the transform makes of their latest record in the period.
	Matched int64 `json:"matched"`
	// Missing keys are expected but have no analytics row anywhere.
	Missing int64 `json:"missing"`
	// Unexpected keys have an analytics row and a record in the period,
	// but the transform makes no row for them from the period's records.
	Unexpected int64 `json:"unexpected"`
	// Changed keys have an analytics row that differs from the expected
	// one; ChangedArchived of them are in the analytics archive.
	Changed         int64 `json:"changed"`
	ChangedArchived int64 `json:"changed_archived"`
	// Moved of the changed archived keys were found on another UTC day
	// than the one their expected row's time column gives (the time column
	// differs): replay --apply moves them.
	Moved int64 `json:"moved"`
	// Later keys have a record ingested after the period: their analytics
	// row comes from it, so they were not compared here.
	Later int64 `json:"later"`
	// Columns counts, per compared column, the changed rows in which it
	// differs.
	Columns map[string]int64 `json:"columns"`
	// Samples are up to SampleLimit keys per category, in key order.
	Samples Samples `json:"samples"`
	// SourceRecords counts the period's records by where they were read.
	SourceRecords SourceCounts `json:"source_records"`
	// AnalyticsRows counts the analytics rows found for the keys.
	AnalyticsRows AnalyticsCounts `json:"analytics_rows"`
	// Search says how the archive outside the days read whole was searched
	// for the keys.
	Search SearchCounts `json:"search"`
	// TransformVersion is the SHA-256 of the transform text that ran.
	TransformVersion string `json:"transform_version"`
	// Candidate is set when the transform that ran is a candidate, not the
	// dataset's configured transform (which it leaves unchanged).
	Candidate *Candidate `json:"candidate,omitempty"`
	// Compared are the columns the transform yields, compared by name;
	// Ignored are Layer 2 columns it does not yield (not compared, and left
	// as they are by replay).
	Compared []string `json:"compared_columns"`
	Ignored  []string `json:"ignored_columns"`
	// Agree is true when nothing is missing, unexpected or changed.
	Agree bool `json:"agree"`
	// Applied is set by replay --apply.
	Applied *Applied `json:"applied,omitempty"`
}

// Samples holds example keys of each kind of difference.
type Samples struct {
	Changed    []ChangedSample `json:"changed"`
	Missing    []KeySample     `json:"missing"`
	Unexpected []KeySample     `json:"unexpected"`
	Later      []KeySample     `json:"later"`
	Moved      []MovedSample   `json:"moved"`
}

// KeySample is one key, each column's value in PostgreSQL's text form.
type KeySample struct {
	Key map[string]string `json:"key"`
}

// ChangedSample is one changed row: its key and, for each column that
// differs, the expected and the actual value (nil for NULL).
type ChangedSample struct {
	Key      map[string]string `json:"key"`
	Archived bool              `json:"archived"`
	Columns  map[string]Values `json:"columns"`
}

// Values are a column's expected and actual values in text form.
type Values struct {
	Expected *string `json:"expected"`
	Actual   *string `json:"actual"`
}

// SourceCounts counts the period's raw records.
type SourceCounts struct {
	// Archive records were read from the source archive; Layer3 from the
	// Layer 3 table (not yet in a source batch when read).
	Archive int64 `json:"archive"`
	Layer3  int64 `json:"layer3"`
	// WithoutKey records have no readable record key (see the package
	// documentation); they still count for the expected rows.
	WithoutKey int64 `json:"without_key"`
	// Quarantined records were refused by the transform at ingest and are
	// not processed yet (source.on_transform_error quarantine); replay
	// --apply processes them.
	Quarantined int64 `json:"quarantined"`
	// Erased records of the period (still in Layer 3 or an archived object)
	// belong to subjects erased after they were ingested: the erasure
	// ledger keeps them out of the transform. Archive and Layer3 count the
	// others.
	Erased int64 `json:"erased,omitempty"`
}

// AnalyticsCounts counts the analytics rows found for the period's keys.
type AnalyticsCounts struct {
	// Expected rows are what the transform made of the period's records.
	Expected int64 `json:"expected"`
	Live     int64 `json:"live"`
	Archived int64 `json:"archived"`
	// Duplicates are further rows for a key already found (live and
	// archived, or in two archived objects); the live or newest one is
	// compared.
	Duplicates int64 `json:"duplicates"`
}

// Applied is what replay --apply wrote, in one transaction.
type Applied struct {
	// Inserted and Updated are Layer 2 rows written.
	Inserted int64 `json:"inserted"`
	Updated  int64 `json:"updated"`
	// Skipped rows changed in Layer 2 after they were compared (an ingest
	// ran meanwhile): they were left as they are; run the replay again.
	Skipped int64 `json:"skipped"`
	// ArchivedRows were corrected in the archive, by the new Objects that
	// supersede the old ones listed in Superseded.
	ArchivedRows int64 `json:"archived_rows"`
	// MovedToLayer2 and MovedInArchive count the moved rows put in Layer 2
	// and in an object of their own day; their stale archived rows left
	// their old objects (superseded).
	MovedToLayer2  int64   `json:"moved_to_layer2"`
	MovedInArchive int64   `json:"moved_in_archive"`
	Objects        []int64 `json:"objects"`
	Superseded     []int64 `json:"superseded"`
	// Quarantined records of the period were processed: marked processed
	// in Layer 3 and resolved in strata.quarantine.
	Quarantined int64 `json:"quarantined_processed"`
	// Lineage is the id of the lineage record (0 when nothing was written).
	Lineage int64 `json:"lineage_id"`
}

func newReport(spec Spec, from, to time.Time) *Report {
	r := &Report{Dataset: spec.Dataset, From: from, To: to, Columns: map[string]int64{}}
	if spec.Transform != nil {
		r.TransformVersion = spec.Transform.Version()
	}
	r.Candidate = spec.Candidate
	r.Samples = Samples{Changed: []ChangedSample{}, Missing: []KeySample{}, Unexpected: []KeySample{}, Later: []KeySample{},
		Moved: []MovedSample{}}
	r.Compared, r.Ignored = []string{}, []string{}
	return r
}

// FormatKey prints a sample's key as col=value pairs in column-name order,
// as the command line and the console show it.
func FormatKey(key map[string]string) string {
	names := make([]string, 0, len(key))
	for k := range key {
		names = append(names, k)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + "=" + key[k]
	}
	return strings.Join(parts, " ")
}
