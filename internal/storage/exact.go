package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
)

// ExactReader reads the bytes a Put was promised, in caller-sized blocks,
// hashing them, and turns a stream that ends early, runs long or has another
// SHA-256 than PutOptions say into ErrChecksum. Backends use it so that no
// object is made visible from bytes that differ from the caller's promise.
type ExactReader struct {
	r    io.Reader
	opts PutOptions
	sha  hash.Hash
	also []hash.Hash
	n    int64
}

// NewExactReader reads r against opts; every byte read is also written to
// each of also (e.g. an MD5 for a backend's own transfer check).
func NewExactReader(r io.Reader, opts PutOptions, also ...hash.Hash) *ExactReader {
	return &ExactReader{r: r, opts: opts, sha: sha256.New(), also: also}
}

// N is the number of bytes read so far.
func (e *ExactReader) N() int64 { return e.n }

// Fill fills buf from the stream. A stream that ends first is ErrChecksum
// (the caller promised more bytes); another read error is returned wrapped.
func (e *ExactReader) Fill(buf []byte) error {
	n, err := io.ReadFull(e.r, buf)
	e.sha.Write(buf[:n])
	for _, h := range e.also {
		h.Write(buf[:n])
	}
	e.n += int64(n)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return fmt.Errorf("%w: reader ended after %d bytes, PutOptions.Size is %d", ErrChecksum, e.n, e.opts.Size)
	case err != nil:
		return fmt.Errorf("read content: %w", err)
	}
	return nil
}

// Finish checks that the stream is exhausted and that its SHA-256 is the
// promised one.
func (e *ExactReader) Finish() error {
	var one [1]byte
	n, err := io.ReadFull(e.r, one[:])
	switch {
	case n > 0:
		return fmt.Errorf("%w: reader yields more than PutOptions.Size %d bytes", ErrChecksum, e.opts.Size)
	case err != io.EOF:
		return fmt.Errorf("read content: %w", err)
	}
	if got := hex.EncodeToString(e.sha.Sum(nil)); got != e.opts.SHA256 {
		return fmt.Errorf("%w: content has SHA-256 %s, PutOptions.SHA256 is %s", ErrChecksum, got, e.opts.SHA256)
	}
	return nil
}
