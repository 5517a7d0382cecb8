package retrieve

import (
	"context"
	"fmt"
	"os"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/filter"
	"github.com/stratahq/strata/internal/parquetio"
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

	next     int // next object to open
	file     *os.File
	it       *parquetio.RowIter
	match    *filter.Matcher // the filter over the iterator's row
	src      []int           // for each output column, its index in the iterator's row, or -1
	tcol     int             // index of the time column in the iterator's row, or -1
	nulls    []parquetio.Value
	out      []parquetio.Value
	err      error
	n        int64
	liveDone bool
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
		rs.err = fmt.Errorf("%w: more than %d rows; narrow the range, add a filter or ask for fewer columns", ErrTooManyRows, rs.req.MaxRows)
		return false
	}
	if rs.nextArchived() || (rs.err == nil && rs.live != nil && !rs.liveDone && rs.nextLive()) {
		rs.n++
		return true
	}
	return false
}

// nextArchived advances to the next archived row, opening objects in turn.
func (rs *Rows) nextArchived() bool {
	for rs.err == nil {
		if rs.it == nil {
			if rs.next >= len(rs.objs) {
				return false
			}
			rs.err = rs.open(rs.objs[rs.next])
			rs.next++
			continue
		}
		if !rs.it.Next() {
			rs.err = rs.it.Err()
			rs.closeObject()
			continue
		}
		row := rs.it.Row()
		if rs.tcol >= 0 && !rs.inRange(row[rs.tcol]) {
			continue
		}
		if rs.match != nil && !rs.match.Match(row) {
			continue
		}
		for i, s := range rs.src {
			if s < 0 {
				rs.out[i] = rs.nulls[i]
			} else {
				rs.out[i] = row[s]
			}
		}
		return true
	}
	return false
}

func (rs *Rows) inRange(v parquetio.Value) bool {
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
	rs.closeObject()
	if rs.live != nil && rs.live.rows != nil {
		rs.live.rows.Close()
	}
	if rs.tx != nil {
		rs.tx.Rollback(context.WithoutCancel(rs.ctx)) // read only: nothing to keep
		rs.tx = nil
	}
	return nil
}

// ensureOut allocates the output row.
func (rs *Rows) ensureOut() {
	if rs.out == nil {
		rs.out = make([]parquetio.Value, len(rs.cols))
		rs.nulls = make([]parquetio.Value, len(rs.cols))
	}
}

func (rs *Rows) closeObject() {
	if rs.it != nil {
		rs.it.Close()
		rs.it = nil
	}
	if rs.file != nil {
		rs.file.Close()
		rs.file = nil
	}
}

// open verifies and opens one object and maps its columns to the output.
func (rs *Rows) open(o catalog.Object) error {
	f, err := rs.r.fetch(rs.ctx, o)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	pr, err := parquetio.Open(f, st.Size())
	if err != nil {
		f.Close()
		return fmt.Errorf("open %s: %w", o.Key, err)
	}
	read, src, tcol := rs.projection(pr.Schema())
	keep := rs.rowGroupFilter(pr)
	it, err := pr.Rows(rs.ctx, read, keep)
	if err != nil {
		f.Close()
		return fmt.Errorf("read %s: %w", o.Key, err)
	}
	rs.file, rs.it, rs.src, rs.tcol = f, it, src, tcol
	rs.match = nil
	if rs.filter != nil {
		rs.match = rs.filter.Matcher(func(name string) int { return slices.Index(read, name) })
	}
	rs.ensureOut()
	for i, c := range rs.cols {
		if j := pr.Schema().Index(c); j >= 0 {
			k, _ := pr.Schema().Kind(j)
			rs.nulls[i] = parquetio.NullValue(k)
		}
	}
	return nil
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
// the time range or matches the filter.
func (rs *Rows) rowGroupFilter(pr *parquetio.Reader) func(int) bool {
	if rs.req.TimeColumn == "" && rs.filter == nil {
		return nil
	}
	return func(i int) bool {
		stats := pr.RowGroupStats(i)
		if rs.filter != nil && !rs.filter.MayMatch(stats, pr.RowGroupRows(i)) {
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
