package strata

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/ingest"
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
}

// Ingest reads raw records (JSON lines, or one JSON array of objects) and
// runs the whole intake for them: per batch, in one transaction, they are
// stored in the dataset's Layer 3 table byte for byte, archived to the
// source archive, transformed into Layer 2 and marked processed.
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
	var rep IngestReport
	ds, err := s.Dataset(dataset)
	if err != nil {
		return rep, err
	}
	spec, err := s.SourceSpec(ds)
	if err != nil {
		return rep, err
	}
	spool, n, pos, err := s.spoolRecords(r, ds.Source.MaxRecordBytes)
	if err != nil {
		return rep, err
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	rep.Received = n
	br := bufio.NewReaderSize(spool, 1<<20)
	next := func() ([]byte, error) {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			return line[:len(line)-1], nil
		}
		return nil, err
	}
	rep.IngestReport, err = s.Archiver().Ingest(ctx, spec, next)
	rep.QuarantinedRecords = pos.records(rep.Quarantined)
	if te := (*archive.TransformError)(nil); errors.As(err, &te) {
		err = &RejectedError{Dataset: dataset, Records: pos.records(te.Records), More: te.More, Stored: rep.Records}
	}
	return rep, err
}

// spoolRecords checks the whole input and copies its records, one per
// line, to a temporary file, so that nothing is stored when any record is
// bad. It returns the file, rewound, the record count and where each
// record was in the input.
func (s *Service) spoolRecords(r io.Reader, maxRecord int64) (*os.File, int64, *positions, error) {
	if err := os.MkdirAll(s.spool, 0o700); err != nil {
		return nil, 0, nil, err
	}
	spool, err := os.CreateTemp(s.spool, "strata-ingest-*")
	if err != nil {
		return nil, 0, nil, err
	}
	w := bufio.NewWriterSize(spool, 1<<20)
	var n int64
	pos := &positions{}
	err = ingest.ScanAuto(bufio.NewReaderSize(pos.sniff(r), 1<<20), maxRecord, func(line int, rec []byte) error {
		pos.add(int(n), line)
		n++
		w.Write(rec)
		return w.WriteByte('\n')
	})
	if err == nil {
		err = w.Flush()
	}
	if err == nil {
		_, err = spool.Seek(0, io.SeekStart)
	}
	if err != nil {
		spool.Close()
		os.Remove(spool.Name())
		var ie *ingest.InputError
		if errors.As(err, &ie) {
			return nil, 0, nil, invalid("%v; nothing was stored", err)
		}
		return nil, 0, nil, fmt.Errorf("read records: %w; nothing was stored", err)
	}
	return spool, n, pos, nil
}
