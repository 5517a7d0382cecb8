package parquetio_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"syscall"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/parquetio"
)

// benchColumns is a typical analytics row of about 200 bytes.
var benchColumns = []parquetio.Column{
	{Name: "id", TypeOID: 20, TypeName: "bigint", NotNull: true},
	{Name: "updated_at", TypeOID: 1184, TypeName: "timestamp with time zone", NotNull: true},
	{Name: "customer_id", TypeOID: 23, TypeName: "integer"},
	{Name: "score", TypeOID: 701, TypeName: "double precision"},
	{Name: "name", TypeOID: 25, TypeName: "text"},
	{Name: "note", TypeOID: 25, TypeName: "text"},
	{Name: "amount", TypeOID: 1700, TypeName: "numeric(12,2)"},
	{Name: "active", TypeOID: 16, TypeName: "boolean"},
	{Name: "status", TypeOID: 1043, TypeName: "character varying(16)"},
	{Name: "created_at", TypeOID: 1184, TypeName: "timestamp with time zone"},
}

// numericBinary encodes cents/100 in PostgreSQL's binary numeric format.
func numericBinary(dst []byte, cents int64) []byte {
	sign := uint16(0)
	if cents < 0 {
		sign, cents = 0x4000, -cents
	}
	ip, frac := cents/100, cents%100
	var groups []uint16
	for ip > 0 {
		groups = append([]uint16{uint16(ip % 10000)}, groups...)
		ip /= 10000
	}
	weight := len(groups) - 1
	if frac != 0 {
		groups = append(groups, uint16(frac*100))
	}
	if len(groups) == 0 {
		weight = 0
	}
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(groups)))
	dst = binary.BigEndian.AppendUint16(dst, uint16(int16(weight)))
	dst = binary.BigEndian.AppendUint16(dst, sign)
	dst = binary.BigEndian.AppendUint16(dst, 2)
	for _, g := range groups {
		dst = binary.BigEndian.AppendUint16(dst, g)
	}
	return dst
}

// benchRows builds n rows in binary result format.
func benchRows(n int) [][][]byte {
	statuses := []string{"new", "active", "suspended", "closed"}
	rows := make([][][]byte, n)
	base := int64(788918400000000) // 2025-01-01 in PostgreSQL microseconds
	for i := range rows {
		ts := base + int64(i)*1000
		rows[i] = [][]byte{
			binary.BigEndian.AppendUint64(nil, uint64(i+1)),
			binary.BigEndian.AppendUint64(nil, uint64(ts)),
			binary.BigEndian.AppendUint32(nil, uint32(i%50000)),
			binary.BigEndian.AppendUint64(nil, math.Float64bits(float64(i%1000)/7)),
			[]byte(fmt.Sprintf("Customer %d of region %d", i%50000, i%17)),
			[]byte(fmt.Sprintf("note %08d: the quick brown fox jumps over the lazy dog; order ref %x", i, i*7919)),
			numericBinary(nil, int64(i%1000000)*37-5000),
			{byte(i % 2)},
			[]byte(statuses[i%len(statuses)]),
			binary.BigEndian.AppendUint64(nil, uint64(ts-86400000000)),
		}
	}
	return rows
}

func rowBytes(rows [][][]byte) int64 {
	var n int64
	for _, r := range rows {
		for _, v := range r {
			n += int64(len(v)) + 4
		}
	}
	return n / int64(len(rows))
}

func BenchmarkWriteRaw(b *testing.B) {
	for _, codec := range []string{"snappy", "zstd"} {
		b.Run(codec, func(b *testing.B) { benchWriteRaw(b, codec, nil) })
	}
	// What the bloom filter and key range of a key column cost (analytics
	// objects have them since issue 9).
	b.Run("snappy-key-id", func(b *testing.B) { benchWriteRaw(b, "snappy", []string{"id"}) })
}

func benchWriteRaw(b *testing.B, codec string, keys []string) {
	s, err := parquetio.NewSchema(benchColumns)
	if err != nil {
		b.Fatal(err)
	}
	rows := benchRows(64 * 1024)
	b.SetBytes(rowBytes(rows))
	b.ReportAllocs()
	var out countingWriter
	w, err := parquetio.NewWriter(&out, s, parquetio.WriterOptions{Compression: codec, TimeColumn: "updated_at", KeyColumns: keys})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		if err := w.WriteRaw(rows[i%len(rows)]); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/row")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(out.n)/float64(b.N), "file-B/row")
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countingWriter)(nil)

// cpuTime is the process's user+system CPU time: on a shared machine it
// measures the cost of a row better than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWriteDayFiles writes the day objects of the interleaved archive
// benchmark's run: 30 files of 16,667 rows each, with the key column's
// bloom filter, so what a file costs besides its rows (the sample the
// dictionaries are chosen from, the footer, the page index) counts as the
// archive pays it. One op is one file.
func BenchmarkWriteDayFiles(b *testing.B) {
	s, err := parquetio.NewSchema(benchColumns)
	if err != nil {
		b.Fatal(err)
	}
	const dayRows = 16_667
	rows := benchRows(64 * 1024)
	b.ReportAllocs()
	var out countingWriter
	cpu0 := cpuTime()
	for i := 0; i < b.N; i++ {
		w, err := parquetio.NewWriter(&out, s, parquetio.WriterOptions{Compression: "snappy", TimeColumn: "updated_at", KeyColumns: []string{"id"}})
		if err != nil {
			b.Fatal(err)
		}
		for j := range dayRows {
			if err := w.WriteRaw(rows[(i*dayRows+j)%len(rows)]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N*dayRows), "cpu-ns/row")
	b.ReportMetric(float64(out.n)/float64(b.N*dayRows), "file-B/row")
}
