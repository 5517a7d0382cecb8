package strata

import (
	"errors"
	"fmt"
	"strings"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/ingest"
)

// ErrRejected matches an ingest refused because the dataset's transform
// cannot map some of its records (source.on_transform_error reject): the
// client's data is at fault, as with any bad input (HTTP 422, exit 2). It
// is returned as a *RejectedError, which also matches ErrInvalid.
var ErrRejected = errors.New("records the transform cannot map")

// RecordError is a record of an ingest that the transform could not map.
type RecordError struct {
	// Line is the record's 1-based line in the input, or its 1-based
	// position in a JSON array when Array is set.
	Line  int  `json:"line"`
	Array bool `json:"array,omitempty"`
	// SQLState is the database's error code (class 22 or 23); Error quotes
	// the database's message and detail.
	SQLState string `json:"sqlstate"`
	Error    string `json:"error"`
}

// Where names the record: "line 3" or "record 3" (of a JSON array).
func (r RecordError) Where() string {
	if r.Array {
		return fmt.Sprintf("record %d", r.Line)
	}
	return fmt.Sprintf("line %d", r.Line)
}

// RejectedError is an ingest refused by the transform: Records are the
// failing records (the first maxReported of them; More says there may be
// more), none of their batch was stored. Stored counts the records of
// earlier batches of the same input that were stored before it (0 unless
// the input spans several batches, source.batch_max_rows/bytes).
type RejectedError struct {
	Dataset string
	Records []RecordError
	More    bool
	Stored  int64
}

func (e *RejectedError) Error() string {
	r := e.Records[0]
	var b strings.Builder
	fmt.Fprintf(&b, "%s: the transform of %s cannot map this record: %s", r.Where(), e.Dataset, r.Error)
	if len(e.Records) > 1 {
		where := make([]string, 0, 10)
		for _, o := range e.Records[1:min(len(e.Records), 11)] {
			where = append(where, o.Where())
		}
		more := ""
		if len(e.Records) > 11 || e.More {
			more = ", ..."
		}
		fmt.Fprintf(&b, "; %d more record(s) fail too (%s%s)", len(e.Records)-1, strings.Join(where, ", "), more)
	}
	if e.Stored > 0 {
		fmt.Fprintf(&b, "; the %d records of the batches before it are stored, nothing from its batch on", e.Stored)
	} else {
		b.WriteString("; nothing was stored")
	}
	b.WriteString(": correct the record (or the transform), or set source.on_transform_error: quarantine to store such records unprocessed")
	return b.String()
}

// Is makes a RejectedError match ErrRejected and ErrInvalid.
func (e *RejectedError) Is(target error) bool { return target == ErrRejected || target == ErrInvalid }

// recordErrors turns the archive's failing records into RecordErrors by
// their place in the input.
func recordErrors(pos *ingest.Positions, recs []archive.RecordError) []RecordError {
	if len(recs) == 0 {
		return nil
	}
	out := make([]RecordError, len(recs))
	for i, r := range recs {
		out[i] = RecordError{Line: pos.Line(r.Index), Array: pos.Array(), SQLState: r.Err.Code, Error: r.Message()}
	}
	return out
}
