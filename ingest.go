package strata

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/audit"
	"github.com/stratahq/strata/internal/ingest"
	"github.com/stratahq/strata/internal/intake"
)

// IngestReport is the outcome of Ingest.
type IngestReport struct {
	archive.IngestReport
	// Received counts the records read from the input; after a failure,
	// Records says how many of them were stored (whole batches).
	Received int64
	// QuarantinedRecords are the stored records that the transform could
	// not map (source.on_transform_error quarantine), by line.
	QuarantinedRecords []RecordError
	// Replayed is true when the answer is that of an earlier request with
	// the same IdempotencyKey: nothing was stored this time.
	Replayed bool
	// Audited is true when the request's audit record was committed in
	// the transaction that stored its records.
	Audited bool `json:"-"`
}

// IngestOptions modify an ingest.
type IngestOptions struct {
	// IdempotencyKey, when set, makes a retry safe: the records are
	// stored at most once per dataset and key (within the dataset's
	// source.idempotency_window). A retry with the same key and the same
	// records gets the first answer (Replayed) and stores nothing; the
	// same key with other records fails with ErrConflict. At most 255
	// printable ASCII characters.
	IdempotencyKey string
}

// ErrConflict matches an ingest whose IdempotencyKey was used before for
// other records (HTTP 409, exit 2).
var ErrConflict = errors.New("conflict")

// Ingest reads raw records (JSON lines, or one JSON array of objects) and
// runs the whole intake for them: per batch, in one transaction, they are
// stored in the dataset's Layer 3 table byte for byte, archived to the
// source archive, transformed into Layer 2 and marked processed. Concurrent
// ingests of a dataset share batches (group commit, see source.group_wait);
// Ingest returns once the batch holding its records has committed. Input
// within the dataset's batch limits is stored all or nothing; a larger one
// in several batches. An outage of the database or the storage matches
// ErrUnavailable.
//
// The whole input is checked first: a record that is not a JSON object, is
// not valid JSON or UTF-8, or is over source.max_record_bytes fails the call
// with an error matching ErrInvalid (naming the line) and nothing is stored.
// An error reading r (for example a size limit) also stores nothing.
//
// A record that the dataset's transform cannot map (the database refuses
// its analytics row with a data error, SQLSTATE class 22 or 23) fails the
// call with a *RejectedError (matching ErrRejected and ErrInvalid) naming
// its line and quoting the database, and its batch is not stored; with
// source.on_transform_error quarantine the batch is stored instead and
// the report lists the records in QuarantinedRecords.
func (s *Service) Ingest(ctx context.Context, dataset string, r io.Reader) (IngestReport, error) {
	return s.IngestWith(ctx, dataset, r, IngestOptions{})
}

// IngestWith is Ingest with options.
func (s *Service) IngestWith(ctx context.Context, dataset string, r io.Reader, opts IngestOptions) (IngestReport, error) {
	e := audit.Entry{Action: audit.ActionIngest, Dataset: dataset}
	if opts.IdempotencyKey != "" {
		e.Detail = "idempotency key " + opts.IdempotencyKey
	}
	rec := audit.Pending(ctx, e)
	rep, err := s.ingest(ctx, dataset, r, opts, &rec)
	if len(rep.Objects) > 0 {
		s.tables.PublishAsync(ctx, dataset)
	}
	if rep.Audited { // committed with the records, in their batch
		s.audit.Anchor(ctx, false)
		return rep, err
	}
	if rep.Replayed {
		e.Detail += " (replayed: nothing stored)"
	}
	e.Rows, e.Objects, e.Err = rep.Records, int64(len(rep.Objects)), err
	if rep.Replayed {
		e.Rows, e.Objects = 0, 0
	}
	return rep, s.record(ctx, e)
}

// ingest is IngestWith; rec is the request's audit record, appended in
// its batch's transaction when its records are stored in one batch with
// others (rep.Audited).
func (s *Service) ingest(ctx context.Context, dataset string, r io.Reader, opts IngestOptions, rec *audit.Record) (IngestReport, error) {
	var rep IngestReport
	if err := checkIdempotencyKey(opts.IdempotencyKey); err != nil {
		return rep, err
	}
	if err := s.CheckImmutability(ctx); err != nil {
		return rep, err
	}
	ds, err := s.Dataset(dataset)
	if err != nil {
		return rep, err
	}
	spec, err := s.SourceSpec(ds)
	if err != nil {
		return rep, err
	}
	recs, pos, err := s.readRecords(r, ds.Source.MaxRecordBytes, min(spec.BatchMaxBytes, maxInMemory))
	if err != nil {
		return rep, err
	}
	defer recs.Close()
	rep.Received = recs.N
	res, err := s.intake.Submit(ctx, spec, intake.Options{
		GroupWait: ds.Source.GroupWait.Duration(), KeyWindow: ds.Source.IdempotencyWindow.Duration(),
	}, intake.Request{Records: recs, Key: opts.IdempotencyKey, Audit: rec})
	rep.IngestReport, rep.Replayed, rep.Audited = res.IngestReport, res.Replayed, res.Audited
	rep.QuarantinedRecords = recordErrors(pos, rep.Quarantined)
	if te := (*archive.TransformError)(nil); errors.As(err, &te) {
		return rep, &RejectedError{Dataset: dataset, Records: recordErrors(pos, te.Records), More: te.More, Stored: rep.Records}
	}
	if errors.Is(err, intake.ErrKeyConflict) {
		return rep, &kindError{ErrConflict, err}
	}
	return rep, unavailable(err)
}

// maxInMemory bounds the records of one request held in memory; a larger
// input is spooled to a file and stored on its own.
const maxInMemory = 16 << 20

// readRecords checks the whole input and keeps its records (in memory up
// to memMax bytes, else in an unlinked spool file), so that nothing is
// stored when any record is bad. It also returns where each record was in
// the input.
func (s *Service) readRecords(r io.Reader, maxRecord, memMax int64) (*intake.Records, *ingest.Positions, error) {
	recs := intake.NewRecords(s.spool, memMax)
	pos := &ingest.Positions{}
	// ScanAuto buffers (64 KiB at most); another buffer here would cost a
	// large allocation per request.
	err := pos.Scan(r, maxRecord, recs.Add)
	if err == nil {
		err = recs.Finish()
	}
	if err != nil {
		recs.Close()
		var ie *ingest.InputError
		if errors.As(err, &ie) {
			return nil, nil, invalid("%v; nothing was stored", err)
		}
		return nil, nil, fmt.Errorf("read records: %w; nothing was stored", err)
	}
	return recs, pos, nil
}

// checkIdempotencyKey accepts at most 255 printable ASCII characters.
func checkIdempotencyKey(key string) error {
	if len(key) > 255 {
		return invalid("the idempotency key is %d bytes long: use at most 255 (a UUID is usual)", len(key))
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c < 0x20 || c > 0x7e {
			return invalid("the idempotency key has a character that is not printable ASCII at byte %d: use letters, digits and punctuation (a UUID is usual)", i+1)
		}
	}
	return nil
}
