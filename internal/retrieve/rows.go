package retrieve

import (
	"context"
	"fmt"
	"math"
	"os"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/filter"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgcast"
)

// Rows is a stream of retrieved rows. Use it like sql.Rows:
// for rows.Next() { rows.Values() }; then check Err and Close.
type Rows struct {
	ctx  context.Context
	r    *Retriever
	req  Request
	objs []catalog.Object
	cols []string
	defs []parquetio.Column // output column definitions (zero when no object has rows)

	filter *filter.Filter // nil: no where
	tx     pgx.Tx         // the snapshot of a query with live rows
	live   *liveQuery     // nil: archived rows only

	// casts holds, per object, the casts of the columns it holds with
	// another type than their type now (types.go).
	casts []map[string]*pgcast.Cast

	next int // next object to open
	// prefetch delivers objs[next], fetched in the background while the
	// object before it is read; nil when no fetch is in flight.
	prefetch     chan fetched
	stopPrefetch context.CancelFunc
	cur          cursor // reads the open object
	// stopWorkers stops the workers of a parallel read (parallel.go), if
	// one started.
	stopWorkers func()
	// fromMicros and toMicros are the range in microseconds since 1970,
	// as timestamps are stored, rounded inwards.
	fromMicros, toMicros int64
	out                  []parquetio.Value // the current row
	liveOut              []parquetio.Value
	err                  error
	n                    int64
	liveDone             bool
}

// cursor reads the rows of one archived object at a time: those in the
// time range that match the filter, each column cast to its type now. Rows
// reads through one; a parallel write (encode.go) gives each of its
// workers its own. The query's state it reads through rs is read only.
type cursor struct {
	rs      *Rows
	obj     int // the open object's index in rs.objs
	file    *os.File
	it      *parquetio.RowIter
	match   *filter.Matcher // the filter over the iterator's row
	src     []int           // for each output column, its index in the iterator's row, or -1
	tcol    int             // index of the time column in the iterator's row, or -1
	tcols   []int           // {tcol}, for RowIter.Decode
	pr      *parquetio.Reader
	group   int   // the row group groupIn is about, -1 for none
	groupIn bool  // every row of the group is in the time range
	fcols   []int // the filter's columns in the iterator's row
	// conv is, per column of the open object's rows, its cast or nil;
	// convF lists the filter's columns that have one, convRest the others.
	conv            []*pgcast.Cast
	convF, convRest []int
	castArena       []byte
	nulls           []parquetio.Value
	out             []parquetio.Value
	err             error
}

// Columns returns the output column names.
func (rs *Rows) Columns() []string { return rs.cols }

// Objects returns how many archive objects the query reads.
func (rs *Rows) Objects() int { return len(rs.objs) }

// Next advances to the next row in range that matches the filter:
// archived rows first, object by object, then live rows.
func (rs *Rows) Next() bool {
	if rs.err != nil {
		return false
	}
	if rs.req.MaxRows > 0 && rs.n >= rs.req.MaxRows {
		rs.err = rs.tooManyRows()
		return false
	}
	if rs.nextArchived() || (rs.err == nil && rs.live != nil && !rs.liveDone && rs.nextLive()) {
		rs.n++
		return true
	}
	return false
}

// tooManyRows is the error that ends a stream at Request.MaxRows rows.
func (rs *Rows) tooManyRows() error {
	return fmt.Errorf("%w: more than %d rows; narrow the range, add a filter or ask for fewer columns", ErrTooManyRows, rs.req.MaxRows)
}

// nextArchived advances to the next archived row, opening objects in turn.
func (rs *Rows) nextArchived() bool {
	c := &rs.cur
	for rs.err == nil {
		if c.it == nil {
			if rs.next >= len(rs.objs) {
				return false
			}
			idx := rs.next
			f, err := rs.fetchNext()
			if err == nil {
				err = c.open(rs, idx, f)
			}
			rs.err = err
			continue
		}
		if c.advance() {
			rs.out = c.out
			return true
		}
		rs.err = c.err
		c.close()
	}
	return false
}

