package ingest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ScanArray reads one JSON array of raw records from r, such as an HTTP
// request body [{...}, {...}], and calls fn for each element, in order, with
// its 1-based position and its bytes exactly as they appear in the input
// (without the white space around it). An empty array calls fn never.
//
// Each element must pass the checks of Scan; the first that does not, or a
// malformed array (no opening [, a missing comma, a trailing comma, no
// closing ], anything after it), stops the scan with an *InputError whose
// Array is set and whose Line is the element's position. An element over
// the limit is read only up to the limit. fn's ownership and error rules
// are those of Scan.
func ScanArray(r io.Reader, maxRecord int64, fn func(n int, rec []byte) error) error {
	if maxRecord <= 0 {
		return errLimit
	}
	return scanArray(bufio.NewReaderSize(r, bufferSize(maxRecord)), maxRecord, fn)
}

func scanArray(br *bufio.Reader, maxRecord int64, fn func(int, []byte) error) error {
	as := arrayScanner{br: br, max: maxRecord}
	c, err := as.skipSpace()
	switch {
	case err == io.EOF:
		return &InputError{Array: true, Reason: "the input is empty (send a JSON array of records, [{...}, {...}])"}
	case err != nil:
		return as.readError(0, err)
	case c != '[':
		return &InputError{Array: true, Reason: fmt.Sprintf("not a JSON array: it starts with %q (send [{...}, {...}])", c)}
	}
	if c, err = as.skipSpace(); err == nil && c == ']' {
		return as.expectEnd(0)
	}
	for n := 1; ; n++ {
		if err != nil {
			return as.cutShort(n-1, err)
		}
		rec, err := as.readValue(c)
		if err != nil {
			return as.elementError(n, err)
		}
		if reason := checkRecord(rec, maxRecord, hintArray); reason != "" {
			return &InputError{Line: n, Array: true, Reason: reason}
		}
		if err := fn(n, bytes.Clone(rec)); err != nil {
			return err
		}
		if c, err = as.skipSpace(); err != nil {
			return as.cutShort(n, err)
		}
		switch c {
		case ']':
			return as.expectEnd(n)
		case ',':
		default:
			return &InputError{Line: n, Array: true, Reason: fmt.Sprintf("is followed by %q, not by , or ] (separate records with commas)", c)}
		}
		if c, err = as.skipSpace(); err == nil && c == ']' {
			return &InputError{Line: n, Array: true, Reason: "is followed by a comma and then ] (remove the trailing comma)"}
		}
	}
}

// arrayScanner reads the elements of a JSON array from br.
type arrayScanner struct {
	br  *bufio.Reader
	max int64
	buf []byte
}

// errValueTooLong and errValueCut report an element over the limit and one
// that the input ends inside.
var (
	errValueTooLong = errors.New("value too long")
	errValueCut     = errors.New("value cut short")
)

// skipSpace returns the next byte that is not JSON white space.
func (as *arrayScanner) skipSpace() (byte, error) {
	for {
		c, err := as.br.ReadByte()
		if err != nil || !isSpace(c) {
			return c, err
		}
	}
}

// readValue reads the JSON value that starts with first. It finds the
// value's end by bracket depth and string quoting only; checkRecord then
// checks the whole. The result is valid until the next call.
func (as *arrayScanner) readValue(first byte) ([]byte, error) {
	as.buf = append(as.buf[:0], first)
	depth, inString, escaped := 0, first == '"', false
	switch first {
	case '{', '[':
		depth = 1
	case '"':
	default:
		return as.readScalar()
	}
	for depth > 0 || inString {
		c, err := as.br.ReadByte()
		if err != nil {
			return nil, cutErr(err)
		}
		if as.buf = append(as.buf, c); int64(len(as.buf)) > as.max {
			return nil, errValueTooLong
		}
		switch {
		case escaped:
			escaped = false
		case inString:
			escaped, inString = c == '\\', c != '"'
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		}
	}
	return as.buf, nil
}

// readScalar reads the rest of a number, true, false or null: up to the
// next delimiter, which it leaves unread.
func (as *arrayScanner) readScalar() ([]byte, error) {
	for {
		c, err := as.br.ReadByte()
		if err == io.EOF {
			return as.buf, nil // the missing ] is reported next
		}
		if err != nil {
			return nil, err
		}
		if isSpace(c) || bytes.IndexByte([]byte(",]}[{\":"), c) >= 0 {
			return as.buf, as.br.UnreadByte()
		}
		if as.buf = append(as.buf, c); int64(len(as.buf)) > as.max {
			return nil, errValueTooLong
		}
	}
}

func cutErr(err error) error {
	if err == io.EOF {
		return errValueCut
	}
	return err
}

// elementError turns a readValue error about element n into an InputError,
// or a wrapped read error.
func (as *arrayScanner) elementError(n int, err error) error {
	switch err {
	case errValueTooLong:
		return &InputError{Line: n, Array: true, Reason: overLimit(-1, as.max)}
	case errValueCut:
		return &InputError{Line: n, Array: true, Reason: "is cut short: the input ends inside it (send the whole array)"}
	}
	return as.readError(n, err)
}

// cutShort reports an input that ends, or fails, after element n without
// closing the array.
func (as *arrayScanner) cutShort(n int, err error) error {
	if err != io.EOF {
		return as.readError(n, err)
	}
	if n == 0 {
		return &InputError{Array: true, Reason: "the array is not closed (end it with ])"}
	}
	return &InputError{Line: n, Array: true, Reason: "ends the input, but the array is not closed (end it with ])"}
}

// expectEnd checks that only white space follows the closing ].
func (as *arrayScanner) expectEnd(n int) error {
	c, err := as.skipSpace()
	switch {
	case err == io.EOF:
		return nil
	case err != nil:
		return as.readError(n, err)
	}
	return &InputError{Array: true, Reason: fmt.Sprintf("%q follows the closing ] of the array (send one array, or JSON lines)", c)}
}

func (as *arrayScanner) readError(n int, err error) error {
	return fmt.Errorf("read record %d: %w", n, err)
}
