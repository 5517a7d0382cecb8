package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// readBufferSize is the largest bufio.Reader size: lines longer than the
// buffer are gathered in a separate one that grows up to the record limit.
const readBufferSize = 64 << 10

// bufferSize returns the read buffer size for a record limit: room for a
// record and its line end, from 4 KiB to readBufferSize.
func bufferSize(maxRecord int64) int {
	return int(min(max(maxRecord+2, 4<<10), readBufferSize))
}

// Scan reads JSON lines from r: one raw record per line, each line ended by
// "\n" (or "\r\n"; the last line may lack it). For every record, in order,
// it calls fn with the record's 1-based line number and its bytes exactly
// as received, minus the line terminator. Empty and white-space-only lines
// are skipped (they still count for line numbers).
//
// A record must be valid UTF-8, valid JSON, a JSON object and at most
// maxRecord bytes (source.max_record_bytes). The first line that is not
// stops the scan with an *InputError; a line over the limit is read only up
// to the limit, never buffered whole. An error from fn stops the scan and
// is returned as is; a read error is returned wrapped, naming the line.
//
// fn owns rec: Scan never reuses or changes it. fn has been called for the
// records before a bad line, so a caller that must refuse bad input whole
// keeps what fn received until Scan returns nil. Memory use is bounded by
// maxRecord plus a fixed buffer.
func Scan(r io.Reader, maxRecord int64, fn func(line int, rec []byte) error) error {
	if maxRecord <= 0 {
		return errLimit
	}
	return scanLines(bufio.NewReaderSize(r, bufferSize(maxRecord)), maxRecord, 0, fn)
}

// scanLines is Scan on br, whose first line is line number skipped+1.
func scanLines(br *bufio.Reader, maxRecord int64, skipped int, fn func(int, []byte) error) error {
	lr := lineReader{br: br, keep: maxRecord + 1} // + 1: a '\r' before the '\n'
	for line := skipped + 1; ; line++ {
		raw, ended, err := lr.next()
		if err == errLineTooLong {
			return &InputError{Line: line, Reason: overLimit(-1, maxRecord)}
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read line %d: %w", line, err)
		}
		if ended {
			raw = bytes.TrimSuffix(raw, []byte{'\r'})
		}
		if firstNonSpace(raw) != 0 {
			if reason := checkRecord(raw, maxRecord, hintLines); reason != "" {
				return &InputError{Line: line, Reason: reason}
			}
			if err := fn(line, bytes.Clone(raw)); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
	}
}

// errLineTooLong reports a line longer than lineReader.keep bytes.
var errLineTooLong = errors.New("line too long")

// lineReader reads lines of at most keep bytes from br.
type lineReader struct {
	br   *bufio.Reader
	keep int64
	long []byte // gathers a line that does not fit br's buffer
}

// next returns the next line without its '\n' (ended reports that there was
// one), valid until the next call. At the end of the input it returns the
// unterminated rest, possibly empty, with io.EOF. A line that is still
// going after more than keep bytes yields errLineTooLong: the rest of it is
// never read. (A longer line that fits br's buffer whole is returned, so
// that its size can be reported.)
func (lr *lineReader) next() (line []byte, ended bool, err error) {
	lr.long = lr.long[:0]
	for {
		chunk, err := lr.br.ReadSlice('\n')
		if len(lr.long) == 0 && err != bufio.ErrBufferFull {
			line = chunk // the common case: the whole line is in br's buffer
		} else {
			lr.long = append(lr.long, chunk...)
			line = lr.long
		}
		if err == bufio.ErrBufferFull {
			if int64(len(line)) > lr.keep {
				return nil, false, errLineTooLong
			}
			continue
		}
		if ended = err == nil; ended {
			line = line[:len(line)-1]
		}
		return line, ended, err
	}
}
