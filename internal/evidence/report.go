package evidence

import (
	"time"

	"github.com/stratahq/strata/internal/lineage"
)

// Report is the evidence chain of a dataset over a period: the raw
// records received (source objects, Layer 3), every batch and run that
// touched them (strata.lineage, strata.runs), the transform texts used, the
// analytics objects of the period's days, totals and an integrity
// statement. Its JSON form (the field tags) is stable for tools.
type Report struct {
	Dataset     string    `json:"dataset"`
	From        time.Time `json:"from"`
	To          time.Time `json:"to"`
	GeneratedAt time.Time `json:"generated_at"`
	// Source is what was received: by ingestion time.
	Source Source `json:"source"`
	// Batches are the lineage records of the period (by record time), then
	// the later ones that archived, replaced or restored its objects
	// (InPeriod false), in time order.
	Batches []Batch `json:"batches"`
	// Transforms are the versions used in the period, with their texts,
	// and the current one (the config's transform file).
	Transforms       []Transform       `json:"transforms"`
	CurrentTransform *CurrentTransform `json:"current_transform,omitempty"`
	// Candidates are the candidate transforms that replays adopted for the
	// period (strata replay --transform FILE --apply), in time order: which
	// rows each wrote instead of the configured transform.
	Candidates []Candidate `json:"candidates"`
	// Analytics is what came out: objects of the period's days.
	Analytics Analytics `json:"analytics"`
	Totals    Totals    `json:"totals"`
	Integrity Integrity `json:"integrity"`
}

// Object is one archive object as the catalog records it.
type Object struct {
	ID   int64  `json:"id"`
	Key  string `json:"key"`
	Type string `json:"type"`
	Day  string `json:"day"`
	// State is committed, expired (its bytes are gone) or restored (its
	// rows are back in Layer 2).
	State string `json:"state"`
	// SupersededBy is the key of the object that replaced this one (a
	// correction); a superseded object is kept, never read, until it expires.
	SupersededBy     string     `json:"superseded_by,omitempty"`
	Rows             int64      `json:"rows"`
	Bytes            int64      `json:"bytes"`
	SHA256           string     `json:"sha256"`
	MinTime          *time.Time `json:"min_time,omitempty"`
	MaxTime          *time.Time `json:"max_time,omitempty"`
	CommittedAt      *time.Time `json:"committed_at,omitempty"`
	ExpiresAt        *time.Time `json:"expires_at,omitempty"`
	TransformVersion string     `json:"transform_version,omitempty"`
	RunID            *int64     `json:"run_id,omitempty"`
	// VersionID is the storage version the object was written as (read
	// with --verify); empty on a store without versions.
	VersionID string `json:"version_id,omitempty"`
	// Verified is set with Request.Verify: ok, mismatch (size or
	// SHA-256 differ), missing, or expired (not read).
	Verified string `json:"verified,omitempty"`
}

// Source is the raw side: source archive objects holding records
// ingested in the period, and the period's rows still in Layer 3.
type Source struct {
	Table   string   `json:"table,omitempty"`
	Objects []Object `json:"objects"`
	// Live counts the period's rows still in the Layer 3 table.
	Live *LiveRows `json:"live,omitempty"`
	// Quarantine is set when records of the period were quarantined.
	Quarantine *Quarantine `json:"quarantine,omitempty"`
}

// Analytics is the transformed side: analytics objects of the
// period's UTC days and the period's rows still in Layer 2.
type Analytics struct {
	Table   string    `json:"table,omitempty"`
	Objects []Object  `json:"objects"`
	Live    *LiveRows `json:"live,omitempty"`
}

// LiveRows counts a table's rows whose time column lies in the period.
type LiveRows struct {
	Rows int64 `json:"rows"`
	// Archived and Processed (Layer 3 only): in a committed source batch,
	// and transformed into Layer 2.
	Archived  *int64 `json:"archived,omitempty"`
	Processed *int64 `json:"processed,omitempty"`
}

// Batch is one lineage record: one source batch or ingest batch,
// one analytics archive job, one replay or restore.
type Batch struct {
	ID       int64     `json:"id"`
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"`
	InPeriod bool      `json:"in_period"`
	RunID    *int64    `json:"run_id,omitempty"`
	// Run is the run's row of strata.runs: command, status, host, error.
	Run              *Run   `json:"run,omitempty"`
	OpenLineageRunID string `json:"openlineage_run_id,omitempty"`
	// PeriodFrom and PeriodTo: the period a replay or restore covered.
	PeriodFrom    *time.Time `json:"period_from,omitempty"`
	PeriodTo      *time.Time `json:"period_to,omitempty"`
	Layer3FirstID *int64     `json:"layer3_first_id,omitempty"`
	Layer3LastID  *int64     `json:"layer3_last_id,omitempty"`
	Layer3Rows    int64      `json:"layer3_rows"`
	SourceObjects []string   `json:"source_objects"`
	// SourceObjectRows totals the rows of SourceObjects, to check against
	// Layer3Rows.
	SourceObjectRows int64  `json:"source_object_rows"`
	TransformVersion string `json:"transform_version,omitempty"`
	// Layer2RowsWritten: rows the transform inserted or updated (ingest,
	// source_archive, replay, restore).
	Layer2RowsWritten int64 `json:"layer2_rows_written"`
	// RowsArchived: Layer 2 rows moved into AnalyticsObjects (analytics_archive).
	RowsArchived     int64    `json:"rows_archived"`
	AnalyticsObjects []string `json:"analytics_objects"`
	Superseded       []string `json:"superseded"`
	// Moved, for a replay, are the rows it found on another day than their
	// records give them (their time column had changed): their stale
	// archived copies left the Superseded objects, and they went to Layer 2
	// or to an object of their own day.
	Moved *lineage.MovedDetail `json:"moved,omitempty"`
	// Candidate is set on a replay that ran a candidate transform
	// (TransformVersion) in place of the configured one.
	Candidate *lineage.Candidate `json:"candidate,omitempty"`
	Detail    map[string]any     `json:"detail,omitempty"`
}

