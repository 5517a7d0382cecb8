package parquetio

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// batchesInFlight bounds the batches between WriteRaw and the encoder: one
// being filled, one being encoded, one queued.
const batchesInFlight = 3

// encoder writes batches to parquet-go column by column on its own
// goroutine. Batches circulate between free and full, so memory is bounded
// and, once warm, nothing is allocated per row.
type encoder struct {
	pw   *parquet.Writer
	cws  []*parquet.ColumnWriter
	free chan *batch
	full chan *batch
	done chan struct{}
	err  error // set before done is closed
	// dict are the dictionary-encoded columns, whose pages are cut every
	// dictPageRows rows (counted in pending) so that parquet-go checks
	// their dictionary's size.
	dict    []int
	pending int
}

// startEncoder starts the encoding goroutine with first as its first batch.
func startEncoder(pw *parquet.Writer, dict []bool, first *batch) *encoder {
	e := &encoder{
		pw:   pw,
		cws:  pw.ColumnWriters(),
		free: make(chan *batch, batchesInFlight),
		full: make(chan *batch, batchesInFlight),
		done: make(chan struct{}),
	}
	for i, d := range dict {
		if d {
			e.dict = append(e.dict, i)
		}
	}
	for range batchesInFlight - 1 {
		e.free <- newBatch(len(dict), batchRows)
	}
	e.full <- first
	go e.run()
	return e
}

// newBatch returns an empty batch with room for rows rows of ncols columns
// (of about 64 bytes of variable-length values each) before it grows.
func newBatch(ncols, rows int) *batch {
	b := &batch{cols: make([][]parquet.Value, ncols), arena: make([]byte, 0, 64*rows)}
	for i := range b.cols {
		b.cols[i] = make([]parquet.Value, 0, rows)
	}
	return b
}

func (e *encoder) run() {
	defer close(e.done)
	for b := range e.full {
		if err := e.write(b); err != nil {
			e.err = fmt.Errorf("encode parquet: %w", err)
			return
		}
		b.reset()
		e.free <- b
	}
}

func (e *encoder) write(b *batch) error {
	for i, vals := range b.cols {
		if len(vals) == 0 {
			continue
		}
		if _, err := e.cws[i].WriteRowValues(vals); err != nil {
			return fmt.Errorf("column %d: %w", i, err)
		}
	}
	if b.endGroup {
		e.pending = 0
		return e.pw.Flush()
	}
	if e.pending += b.n; e.pending >= dictPageRows {
		e.pending = 0
		for _, i := range e.dict {
			if err := e.cws[i].Flush(); err != nil {
				return fmt.Errorf("column %d: %w", i, err)
			}
		}
	}
	return nil
}

// get returns an empty batch, or nil once the encoder has failed.
func (e *encoder) get() *batch {
	select {
	case b := <-e.free:
		return b
	case <-e.done:
		return nil
	}
}

// put queues a filled batch.
func (e *encoder) put(b *batch) error {
	select {
	case e.full <- b:
		return nil
	case <-e.done:
		return e.err
	}
}

// wait returns the encoder's error after it stopped.
func (e *encoder) wait() error {
	<-e.done
	return e.err
}

// close lets the encoder drain the queued batches and returns its error.
func (e *encoder) close() error {
	close(e.full)
	return e.wait()
}

// Key-value metadata keys. The writer sets the first group itself; the
// second group names what callers (the archiver) are expected to pass in
// WriterOptions.Metadata.
const (
	KeyFormatVersion     = "strata.format_version"
	KeyRows              = "strata.rows"
	KeyMinTime           = "strata.min_time"
	KeyMaxTime           = "strata.max_time"
	KeyTimeColumn        = "strata.time_column"
	KeySchemaFingerprint = "strata.schema_fingerprint"
	KeySchema            = "strata.schema"

	KeyDataset          = "strata.dataset"
	KeyArchiveType      = "strata.archive_type"
	KeyTable            = "strata.table"
	KeyPartitionDay     = "strata.partition_day"
	KeyTransformVersion = "strata.transform_version"
)

// FormatVersion is the value of KeyFormatVersion in files written here.
const FormatVersion = "1"

// CreatedBy is the footer's created_by. It is fixed, not taken from the
// build (parquet-go's default names its own module version), so that a
// retry by another build of Strata writes the same bytes for the same rows
// and adopts the object an interrupted run uploaded instead of writing a
// second one. It names no parquet-go version: readers apply workarounds for
// known writers' bugs by this string, and none apply to this one.
const CreatedBy = "strata parquetio version " + FormatVersion

// TimeLayout is how KeyMinTime and KeyMaxTime are written.
const TimeLayout = "2006-01-02T15:04:05.000000Z07:00"

func reservedKey(k string) bool {
	switch k {
	case KeyFormatVersion, KeyRows, KeyMinTime, KeyMaxTime, KeyTimeColumn, KeySchemaFingerprint, KeySchema:
		return true
	}
	return false
}

func checkCallerMetadata(m map[string]string) error {
	for k := range m {
		if reservedKey(k) {
			return fmt.Errorf("parquet metadata key %q is set by the writer itself: remove it from WriterOptions.Metadata", k)
		}
		if strings.TrimSpace(k) == "" {
			return fmt.Errorf("parquet metadata has an empty key: name every key")
		}
	}
	return nil
}

// metadata is the footer's key-values, sorted by key so that the same rows
// give the same bytes.
func (w *Writer) metadata(st Stats) [][2]string {
	schemaJSON, _ := w.s.MarshalJSON() // strings and numbers only: cannot fail
	kv := [][2]string{
		{KeyFormatVersion, FormatVersion},
		{KeyRows, strconv.FormatInt(st.Rows, 10)},
		{KeySchemaFingerprint, w.s.fingerprint},
		{KeySchema, string(schemaJSON)},
	}
	if w.timeCol >= 0 {
		kv = append(kv, [2]string{KeyTimeColumn, w.s.cols[w.timeCol].Name})
	}
	if st.HasTime {
		kv = append(kv, [2]string{KeyMinTime, st.MinTime.Format(TimeLayout)},
			[2]string{KeyMaxTime, st.MaxTime.Format(TimeLayout)})
	}
	for k, v := range w.opts.Metadata {
		kv = append(kv, [2]string{k, v})
	}
	sort.Slice(kv, func(i, j int) bool { return kv[i][0] < kv[j][0] })
	return kv
}