// advance moves to the next row of the open object that is in range and
// matches; false at its end or on an error (c.err). It decodes the time
// column first, then the filter's columns, and the rest only for rows in
// range that match.
func (c *cursor) advance() bool {
	rs, it := c.rs, c.it
	for it.Advance() {
		row := it.Row()
		if c.tcol >= 0 && !c.groupInRange(it.RowGroup()) {
			if !it.Decode(c.tcols) {
				break
			}
			if !rs.inRange(row[c.tcol]) {
				continue
			}
		}
		c.castArena = c.castArena[:0]
		if c.match != nil {
			if !it.Decode(c.fcols) || !c.castColumns(row, c.convF) {
				break
			}
			if !c.match.Match(row) {
				continue
			}
		}
		if !it.Decode(nil) || !c.castColumns(row, c.convRest) {
			break
		}
		for i, s := range c.src {
			if s < 0 {
				c.out[i] = c.nulls[i]
			} else {
				c.out[i] = row[s]
			}
		}
		return true
	}
	if c.err == nil {
		c.err = it.Err()
	}
	return false
}

// groupInRange reports whether the time statistics of row group g of the
// open object put all its rows in the range, so that no row needs its time
// checked.
func (c *cursor) groupInRange(g int) bool {
	if g != c.group {
		c.group, c.groupIn = g, false
		req := &c.rs.req
		if st, ok := c.pr.RowGroupStats(g)[req.TimeColumn]; ok && st.HasMinMax && st.NullCount == 0 {
			mn, ok1 := st.Min.Time()
			mx, ok2 := st.Max.Time()
			c.groupIn = ok1 && ok2 && !mn.Before(req.From) && !mx.After(req.To)
		}
	}
	return c.groupIn
}

// inRange reports whether a time column value lies in [From, To].
// Timestamps compare as microseconds (±infinity lie outside any range).
func (rs *Rows) inRange(v parquetio.Value) bool {
	if v.IsNull() {
		return false
	}
	if k := v.Kind(); !v.IsArray() && (k == parquetio.KindTimestamptz || k == parquetio.KindTimestamp) {
		us := v.Int64()
		return us != math.MaxInt64 && us != math.MinInt64 && us >= rs.fromMicros && us <= rs.toMicros
	}
	t, ok := v.Time()
	return ok && !t.Before(rs.req.From) && !t.After(rs.req.To)
}

// Values returns the current row, one value per output column. The slice
// and the values' bytes are valid until the next call to Next.
func (rs *Rows) Values() []parquetio.Value { return rs.out }

// ArchivedRowsAtMost is the sum of the rows of the objects the query reads:
// an upper bound of the archived rows it can return.
func (rs *Rows) ArchivedRowsAtMost() int64 {
	var n int64
	for _, o := range rs.objs {
		n += o.Rows
	}
	return n
}

// Count returns the rows returned so far.
func (rs *Rows) Count() int64 { return rs.n }

// Err returns the error that ended the stream, if any.
func (rs *Rows) Err() error { return rs.err }

// Close releases the stream's files and ends its snapshot.
func (rs *Rows) Close() error {
	rs.cancelPrefetch()
	if rs.stopWorkers != nil {
		rs.stopWorkers()
	}
	rs.cur.close()
	if rs.live != nil && rs.live.rows != nil {
		rs.live.rows.Close()
	}
	if rs.tx != nil {
		rs.tx.Rollback(context.WithoutCancel(rs.ctx)) // read only: nothing to keep
		rs.tx = nil
	}
	return nil
}

// close closes the open object, if any.
func (c *cursor) close() {
	if c.it != nil {
		c.it.Close()
		c.it, c.pr = nil, nil
	}
	if c.file != nil {
		c.file.Close()
		c.file = nil
	}
}

// readBufferSize is what each column chunk of a spool file is read
// through: a few large reads instead of many 4 KiB ones.
const readBufferSize = 64 << 10

// open opens object idx of rs, fetched and verified into f, and maps its
// columns to the output. It takes f: on an error too, f is closed.
func (c *cursor) open(rs *Rows, idx int, f *os.File) error {
	o := rs.objs[idx]
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	pr, err := parquetio.OpenWith(f, st.Size(), parquetio.OpenOptions{ReadBufferSize: readBufferSize, ReadAhead: true})
	if err != nil {
		f.Close()
		return fmt.Errorf("open %s: %w", o.Key, err)
	}
	read, src, tcol := rs.projection(pr.Schema())
	keep := rs.rowGroupFilter(pr, rs.casts[idx])
	it, err := pr.Rows(rs.ctx, read, keep)
	if err != nil {
		f.Close()
		return fmt.Errorf("read %s: %w", o.Key, err)
	}
	c.rs, c.obj, c.err = rs, idx, nil
	c.file, c.it, c.src, c.tcol = f, it, src, tcol
	c.tcols, c.pr, c.group = []int{tcol}, pr, -1
	c.match, c.fcols = nil, nil
	if rs.filter != nil {
		c.match = rs.filter.Matcher(func(name string) int { return slices.Index(read, name) })
		for _, fc := range rs.filter.Columns() {
			if j := slices.Index(read, fc); j >= 0 {
				c.fcols = append(c.fcols, j)
			}
		}
	}
	c.planConversions(read, rs.casts[idx])
	if c.out == nil {
		c.out = make([]parquetio.Value, len(rs.cols))
		c.nulls = make([]parquetio.Value, len(rs.cols))
	}
	for i, name := range rs.cols {
		if j := pr.Schema().Index(name); j >= 0 {
			k, _ := pr.Schema().Kind(j)
			c.nulls[i] = parquetio.NullValue(k)
		}
	}
	return nil
}

