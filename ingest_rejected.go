package strata

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/stratahq/strata/internal/archive"
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

// positions maps a record's index in the spooled input to its line (or
// array position): runs of consecutive lines are kept as one jump, so the
// usual input (no blank lines) costs one entry.
type positions struct {
	array bool
	jumps []jump
}

// jump: record index starts a run at line.
type jump struct{ index, line int }

func (p *positions) add(index, line int) {
	if n := len(p.jumps); n > 0 && p.jumps[n-1].line+(index-p.jumps[n-1].index) == line {
		return
	}
	p.jumps = append(p.jumps, jump{index, line})
}

// line returns the line of record index.
func (p *positions) line(index int) int {
	i := sort.Search(len(p.jumps), func(i int) bool { return p.jumps[i].index > index })
	if i == 0 {
		return index + 1
	}
	j := p.jumps[i-1]
	return j.line + index - j.index
}

// sniff reads through r and sets p.array when the first byte that is not
// white space is '[', as ingest.ScanAuto decides.
func (p *positions) sniff(r io.Reader) io.Reader {
	return &sniffer{r: r, p: p}
}

type sniffer struct {
	r    io.Reader
	p    *positions
	done bool
}

func (s *sniffer) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	for i := 0; i < n && !s.done; i++ {
		switch b[i] {
		case ' ', '\t', '\r', '\n':
		default:
			s.p.array, s.done = b[i] == '[', true
		}
	}
	return n, err
}

// records turns the archive's failing records into RecordErrors by line.
func (p *positions) records(recs []archive.RecordError) []RecordError {
	if len(recs) == 0 {
		return nil
	}
	out := make([]RecordError, len(recs))
	for i, r := range recs {
		out[i] = RecordError{Line: p.line(r.Index), Array: p.array, SQLState: r.Err.Code, Error: r.Message()}
	}
	return out
}
