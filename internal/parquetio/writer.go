package parquetio

import (
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/uncompressed"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// DefaultRowGroupRows is the row group size when WriterOptions leaves it 0.
const DefaultRowGroupRows = 128 * 1024

// batchRows is how many rows WriteRaw gathers before handing them to the
// encoding goroutine; small enough that pages stay near their target size.
const batchRows = 512

// The first batch of a file is larger, up to sampleRows rows (fewer for
// wide rows: sampleValues values or sampleBytes bytes of text), and is the
// sample from which the Writer chooses the dictionary-encoded columns
// before anything is encoded.
const (
	sampleRows   = 4096
	sampleValues = 1 << 19
	sampleBytes  = 16 << 20
)

// WriterOptions configures a Writer.
type WriterOptions struct {
	// Compression is "snappy" (default when empty), "zstd", "gzip" or "none".
	Compression string
	// RowGroupRows bounds a row group (and so the writer's memory);
	// default DefaultRowGroupRows.
	RowGroupRows int
	// TimeColumn, when set, names a timestamptz, timestamp or date column
	// whose finite minimum and maximum are tracked, returned in Stats and
	// written as KeyMinTime/KeyMaxTime.
	TimeColumn string
	// KeyColumns, when set, names the columns that identify a row: each
	// scalar one gets a split-block bloom filter per row group, and the
	// first one's range is tracked (Stats.KeyMin/KeyMax) when its type
	// orders by its stored values (integers, date, timestamps, uuid).
	KeyColumns []string
	// Metadata is the caller's key-values (see KeyDataset and its
	// siblings); keys the writer sets itself (KeyRows, ...) are refused.
	Metadata map[string]string
}

// Stats describes a written file.
type Stats struct {
	Rows             int64
	MinTime, MaxTime time.Time // UTC, microsecond precision; zero unless HasTime
	HasTime          bool      // the time column had at least one finite non-NULL value
	// KeyMin and KeyMax are the first key column's smallest and largest
	// values in PostgreSQL's text form; HasKeyRange says they are set (a
	// range-tracked key column with at least one non-NULL value).
	KeyMin, KeyMax string
	HasKeyRange    bool
}

// Writer encodes rows into one Parquet file. Decoding happens on the
// caller's goroutine, Parquet encoding and compression on a second one.
// A Writer is not safe for concurrent use.
type Writer struct {
	s       *Schema
	opts    WriterOptions
	out     io.Writer
	codec   compress.Codec
	pw      *parquet.Writer // nil until the first batch is sent (start)
	cur     *batch
	enc     *encoder
	rows    int64
	inGroup int
	timeCol int
	minT    int64
	maxT    int64
	hasT    bool
	blooms  []parquet.BloomFilterColumn
	keys    keyRange
	err     error
}

// batch is a set of rows, column by column, ready for parquet-go.
type batch struct {
	cols     [][]parquet.Value
	arena    []byte
	n        int
	endGroup bool // flush the row group after this batch
}

func (b *batch) reset() {
	for i := range b.cols {
		b.cols[i] = b.cols[i][:0]
	}
	b.arena, b.n, b.endGroup = b.arena[:0], 0, false
}

// NewWriter starts a Parquet file on w with schema s.
func NewWriter(w io.Writer, s *Schema, opts WriterOptions) (*Writer, error) {
	codec, err := codecFor(opts.Compression)
	if err != nil {
		return nil, err
	}
	if err := checkCallerMetadata(opts.Metadata); err != nil {
		return nil, err
	}
	if opts.RowGroupRows <= 0 {
		opts.RowGroupRows = DefaultRowGroupRows
	}
	tw := &Writer{s: s, opts: opts, out: w, codec: codec, timeCol: -1, minT: math.MaxInt64, maxT: math.MinInt64}
	if opts.TimeColumn != "" {
		if tw.timeCol, err = timeColumnIndex(s, opts.TimeColumn); err != nil {
			return nil, err
		}
	}
	if tw.blooms, tw.keys, err = keyOptions(s, opts.KeyColumns); err != nil {
		return nil, err
	}
	tw.cur = newBatch(len(s.cols), sampleRows) // the first batch is the sample: room for it from the start
	return tw, nil
}

// sampled reports whether the first batch (the sample) is complete.
func (w *Writer) sampled(b *batch) bool {
	return b.n >= sampleRows || b.n*len(w.s.cols) >= sampleValues || len(b.arena) >= sampleBytes
}

// start chooses the dictionary-encoded columns from the first batch and
// starts the parquet-go writer and the encoder. The choice depends only on
// the rows, so the same rows give the same bytes. When the first batch is
// the whole file (whole says so: Close sent it), a dictionary page is
// shared by its rows only, not by a full row group's.
func (w *Writer) start(first *batch, whole bool) {
	groupRows := w.opts.RowGroupRows
	if whole {
		groupRows = min(groupRows, first.n)
	}
	dict := make([]bool, len(w.s.cols))
	for i, t := range w.s.types {
		dict[i] = wantDictionary(t, first.cols[i], groupRows)
	}
	opts := []parquet.WriterOption{w.s.parquetSchema(dict), &parquet.WriterConfig{CreatedBy: CreatedBy}, parquet.Compression(w.codec), parquet.PageBufferSize(512 * 1024),
		parquet.WriteBufferSize(256 * 1024), parquet.DictionaryMaxBytes(dictionaryMaxBytes)}
	if len(w.blooms) > 0 {
		opts = append(opts, parquet.BloomFilters(w.blooms...))
	}
	w.pw = parquet.NewWriter(w.out, opts...)
	w.enc = startEncoder(w.pw, dict, first)
}

// wantDictionary decides whether a column is dictionary encoded in this
// file (see dictModeOf). From the sample it estimates the number of
// distinct values a row group will hold (Chao1: seen + f1²/2f2, f1 and f2
// the values seen once and twice) and takes a dictionary when that is at
// most a quarter of the row group's rows (so indexes are at least 2 bits
// narrower than a row count's) and the dictionary's bytes fit in
// dictionaryMaxBytes (so the fallback to PLAIN stays the exception).
func wantDictionary(t colType, sample []parquet.Value, groupRows int) bool {
	switch dictModeOf(t.kind) {
	case dictAlways:
		return true
	case dictNever:
		return false
	}
	// Values are counted by their 64-bit hash (byte arrays) or bits: a
	// collision among a sample's few thousand values is as good as never,
	// and only moves the estimate by one.
	var n, size int
	bytes := leafNode(t.kind).Type().Kind() == parquet.ByteArray
	width := 4 // INT32, FLOAT
	if t.kind == KindFloat64 {
		width = 8
	}
	counts := make(map[uint64]int32, len(sample))
	for _, v := range sample {
		if v.IsNull() {
			continue
		}
		if bytes {
			counts[xxhash.Sum64(v.ByteArray())]++
			n, size = n+1, size+len(v.ByteArray())
		} else {
			counts[v.Uint64()]++
			n, size = n+1, size+width
		}
	}
	seen, f1, f2 := frequencies(counts)
	if n == 0 {
		return true // no value seen: a dictionary is the cheapest for NULLs, and falls back if values come
	}
	distinct := float64(seen) + f1*(f1-1)/(2*(f2+1))
	avg := float64(size) / float64(n)
	if distinct > float64(groupRows)/4 || distinct*avg > float64(dictionaryMaxBytes) {
		return false
	}
	if encodingFor(t.kind) == nil {
		return true
	}
	// The column's own encoding is DELTA_BINARY_PACKED: take the dictionary
	// only when its indexes and its share of the dictionary page cost fewer
	// bits per value than the sample's deltas (a customer id among 50,000:
	// 16-bit indexes and a 200 KB dictionary per row group, against 17-bit
	// deltas).
	dictBits := math.Log2(max(distinct, 2)) + 8*distinct*avg/float64(groupRows)
	return dictBits < deltaBits(sample)
}

// deltaBits estimates the bits per value DELTA_BINARY_PACKED takes for the
// non-NULL integer values of sample: the width of each miniblock of 32
// deltas above its block's (128 deltas) smallest delta, averaged.
func deltaBits(sample []parquet.Value) float64 {
	var deltas []int64
	var prev int64
	first := true
	for _, v := range sample {
		if v.IsNull() {
			continue
		}
		x := v.Int64()
		if v.Kind() == parquet.Int32 {
			x = int64(v.Int32())
		}
		if !first {
			deltas = append(deltas, x-prev)
		}
		prev, first = x, false
	}
	if len(deltas) == 0 {
		return 0
	}
	var total float64
	for b := 0; b < len(deltas); b += 128 {
		block := deltas[b:min(b+128, len(deltas))]
		lo := slices.Min(block)
		for m := 0; m < len(block); m += 32 {
			var hi uint64
			for _, d := range block[m:min(m+32, len(block))] {
				hi = max(hi, uint64(d-lo))
			}
			total += float64(bits.Len64(hi) * 32)
		}
	}
	return total / float64(len(deltas))
}

// frequencies returns the number of distinct values and of those seen once
// and twice.
func frequencies(counts map[uint64]int32) (distinct int, f1, f2 float64) {
	for _, c := range counts {
		switch c {
		case 1:
			f1++
		case 2:
			f2++
		}
	}
	return len(counts), f1, f2
}

func codecFor(name string) (compress.Codec, error) {
	switch strings.ToLower(name) {
	case "", "snappy":
		return fastSnappy{}, nil
	case "zstd":
		return &zstd.Codec{Level: zstd.SpeedDefault}, nil
	case "gzip":
		return &gzip.Codec{Level: gzip.DefaultCompression}, nil
	case "none", "uncompressed":
		return &uncompressed.Codec{}, nil
	}
	return nil, fmt.Errorf("parquet compression %q is unknown: use snappy, zstd, gzip or none", name)
}

func timeColumnIndex(s *Schema, name string) (int, error) {
	i := s.Index(name)
	if i < 0 {
		return -1, fmt.Errorf("time column %q is not a column of the table: name one of its timestamptz, timestamp or date columns", name)
	}
	switch t := s.types[i]; {
	case t.array:
	case t.kind == KindTimestamptz, t.kind == KindTimestamp, t.kind == KindDate:
		return i, nil
	}
	return -1, fmt.Errorf("time column %q has type %s: use a timestamptz, timestamp or date column", name, s.cols[i].TypeName)
}

// WriteRaw adds one row given in PostgreSQL's binary format, one element per
// column in Schema order (pgx: rows.RawValues() of a query run with
// SelectList and ResultFormats). nil is NULL. The values are copied; raw may
// be reused once WriteRaw returns. After an error the Writer is unusable.
func (w *Writer) WriteRaw(values [][]byte) error {
	if w.err != nil {
		return w.err
	}
	if len(values) != len(w.s.cols) {
		w.err = fmt.Errorf("write row %d: got %d values for %d columns: select Schema.SelectList()", w.rows+1, len(values), len(w.s.cols))
		return w.err
	}
	b := w.cur
	for i, raw := range values {
		if err := w.addValue(b, i, raw); err != nil {
			w.err = fmt.Errorf("write row %d, column %q (%s): %w", w.rows+1, w.s.cols[i].Name, w.s.cols[i].TypeName, err)
			return w.err
		}
	}
	return w.endRow(b)
}

// endRow counts a finished row and hands the batch on when it is full or
// ends a row group.
func (w *Writer) endRow(b *batch) error {
	b.n++
	w.rows++
	w.inGroup++
	if w.inGroup >= w.opts.RowGroupRows {
		b.endGroup, w.inGroup = true, 0
	}
	if b.endGroup || (w.enc == nil && w.sampled(b)) || (w.enc != nil && b.n >= batchRows) {
		return w.send(false)
	}
	return nil
}

// send hands the current batch to the encoder and takes an empty one; last
// says that no row follows it.
func (w *Writer) send(last bool) error {
	if w.enc == nil {
		w.start(w.cur, last)
	} else if err := w.enc.put(w.cur); err != nil {
		w.err = err
		return err
	}
	w.cur = w.enc.get()
	if w.cur == nil {
		w.err = w.enc.wait()
		return w.err
	}
	return nil
}

// addValue decodes one value of column i into the batch.
func (w *Writer) addValue(b *batch, i int, raw []byte) error {
	t := &w.s.types[i]
	if raw == nil {
		if t.notNull {
			return fmt.Errorf("NULL in a NOT NULL column: the table definition changed; reload the schema")
		}
		b.cols[i] = append(b.cols[i], parquet.Value{}.Level(0, 0, i))
		return nil
	}
	if t.array {
		return addArray(b, i, t, raw)
	}
	v, err := scalarValue(t.kind, raw, &b.arena)
	if err != nil {
		return err
	}
	if i == w.timeCol {
		w.trackTime(v)
	}
	if i == w.keys.col {
		w.keys.track(t.kind, v)
	}
	vals := append(b.cols[i], v)
	p := &vals[len(vals)-1]
	p.SetDefinitionLevel(t.defValue)
	p.SetColumnIndex(i)
	b.cols[i] = vals
	return nil
}

func addArray(b *batch, i int, t *colType, raw []byte) error {
	h, err := parseArrayHeader(raw)
	if err != nil {
		return err
	}
	if h.n == 0 {
		b.cols[i] = append(b.cols[i], parquet.Value{}.Level(0, t.defEmpty, i))
		return nil
	}
	for j := 0; j < h.n; j++ {
		rep := min(j, 1)
		e, err := h.next()
		if err != nil {
			return err
		}
		if e == nil {
			b.cols[i] = append(b.cols[i], parquet.Value{}.Level(rep, t.defNullElem, i))
			continue
		}
		v, err := scalarValue(t.kind, e, &b.arena)
		if err != nil {
			return fmt.Errorf("element %d: %w", j+1, err)
		}
		b.cols[i] = append(b.cols[i], v.Level(rep, t.defValue, i))
	}
	return nil
}

// trackTime updates the time column's range with a finite value.
func (w *Writer) trackTime(v parquet.Value) {
	var us int64
	if w.s.types[w.timeCol].kind == KindDate {
		d := v.Int32()
		if d == math.MaxInt32 || d == math.MinInt32 {
			return
		}
		us = int64(d) * microsPerDay
	} else {
		if us = v.Int64(); us == math.MaxInt64 || us == math.MinInt64 {
			return
		}
	}
	w.minT, w.maxT, w.hasT = min(w.minT, us), max(w.maxT, us), true
}

// Close flushes the rows, writes the footer with the key-value metadata
// (KeyFormatVersion, KeyRows, KeyMinTime, KeyMaxTime, KeyTimeColumn,
// KeySchemaFingerprint, KeySchema and the caller's keys) and returns the
// file's Stats. It does not close the underlying io.Writer. Close after an
// error returns that error.
func (w *Writer) Close() (Stats, error) {
	if w.err == nil && w.cur != nil && (w.cur.n > 0 || w.enc == nil) {
		_ = w.send(true)
	}
	if w.enc == nil { // failed before the first batch was sent
		return Stats{}, w.err
	}
	encErr := w.enc.close()
	if w.err == nil {
		w.err = encErr
	}
	if w.err != nil {
		return Stats{}, w.err
	}
	st := w.stats()
	for _, kv := range w.metadata(st) {
		w.pw.SetKeyValueMetadata(kv[0], kv[1])
	}
	if err := w.pw.Close(); err != nil {
		w.err = fmt.Errorf("write parquet footer: %w", err)
		return Stats{}, w.err
	}
	w.err = fmt.Errorf("parquet writer is closed")
	return st, nil
}

func (w *Writer) stats() Stats {
	st := Stats{Rows: w.rows, HasTime: w.hasT}
	if w.hasT {
		st.MinTime = time.UnixMicro(w.minT).UTC()
		st.MaxTime = time.UnixMicro(w.maxT).UTC()
	}
	if w.keys.has {
		st.KeyMin, st.KeyMax, st.HasKeyRange = string(w.keys.min.AppendText(nil)), string(w.keys.max.AppendText(nil)), true
	}
	return st
}
