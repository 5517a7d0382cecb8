package archive

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/parquetio"
)

// Routing the rows of a scan to one Parquet object per day. The first
// maxDirect days met get a Parquet writer each and are encoded as their
// rows arrive; the rows of any further day are spilled, in PostgreSQL's
// binary form, to one unlinked spill file and encoded after the scan, by
// parallelism goroutines, one day each at a time. Memory is so bounded
// whatever the number of days: maxDirect writers, plus at most
// spillBufferBytes of spill buffers (a day's buffer is written out as a
// block of the spill file when it fills or when the buffers together pass
// the bound), plus parallelism writers after the scan.
//
// A parallel scan (days.go) has one router per ctid range, all but the
// first spilling every day, and the bound on buffers shared among them. A
// day's object is its rows in heap order, the ranges' parts one after the
// other, through the same writer options: the same bytes whichever way it
// was written.
const (
	maxDirect        = 2
	spillBlockBytes  = 256 << 10
	spillBufferBytes = 32 << 20
)

// daySink collects one day's rows: through a writer, or into the spill.
type daySink struct {
	day    time.Time
	sw     *spoolWriter // direct; nil when spilled
	buf    []byte       // spilled rows not yet in a block
	blocks [][2]int64   // offset and length of each block in the spill file
	rows   int64
}

// dayRouter routes the rows of a scan to their days' sinks.
type dayRouter struct {
	a       *Archiver
	ex      *extractor
	spec    AnalyticsSpec
	table   string
	timeCol int
	date    bool
	sinks   map[int64]*daySink
	direct  int // days given a writer so far
	// maxDirect and buffers bound the days given a writer and the bytes of
	// spill buffers.
	maxDirect, buffers int
	spill              *os.File
	spillAt            int64
	held               int // bytes of spill buffers (capacity)
}

func (a *Archiver) newDayRouter(ex *extractor, spec AnalyticsSpec, table string, direct, buffers int) *dayRouter {
	i := ex.schema.Index(spec.TimeColumn)
	k, _ := ex.schema.Kind(i)
	return &dayRouter{a: a, ex: ex, spec: spec, table: table, timeCol: i, date: k == parquetio.KindDate,
		sinks: make(map[int64]*daySink), maxDirect: direct, buffers: buffers}
}

// dayOf returns the UTC day number (days since 1970) of a row's time value.
func (r *dayRouter) dayOf(raw []byte) (int64, error) {
	if r.date {
		if len(raw) != 4 {
			return 0, errors.New("time column: malformed date")
		}
		d := int32(binary.BigEndian.Uint32(raw))
		if d == math.MaxInt32 || d == math.MinInt32 {
			return 0, errors.New("a row's time is infinity, which has no day: correct it or exclude the row")
		}
		return int64(d) + 10957, nil
	}
	if len(raw) != 8 {
		return 0, errors.New("time column: malformed timestamp")
	}
	us := int64(binary.BigEndian.Uint64(raw))
	if us == math.MaxInt64 || us == math.MinInt64 {
		return 0, errors.New("a row's time is infinity, which has no day: correct it or exclude the row")
	}
	const pgEpochDays, microsPerDay = 10957, 86_400_000_000
	d := us / microsPerDay
	if us%microsPerDay < 0 {
		d--
	}
	return d + pgEpochDays, nil
}

// scan routes the rows of one query (sql with args) to their days.
func (r *dayRouter) scan(ctx context.Context, q pgx.Tx, sql string, args ...any) error {
	return eachRow(ctx, q, r.route, sql, append([]any{r.ex.resultFmt}, args...)...)
}

// route adds one row (raw binary values in schema order) to its day.
func (r *dayRouter) route(values [][]byte) error {
	if values[r.timeCol] == nil {
		return errors.New("a row's time is NULL") // the scan's WHERE excludes them
	}
	d, err := r.dayOf(values[r.timeCol])
	if err != nil {
		return err
	}
	s := r.sinks[d]
	if s == nil {
		if s, err = r.newSink(d); err != nil {
			return err
		}
	}
	s.rows++
	if s.sw != nil {
		return s.sw.w.WriteRaw(values)
	}
	return r.spillRow(s, values)
}

func (r *dayRouter) newSink(d int64) (*daySink, error) {
	s := &daySink{day: time.Unix(d*86400, 0).UTC()}
	if r.direct < r.maxDirect {
		sw, err := r.a.newSpoolWriter(r.ex.schema, r.spec.dayWriterOptions(r.table, s.day))
		if err != nil {
			return nil, err
		}
		s.sw = sw
		r.direct++
	} else if r.spill == nil {
		dir, err := r.a.spoolDir()
		if err != nil {
			return nil, err
		}
		if r.spill, err = os.CreateTemp(dir, "strata-spill-*"); err != nil {
			return nil, fmt.Errorf("spill file: %w", err)
		}
		_ = os.Remove(r.spill.Name()) // unlinked: gone with the process
	}
	r.sinks[d] = s
	return s, nil
}

// spillRow appends a row to the day's buffer: per value a 4-byte length
// (0xFFFFFFFF for NULL) and the bytes.
func (r *dayRouter) spillRow(s *daySink, values [][]byte) error {
	before := cap(s.buf)
	for _, v := range values {
		if v == nil {
			s.buf = binary.BigEndian.AppendUint32(s.buf, math.MaxUint32)
			continue
		}
		s.buf = binary.BigEndian.AppendUint32(s.buf, uint32(len(v)))
		s.buf = append(s.buf, v...)
	}
	r.held += cap(s.buf) - before
	if len(s.buf) < spillBlockBytes && r.held <= r.buffers {
		return nil
	}
	return r.flushSink(s, r.held > r.buffers)
}

