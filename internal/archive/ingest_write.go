package archive

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// freshRows are the rows a batch has just inserted into Layer 3 (ingest),
// in id order: their source objects are written from them instead of being
// read back from the table.
type freshRows struct {
	recs [][]byte
	ids  []int64
	now  time.Time // the ingestion time of every row
}

// What a column of a source object holds, for writeFresh.
const (
	freshID = iota
	freshPayload
	freshTime
)

// freshLayout says which value of an ingested row each column of the
// table's source objects holds (but the last, raw_sha256), when writing them
// from memory gives exactly the bytes a read back would: the table has no
// column but id, payload, time (timestamptz) and processed, so no value comes
// from a default, and the server encoding is UTF8, so the payload is stored
// as sent. Otherwise it returns nil and the rows are read back.
func freshLayout(st *sourceTable, serverEncoding string) []int {
	if serverEncoding != "UTF8" {
		return nil
	}
	cols := st.schema.Columns()
	layout := make([]int, 0, len(cols)-1)
	for _, c := range cols[:len(cols)-1] {
		switch {
		case c.Name == st.spec.IDColumn:
			layout = append(layout, freshID)
		case c.Name == st.spec.PayloadColumn:
			layout = append(layout, freshPayload)
		case c.Name == st.spec.TimeColumn && c.TypeOID == 1184: // timestamptz
			layout = append(layout, freshTime)
		default:
			return nil
		}
	}
	return layout
}

// writeFresh writes the source objects of freshly inserted rows, row for
// row as writeBatch would read them back: the id and the time in
// PostgreSQL's binary format, the payload as sent (json, text and bytea
// send their bytes as they are), its SHA-256 in hex.
func (a *Archiver) writeFresh(st *sourceTable, f *freshRows) ([]batchObject, error) {
	u := f.now.UTC()
	day := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(f.now.UnixMicro()-pgEpochMicros))
	idSize := 8
	for _, c := range st.schema.Columns() {
		if c.Name == st.spec.IDColumn {
			idSize = map[uint32]int{20: 8, 23: 4, 21: 2}[c.TypeOID]
		}
	}
	bw := &batchWriter{a: a, st: st}
	vals := make([][]byte, len(st.fresh)+1)
	idb := make([]byte, 8)
	sha := make([]byte, 64)
	for i, rec := range f.recs {
		for k, what := range st.fresh {
			switch what {
			case freshID:
				vals[k] = encodeInt(idb, f.ids[i], idSize)
			case freshPayload:
				vals[k] = rec
			case freshTime:
				vals[k] = ts[:]
			}
		}
		sum := sha256.Sum256(rec)
		hex.Encode(sha, sum[:])
		vals[len(vals)-1] = sha
		if err := bw.add(day, f.ids[i], vals); err != nil {
			return bw.out, err
		}
	}
	return bw.out, bw.close()
}

// encodeInt writes v into b as a big-endian integer of size bytes.
func encodeInt(b []byte, v int64, size int) []byte {
	switch size {
	case 4:
		binary.BigEndian.PutUint32(b, uint32(v))
	case 2:
		binary.BigEndian.PutUint16(b, uint16(v))
	default:
		binary.BigEndian.PutUint64(b, uint64(v))
	}
	return b[:size]
}