// fetched is the outcome of Retriever.fetch.
type fetched struct {
	f   *os.File
	err error
}

// fetchNext returns objs[next], verified, in a spool file, taking it from
// the fetch started in the background while the previous object was read
// when there is one; then starts fetching the object after it. The object
// is checked against the catalog before fetch returns it, whichever
// goroutine ran it, and it is read only here, after that.
func (rs *Rows) fetchNext() (*os.File, error) {
	var r fetched
	if rs.prefetch != nil {
		r = <-rs.prefetch
		rs.prefetch = nil
		rs.stopPrefetch()
	} else {
		r.f, r.err = rs.r.fetch(rs.ctx, rs.objs[rs.next])
	}
	rs.next++
	if r.err == nil && rs.next < len(rs.objs) {
		ctx, cancel := context.WithCancel(rs.ctx)
		ch := make(chan fetched, 1)
		rs.prefetch, rs.stopPrefetch = ch, cancel
		go func(o catalog.Object) {
			f, err := rs.r.fetch(ctx, o)
			ch <- fetched{f, err}
		}(rs.objs[rs.next])
	}
	return r.f, r.err
}

// cancelPrefetch stops the background fetch, if any, and waits for it.
func (rs *Rows) cancelPrefetch() {
	if rs.prefetch == nil {
		return
	}
	rs.stopPrefetch()
	if r := <-rs.prefetch; r.f != nil {
		r.f.Close()
	}
	rs.prefetch = nil
}

// projection lists the file columns to read (the output columns the file
// has, plus the time column) and where each output column comes from.
func (rs *Rows) projection(s *parquetio.Schema) (read []string, src []int, tcol int) {
	src = make([]int, len(rs.cols))
	pos := map[string]int{}
	for i, c := range rs.cols {
		src[i] = -1
		if s.Index(c) < 0 {
			continue
		}
		if _, ok := pos[c]; !ok {
			pos[c] = len(read)
			read = append(read, c)
		}
		src[i] = pos[c]
	}
	if rs.filter != nil {
		for _, c := range rs.filter.Columns() {
			if _, ok := pos[c]; !ok && s.Index(c) >= 0 {
				pos[c] = len(read)
				read = append(read, c)
			}
		}
	}
	tcol = -1
	if rs.req.TimeColumn != "" && s.Index(rs.req.TimeColumn) >= 0 {
		if p, ok := pos[rs.req.TimeColumn]; ok {
			tcol = p
		} else {
			tcol = len(read)
			read = append(read, rs.req.TimeColumn)
		}
	}
	return read, src, tcol
}

// rowGroupFilter skips row groups whose statistics show that no row is in
// the time range or matches the filter. The filter sees the statistics of
// columns the object holds with another type as castStats leaves them.
func (rs *Rows) rowGroupFilter(pr *parquetio.Reader, casts map[string]*pgcast.Cast) func(int) bool {
	if rs.req.TimeColumn == "" && rs.filter == nil {
		return nil
	}
	return func(i int) bool {
		stats := pr.RowGroupStats(i)
		if rs.filter != nil && !rs.filter.MayMatch(castStats(stats, casts), pr.RowGroupRows(i)) {
			return false
		}
		return rs.timeMayMatch(stats)
	}
}

// timeMayMatch reports whether a row group's time statistics overlap the range.
func (rs *Rows) timeMayMatch(stats map[string]parquetio.ColumnStats) bool {
	st, ok := stats[rs.req.TimeColumn]
	if !ok || !st.HasMinMax {
		return true
	}
	mn, ok1 := st.Min.Time()
	mx, ok2 := st.Max.Time()
	if !ok1 || !ok2 {
		return true
	}
	return !mx.Before(rs.req.From) && !mn.After(rs.req.To)
}