// flushSink writes the day's buffer as a block of the spill file; release
// drops the buffer instead of keeping it for the next rows.
func (r *dayRouter) flushSink(s *daySink, release bool) error {
	if len(s.buf) > 0 {
		if _, err := r.spill.WriteAt(s.buf, r.spillAt); err != nil {
			return fmt.Errorf("spill file: %w", err)
		}
		s.blocks = append(s.blocks, [2]int64{r.spillAt, int64(len(s.buf))})
		r.spillAt += int64(len(s.buf))
	}
	s.buf = s.buf[:0]
	if release {
		r.held -= cap(s.buf)
		s.buf = nil
	}
	return nil
}

// dayParts are one day's sinks in the routers of consecutive ranges, in
// range order, and the router each belongs to.
type dayParts struct {
	day    time.Time
	sinks  []*daySink
	owners []*dayRouter
}

// finishDays closes every day's object from the routers of a scan (one, or
// one per ctid range in range order), encoding the spilled days on up to
// parallel goroutines, and returns them oldest first. On error it removes
// every file it made.
func finishDays(routers []*dayRouter, parallel int) ([]*staged, error) {
	byDay := map[int64]*dayParts{}
	for _, r := range routers {
		for d, s := range r.sinks {
			p := byDay[d]
			if p == nil {
				p = &dayParts{day: s.day}
				byDay[d] = p
			}
			p.sinks, p.owners = append(p.sinks, s), append(p.owners, r)
		}
	}
	days := make([]*dayParts, 0, len(byDay))
	for _, p := range byDay {
		days = append(days, p)
	}
	slices.SortFunc(days, func(x, y *dayParts) int { return x.day.Compare(y.day) })
	out := make([]*staged, len(days))
	errs := make([]error, len(days))
	next := make(chan int, len(days))
	for i := range days {
		next <- i
	}
	close(next)
	var wg sync.WaitGroup
	for range max(1, parallel) {
		wg.Go(func() {
			for i := range next {
				out[i], errs[i] = finishDay(days[i])
			}
		})
	}
	wg.Wait()
	for _, r := range routers {
		r.close()
	}
	if err := errors.Join(errs...); err != nil {
		for _, s := range out {
			if s != nil {
				s.cleanup()
			}
		}
		return nil, err
	}
	return out, nil
}

// finishDay closes a day's writer (the first range's, when the day had one)
// after writing the day's spilled rows, range after range.
func finishDay(p *dayParts) (*staged, error) {
	r := p.owners[0]
	day := p.day.Format(time.DateOnly)
	sw, parts := p.sinks[0].sw, p.sinks
	if sw != nil {
		parts = parts[1:]
	} else {
		var err error
		if sw, err = r.a.newSpoolWriter(r.ex.schema, r.spec.dayWriterOptions(r.table, p.day)); err != nil {
			return nil, err
		}
	}
	for i, s := range parts {
		// Only the first range's router gives days a writer.
		if err := p.owners[len(p.owners)-len(parts)+i].replay(s, sw.w); err != nil {
			sw.abort()
			return nil, fmt.Errorf("day %s: %w", day, err)
		}
	}
	st, _, err := sw.finish()
	if err != nil {
		return nil, fmt.Errorf("day %s: %w", day, err)
	}
	st.day = p.day
	r.ex.describe(st, r.spec, r.table)
	return st, nil
}

// replay writes a spilled day's rows, in the order they came, to w.
func (r *dayRouter) replay(s *daySink, w *parquetio.Writer) error {
	values := make([][]byte, len(r.ex.schema.Columns()))
	var block []byte
	for _, b := range append(s.blocks, [2]int64{-1, 0}) {
		data := s.buf
		if b[0] >= 0 {
			block = slices.Grow(block[:0], int(b[1]))[:b[1]]
			if _, err := r.spill.ReadAt(block, b[0]); err != nil {
				return fmt.Errorf("read spill file: %w", err)
			}
			data = block
		}
		for len(data) > 0 {
			var err error
			if data, err = splitRow(data, values); err != nil {
				return err
			}
			if err := w.WriteRaw(values); err != nil {
				return err
			}
		}
	}
	return nil
}

// splitRow reads one spilled row into values and returns the rest.
func splitRow(data []byte, values [][]byte) ([]byte, error) {
	for i := range values {
		if len(data) < 4 {
			return nil, errors.New("spill file: truncated row")
		}
		n := binary.BigEndian.Uint32(data)
		data = data[4:]
		if n == math.MaxUint32 {
			values[i] = nil
			continue
		}
		if uint64(len(data)) < uint64(n) {
			return nil, errors.New("spill file: truncated value")
		}
		values[i], data = data[:n:n], data[n:]
	}
	return data, nil
}

// abort drops every writer and the spill file.
func (r *dayRouter) abort() {
	for _, s := range r.sinks {
		if s.sw != nil {
			s.sw.abort()
		}
	}
	r.close()
}

func (r *dayRouter) close() {
	if r.spill != nil {
		r.spill.Close()
		r.spill = nil
	}
}