// Run is the audit trail of one run (strata.runs).
type Run struct {
	Command    string     `json:"command"`
	Status     string     `json:"status"` // running, ok or failed
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Host       string     `json:"host,omitempty"`
	PID        int        `json:"pid,omitempty"`
	Error      string     `json:"error,omitempty"`
}

// Transform is one transform version: its full text, as recorded
// in strata.transforms when it first wrote rows.
type Transform struct {
	Version   string     `json:"version"`
	Text      string     `json:"text"`
	Recorded  bool       `json:"recorded"` // the text comes from strata.transforms
	FirstUsed *time.Time `json:"first_used,omitempty"`
	Current   bool       `json:"current"`        // the config's transform file has this version
	Used      bool       `json:"used_in_period"` // a batch or object of the period names it
	// Candidate is true when a replay adopted this version as a candidate
	// transform for (part of) the period.
	Candidate bool  `json:"candidate"`
	Batches   int   `json:"batches"`
	Records   int64 `json:"records"`
	// Layer2RowsWritten by the period's batches with this version.
	Layer2RowsWritten int64 `json:"layer2_rows_written"`
}

// CurrentTransform is the transform the dataset is configured with now.
type CurrentTransform struct {
	Path    string `json:"path"`
	Version string `json:"version,omitempty"`
	// Error says why the file could not be read; the report is made anyway.
	Error        string `json:"error,omitempty"`
	UsedInPeriod bool   `json:"used_in_period"`
	// Differs is true when the period used another version than the current.
	Differs bool `json:"differs"`
}

// Totals sum a Report.
type Totals struct {
	// Batches, Runs and FailedRuns count the lineage records of the period
	// and their runs (a failed run keeps the batches it committed).
	Batches    int `json:"batches"`
	Runs       int `json:"runs"`
	FailedRuns int `json:"failed_runs"`
	// IntakeBatches counts the ingest and source archive batches among them.
	IntakeBatches int `json:"intake_batches"`
	// RecordsIn: raw records (Layer 3 rows) taken in by the period's
	// ingest and source archive batches.
	RecordsIn     int64 `json:"records_in"`
	SourceObjects int   `json:"source_objects"`
	SourceRows    int64 `json:"source_rows"`
	SourceBytes   int64 `json:"source_bytes"`
	// Layer2RowsWritten: rows the period's batches inserted or updated in
	// Layer 2. Several records for one key in a batch write one row.
	Layer2RowsWritten int64 `json:"layer2_rows_written"`
	TransformVersions int   `json:"transform_versions"` // used in the period
	AnalyticsObjects  int   `json:"analytics_objects"`
	// AnalyticsRows: rows of the analytics objects that are current (not
	// superseded, expired or restored), i.e. what a retrieval reads.
	AnalyticsRows  int64 `json:"analytics_rows"`
	AnalyticsBytes int64 `json:"analytics_bytes"`
	Layer3LiveRows int64 `json:"layer3_live_rows"`
	Layer2LiveRows int64 `json:"layer2_live_rows"`
	// ChecksumsRecorded counts listed objects whose SHA-256 the catalog holds.
	ChecksumsRecorded int `json:"checksums_recorded"`
	// Erasures that replaced objects of the period (strata erase), and the
	// raw records and analytics rows they removed (each erasure's whole
	// figures, from its lineage record): why RecordsIn can exceed what the
	// source objects hold now.
	Erasures int `json:"erasures"`
	// SourceRowsCurrent: rows of the source objects that are current (not
	// replaced by an erasure): RecordsIn less the records erased.
	SourceRowsCurrent int64 `json:"source_rows_current"`
	RecordsErased     int64 `json:"records_erased"`
	RowsErased        int64 `json:"rows_erased"`
}

// Integrity is the report's verdict.
type Integrity struct {
	// OK is true when no problem was found.
	OK bool `json:"ok"`
	// Statement says in one line what the chain shows.
	Statement string `json:"statement"`
	// Verified is true when the objects were read back (Request.Verify).
	Verified   bool `json:"verified"`
	ObjectsOK  int  `json:"objects_ok"`
	Mismatched int  `json:"mismatched"`
	Missing    int  `json:"missing"`
	// Problems are facts that contradict each other or the storage: a
	// batch whose objects do not hold its rows, an object that is missing
	// or does not match its checksum.
	Problems []string `json:"problems"`
	// Notes are facts worth knowing that are not damage: failed runs, the
	// current transform differing from the period's, objects from before
	// lineage records were kept.
	Notes []string `json:"notes"`
}
