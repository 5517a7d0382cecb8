package erasure

import (
	"time"

	"github.com/stratahq/strata/internal/catalog"
)

// Certificate is the record of one erasure (or of what a dry run would
// do, or of a refusal): what was found and removed in each place, the
// archive objects replaced with their old and new SHA-256, and the
// deletions from storage still pending. It is stored in the catalog
// (strata.erasures) and printed as JSON by strata erase and erase show.
type Certificate struct {
	// ID is the erasure's id (0 in a dry run).
	ID      int64     `json:"id,omitempty"`
	Dataset string    `json:"dataset"`
	At      time.Time `json:"at"`
	// SubjectHMAC is the subject's keyed hash (never the subject itself);
	// KeyID names the key.
	SubjectHMAC string `json:"subject_hmac"`
	KeyID       string `json:"key_id"`
	Reason      string `json:"reason"`
	Actor       string `json:"actor,omitempty"`
	Via         string `json:"via,omitempty"`
	// Status is done, refused, or dry-run.
	Status  string `json:"status"`
	Refusal string `json:"refusal,omitempty"`
	RunID   int64  `json:"run_id,omitempty"`
	// Places, by place: layer3, layer2, source_archive, analytics_archive.
	Layer3           DBPlace      `json:"layer3"`
	Layer2           DBPlace      `json:"layer2"`
	SourceArchive    ArchivePlace `json:"source_archive"`
	AnalyticsArchive ArchivePlace `json:"analytics_archive"`
	// Deletions are the old objects to delete from storage: done, or
	// pending until NotBefore (write-once storage keeps them until their
	// retention ends).
	Deletions []catalog.ErasureDeletion `json:"deletions"`
	// Notes explain what the figures cannot (a subject column the value
	// cannot be in, orphaned uploads, ...).
	Notes []string `json:"notes,omitempty"`
}

// Certificate statuses besides catalog.ErasureDone and ErasureRefused.
const StatusDryRun = "dry-run"

// DBPlace is what an erasure found and deleted in a database table.
type DBPlace struct {
	Table string `json:"table,omitempty"`
	// Rows of the subject found (and, unless a dry run, deleted).
	Rows int64 `json:"rows"`
	// Archived of the Layer 3 rows were also in the source archive (the
	// same records, counted once in Certificate.Records).
	Archived int64 `json:"archived,omitempty"`
	// From and To bound the rows' time column.
	From *time.Time `json:"from,omitempty"`
	To   *time.Time `json:"to,omitempty"`
}

// ArchivePlace is what an erasure found in one archive (source or
// analytics) and how it searched.
type ArchivePlace struct {
	// Objects of the dataset in storage (current, superseded or
	// restored) that were considered.
	Objects int `json:"objects"`
	// SkippedByKeyRange and SkippedByFooter were ruled out without being
	// read: by the catalog's key range, or by row-group statistics and
	// bloom filters (or the subject column alone).
	SkippedByKeyRange int `json:"skipped_by_key_range"`
	SkippedByFooter   int `json:"skipped_by_footer"`
	// Read objects were read whole; Held of them held the subject.
	Read int `json:"read"`
	Held int `json:"held"`
	// Rows of the subject in the current objects (those retrievals read);
	// OlderRows in older versions (superseded by a correction, or
	// restored), which only wait for expiry.
	Rows      int64 `json:"rows"`
	OlderRows int64 `json:"older_rows"`
	// Replaced are the objects rewritten without the subject's rows.
	Replaced []Replacement `json:"replaced"`
}

// Replacement is one object an erasure replaced (or would replace).
type Replacement struct {
	Day       string `json:"day"`
	OldID     int64  `json:"old_id"`
	OldKey    string `json:"old_key"`
	OldSHA256 string `json:"old_sha256"`
	OldRows   int64  `json:"old_rows"`
	// Removed rows of the subject.
	Removed int64 `json:"removed"`
	// NewID etc. describe the object written in its place; empty for an
	// object that was not current (superseded by a correction, or
	// restored): it is only deleted, its other rows live on elsewhere;
	// and in a dry run.
	NewID     int64  `json:"new_id,omitempty"`
	NewKey    string `json:"new_key,omitempty"`
	NewSHA256 string `json:"new_sha256,omitempty"`
	NewRows   int64  `json:"new_rows"`
	// Current says the old object was read by retrievals until now.
	Current bool `json:"current"`
}

// Records is how many raw records of the subject were erased, each
// counted once: those in Layer 3 not archived yet, and those of the
// current source archive.
func (c *Certificate) Records() int64 {
	return c.Layer3.Rows - c.Layer3.Archived + c.SourceArchive.Rows
}

// Rows is how many analytics rows of the subject were erased: those in
// Layer 2 and those of the current analytics archive.
func (c *Certificate) Rows() int64 { return c.Layer2.Rows + c.AnalyticsArchive.Rows }
