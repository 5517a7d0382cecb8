package ingest

import (
	"bufio"
	"bytes"
	"io"
)

// ScanAuto reads either form: a JSON array when the first byte that is not
// white space is '[' (ScanArray), JSON lines otherwise (Scan). fn gets a
// record's line number or array position accordingly; InputError.Array
// says which. It peeks at the input without waiting for more than it
// needs, so a slow stream of lines starts flowing at its first line.
func ScanAuto(r io.Reader, maxRecord int64, fn func(n int, rec []byte) error) error {
	if maxRecord <= 0 {
		return errLimit
	}
	size := bufferSize(maxRecord)
	br := bufio.NewReaderSize(r, size)
	skipped := 0 // white-space-only lines dropped while peeking
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			if err == io.EOF {
				return nil // nothing but white space
			}
			return err
		}
		if c := b[n-1]; !isSpace(c) {
			if c == '[' {
				return scanArray(br, maxRecord, fn)
			}
			return scanLines(br, maxRecord, skipped, fn)
		}
		if n == size {
			// The buffer holds only white space: drop its whole lines and
			// look further; a line of blanks this long is read as lines.
			end := bytes.LastIndexByte(b, '\n')
			if end < 0 {
				return scanLines(br, maxRecord, skipped, fn)
			}
			skipped += bytes.Count(b[:end+1], []byte{'\n'})
			if _, err := br.Discard(end + 1); err != nil {
				return err
			}
			n = 0
		}
	}
}
