package intake

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
)

// Records are one request's validated records, in order: in memory while
// they fit memMax bytes, else in a spool file (read back once, in order).
type Records struct {
	N     int64 // records
	Bytes int64 // payload bytes
	h     hash.Hash
	sum   string
	// in memory
	mem  [][]byte
	size int64 // bytes in mem
	read int   // records returned by next
	// spooled
	file *os.File
	w    *bufio.Writer
	r    *bufio.Reader
	dir  string
	max  int64
}

// NewRecords returns an empty record set that spills to a file in dir past
// memMax bytes.
func NewRecords(dir string, memMax int64) *Records {
	return &Records{h: sha256.New(), dir: dir, max: memMax}
}

// Add appends rec, which the Records keep (the caller must not change it).
func (rs *Records) Add(rec []byte) error {
	rs.N++
	rs.Bytes += int64(len(rec))
	rs.h.Write(rec)
	rs.h.Write([]byte{'\n'})
	if rs.file == nil && rs.size+int64(len(rec)) > rs.max {
		if err := rs.spill(); err != nil {
			return err
		}
	}
	if rs.file != nil {
		rs.w.Write(rec)
		return rs.w.WriteByte('\n')
	}
	rs.mem = append(rs.mem, rec)
	rs.size += int64(len(rec))
	return nil
}

func (rs *Records) spill() error {
	if err := os.MkdirAll(rs.dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(rs.dir, "strata-ingest-*")
	if err != nil {
		return fmt.Errorf("spool records: %w", err)
	}
	_ = os.Remove(f.Name()) // unlinked: gone with the process, whatever happens
	rs.file, rs.w = f, bufio.NewWriterSize(f, 1<<20)
	for _, rec := range rs.mem {
		rs.w.Write(rec)
		rs.w.WriteByte('\n')
	}
	rs.mem, rs.size = nil, 0
	return nil
}

// Finish ends the input: it fixes the SHA-256 and rewinds a spool file.
func (rs *Records) Finish() error {
	rs.sum = hex.EncodeToString(rs.h.Sum(nil))
	if rs.file == nil {
		return nil
	}
	if err := rs.w.Flush(); err != nil {
		return fmt.Errorf("spool records: %w", err)
	}
	if _, err := rs.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	rs.r = bufio.NewReaderSize(rs.file, 1<<20)
	return nil
}

// Close releases the spool file.
func (rs *Records) Close() {
	if rs.file != nil {
		rs.file.Close()
	}
}

// SHA256 identifies the records (hex SHA-256 of each record and a newline).
func (rs *Records) SHA256() string { return rs.sum }

// InMemory reports whether the records are held in memory.
func (rs *Records) InMemory() bool { return rs.file == nil }

// slice returns the in-memory records from the skip-th on.
func (rs *Records) slice(skip int64) [][]byte { return rs.mem[skip:] }

// next returns the next record, in order (io.EOF after the last).
func (rs *Records) next() ([]byte, error) {
	if rs.file == nil {
		if rs.read == len(rs.mem) {
			return nil, io.EOF
		}
		rs.read++
		return rs.mem[rs.read-1], nil
	}
	line, err := rs.r.ReadBytes('\n')
	if len(line) > 0 {
		return line[:len(line)-1], nil
	}
	if err == nil {
		err = errors.New("spool: empty read")
	}
	return nil, err
}
