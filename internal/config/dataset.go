package config

import (
	"fmt"
	"time"

	"github.com/stratahq/strata/internal/storage"
)

// validate checks one dataset; field is its path, datasets[i].
func (ds *Dataset) validate(p *problems, field string) {
	if !ValidDatasetName(ds.Name) {
		if ds.Name == "" {
			p.add(field+".name", "is required (use lower-case letters, digits and _, starting with a letter)")
		} else {
			p.add(field+".name", "%q is not a dataset name (use lower-case letters, digits and _, starting with a letter, at most 63)", ds.Name)
		}
	}
	if ds.Source == nil && ds.Analytics == nil {
		p.add(field, "has neither source nor analytics (configure at least one)")
	}
	if ds.Source != nil {
		ds.Source.validate(p, field+".source")
	}
	if ds.Analytics != nil {
		ds.Analytics.validate(p, field+".analytics")
	}
	if ds.Transform != "" && (ds.Source == nil || ds.Analytics == nil) {
		p.add(field+".transform", "needs both source and analytics (it turns source rows into analytics rows)")
	}
	ds.Archive.validate(p, field+".archive")
	ds.validateSubject(p, field)
	checkDuration(p, field+".schedule.source_archive", ds.Schedule.SourceArchive, false)
	checkDuration(p, field+".schedule.analytics_archive", ds.Schedule.AnalyticsArchive, false)
	checkDuration(p, field+".schedule.purge", ds.Schedule.Purge, false)
}

func (s *SourceSpec) validate(p *problems, field string) {
	checkTable(p, field+".table", s.Table)
	checkColumn(p, field+".id_column", s.IDColumn)
	checkColumn(p, field+".time_column", s.TimeColumn)
	checkColumn(p, field+".payload_column", s.PayloadColumn)
	checkColumn(p, field+".processed_column", s.ProcessedColumn)
	s.checkDistinctColumns(p, field)
	checkDuration(p, field+".retention", s.Retention, true)
	checkDuration(p, field+".archive_after", s.ArchiveAfter, true)
	checkDuration(p, field+".batch_max_wait", s.BatchMaxWait, true)
	checkDuration(p, field+".group_wait", s.GroupWait, true)
	if s.GroupWait.Duration() > 10*time.Second {
		p.add(field+".group_wait", "%s is too long: every ingest request may wait this long before its batch is written (use at most 10s; tens of milliseconds is usual)", s.GroupWait)
	}
	checkDuration(p, field+".idempotency_window", s.IdempotencyWindow, false)
	if s.Retention.err() == nil && s.ArchiveAfter.err() == nil && s.Retention.Duration() < s.ArchiveAfter.Duration() {
		p.add(field+".retention", "%s is shorter than archive_after %s (rows are purged only once archived: use at least %s)", s.Retention, s.ArchiveAfter, s.ArchiveAfter)
	}
	checkRange(p, field+".batch_max_rows", int64(s.BatchMaxRows), 1, 100_000_000)
	checkRange(p, field+".batch_max_bytes", s.BatchMaxBytes, 1<<10, 16<<30)
	checkRange(p, field+".max_record_bytes", s.MaxRecordBytes, 2, 64<<20) // 2: the smallest record, {}
	switch s.OnTransformError {
	case OnTransformErrorReject, OnTransformErrorQuarantine:
	default:
		p.add(field+".on_transform_error", "%q is not supported (use reject, the default, or quarantine)", s.OnTransformError)
	}
}

// checkDistinctColumns rejects one column serving two roles: the payload
// cannot also be the id, nor the processed flag the ingestion time.
func (s *SourceSpec) checkDistinctColumns(p *problems, field string) {
	cols := []struct{ key, name string }{
		{"id_column", s.IDColumn},
		{"time_column", s.TimeColumn},
		{"payload_column", s.PayloadColumn},
		{"processed_column", s.ProcessedColumn},
	}
	for i, c := range cols {
		for _, prev := range cols[:i] {
			if c.name != "" && c.name == prev.name {
				p.add(field+"."+c.key, "%q is already the %s (each role needs its own column)", c.name, prev.key)
				break
			}
		}
	}
}

func (a *AnalyticsSpec) validate(p *problems, field string) {
	checkTable(p, field+".table", a.Table)
	if len(a.Key) == 0 {
		p.add(field+".key", "is required (list the columns that identify a row, e.g. [customer_id])")
	}
	seen := map[string]bool{}
	for i, col := range a.Key {
		checkColumn(p, fmt.Sprintf("%s.key[%d]", field, i), col)
		if seen[col] {
			p.add(fmt.Sprintf("%s.key[%d]", field, i), "%q is listed twice", col)
		}
		seen[col] = true
	}
	checkColumn(p, field+".time_column", a.TimeColumn)
	checkDuration(p, field+".retention", a.Retention, false)
}

func (a *ArchiveSpec) validate(p *problems, field string) {
	if a.Format != "parquet" {
		p.add(field+".format", "%q is not supported (use parquet)", a.Format)
	}
	switch a.Compression {
	case CompressionSnappy, CompressionZstd, CompressionGzip, CompressionNone:
	default:
		p.add(field+".compression", "%q is not supported (use snappy, zstd, gzip or none)", a.Compression)
	}
	checkDuration(p, field+".retention", a.Retention, false)
	checkRange(p, field+".row_group_rows", int64(a.RowGroupRows), 1, 100_000_000)
	checkRange(p, field+".parallelism", int64(a.Parallelism), 0, 64)
	if _, err := storage.ParseRetentionMode(a.Immutability); err != nil {
		p.add(field+".immutability", "%q is not a mode (use off, governance or compliance; docs/CONFIG.md explains them)", a.Immutability)
	}
}

func checkTable(p *problems, field string, t TableName) {
	if t.IsZero() {
		p.add(field, "is required (use table or schema.table)")
		return
	}
	p.check(field, t.Validate())
}

func checkColumn(p *problems, field, col string) {
	if col == "" {
		p.add(field, "is required (name a column)")
		return
	}
	p.check(field, ValidateIdentifier(col))
}

// checkDuration reports a value that did not parse and, unless
// immediateOK, "immediate" where only a positive duration makes sense.
func checkDuration(p *problems, field string, d Duration, immediateOK bool) {
	if err := d.err(); err != nil {
		p.check(field, err)
		return
	}
	switch {
	case d.IsZero():
		p.add(field, "is required (use a duration such as 90d)")
	case d.IsImmediate() && !immediateOK:
		p.add(field, `cannot be immediate (use a positive duration such as 90d)`)
	}
}

func checkRange(p *problems, field string, n, lo, hi int64) {
	if n < lo || n > hi {
		p.add(field, "%d is out of range (use %d to %d)", n, lo, hi)
	}
}
