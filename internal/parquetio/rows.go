package parquetio

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// RowIter streams the rows of a file, with only the projected columns
// decoded. Memory is bounded by one page per projected column plus a row.
//
//	it, err := r.Rows(ctx, []string{"id", "ts"}, nil)
//	for it.Next() { row := it.Row(); ... }
//	err = it.Close() // the first error met, if any
type RowIter struct {
	ctx     context.Context
	r       *Reader
	proj    []int
	names   []string
	keep    func(rowGroup int) bool
	rg      int   // next row group to open
	left    int64 // rows left in the open row group
	cur     int64 // index of the current row in the open row group
	cursors []*cursor
	arrays  bool // some projected column is an array
	row     []Value
	// row[i] holds the current row's value when done[i] == gen; Advance
	// increments gen.
	done  []uint64
	gen   uint64
	arena []byte
	err   error
}

// Rows returns an iterator over the rows of the row groups for which keep
// returns true (all when keep is nil), with the named columns in the order
// given (all columns, in table order, when columns is empty). Unnamed
// columns are never read. The context is checked between row groups and
// every 1024 rows.
//
// Next decodes every column of each row. A caller that decides from a few
// columns whether it wants a row (a time range, a filter) calls Advance and
// then Decode with those columns first: the values of the rows it skips in
// the other columns are never converted (scalar columns skip them in bulk;
// an array column is decoded on every Advance, since where one row's array
// ends is only known from its values).
func (r *Reader) Rows(ctx context.Context, columns []string, keep func(rowGroup int) bool) (*RowIter, error) {
	proj, err := r.projection(columns)
	if err != nil {
		return nil, err
	}
	it := &RowIter{ctx: ctx, r: r, proj: proj, keep: keep, row: make([]Value, len(proj)), done: make([]uint64, len(proj)), gen: 1}
	for _, c := range proj {
		it.names = append(it.names, r.s.cols[c].Name)
	}
	return it, nil
}

// Columns names the columns of each row, in order.
func (it *RowIter) Columns() []string { return it.names }

// Next advances to the next row and decodes all of it, returning false at
// the end or on error.
func (it *RowIter) Next() bool { return it.Advance() && it.Decode(nil) }

// Advance moves to the next row without decoding its scalar columns,
// returning false at the end or on error. Until Decode is called for them,
// the columns of Row hold stale values.
func (it *RowIter) Advance() bool {
	if it.err != nil {
		return false
	}
	for it.left == 0 {
		if !it.openNext() {
			return false
		}
	}
	if it.left&1023 == 0 {
		if it.err = it.ctx.Err(); it.err != nil {
			return false
		}
	}
	it.arena = it.arena[:0]
	it.left--
	it.cur++
	it.gen++
	if it.arrays {
		for i, c := range it.cursors {
			if c.t.array && !it.decode(i) {
				return false
			}
		}
	}
	return true
}

// RowGroup returns the index of the row group of the current row.
func (it *RowIter) RowGroup() int { return it.rg - 1 }

// Decode decodes the given columns (positions in Row; all when cols is
// nil) of the row Advance moved to, unless decoded already. It returns
// false on error (see Err).
func (it *RowIter) Decode(cols []int) bool {
	if it.err != nil {
		return false
	}
	if cols == nil {
		for i := range it.cursors {
			if it.done[i] != it.gen && !it.decode(i) {
				return false
			}
		}
		return true
	}
	for _, i := range cols {
		if it.done[i] != it.gen && !it.decode(i) {
			return false
		}
	}
	return true
}

// decode reads column i's value of the current row, first skipping the
// values of the rows before it that were never decoded.
func (it *RowIter) decode(i int) bool {
	c := it.cursors[i]
	var err error
	if !c.t.array {
		err = c.skip(it.cur - c.at)
		c.at = it.cur + 1
	}
	if err == nil {
		err = c.next(&it.row[i], &it.arena)
	}
	if err != nil {
		it.err = fmt.Errorf("read column %q of row group %d: %w", it.names[i], it.rg-1, err)
		return false
	}
	it.done[i] = it.gen
	return true
}

// openNext opens the next kept row group; false at the end or on error.
func (it *RowIter) openNext() bool {
	it.closeCursors()
	groups := it.r.f.RowGroups()
	for ; it.rg < len(groups); it.rg++ {
		if it.err = it.ctx.Err(); it.err != nil {
			return false
		}
		if it.keep == nil || it.keep(it.rg) {
			break
		}
	}
	if it.rg >= len(groups) {
		return false
	}
	g := groups[it.rg]
	chunks := g.ColumnChunks()
	for _, c := range it.proj {
		t := it.r.s.types[c]
		it.cursors = append(it.cursors, &cursor{pages: chunks[c].Pages(), t: t, phys: physicalOf(t)})
		it.arrays = it.arrays || t.array
	}
	it.left, it.cur = g.NumRows(), -1
	it.rg++
	return true
}

// Row returns the current row, valid until the next call to Next.
func (it *RowIter) Row() []Value { return it.row }

// Err returns the error that stopped the iteration, if any.
func (it *RowIter) Err() error { return it.err }

// Close releases the open pages and returns Err.
func (it *RowIter) Close() error {
	it.closeCursors()
	return it.err
}

func (it *RowIter) closeCursors() {
	for _, c := range it.cursors {
		c.close()
	}
	it.cursors = it.cursors[:0]
}

// cursor reads one column chunk value by value, across pages.
type cursor struct {
	pages parquet.Pages
	page  parquet.Page
	vals  parquet.ValueReader
	buf   []parquet.Value
	pos   int
	at    int64 // for a scalar column, the row of the next value
	t     colType
	elems []Value
	// phys is the physical type a scalar column is read with from its
	// pages' typed data (the fast path, pagedata.go); encoding.Undefined for
	// arrays, booleans and uuid, which go value by value through vals.
	phys encoding.Kind
	pd   pageData
}

// skip passes over the next n values of a scalar column (one per row).
func (c *cursor) skip(n int64) error {
	if c.phys != encoding.Undefined {
		return c.skipFast(n)
	}
	for n > 0 {
		if c.pos >= len(c.buf) {
			if err := c.fill(); err != nil {
				return err
			}
			continue
		}
		k := min(n, int64(len(c.buf)-c.pos))
		c.pos += int(k)
		n -= k
	}
	return nil
}

// peek returns the next value without consuming it.
func (c *cursor) peek() (parquet.Value, error) {
	for c.pos >= len(c.buf) {
		if err := c.fill(); err != nil {
			return parquet.Value{}, err
		}
	}
	return c.buf[c.pos], nil
}

// fill reads the next values, opening the next page when needed.
func (c *cursor) fill() error {
	if c.buf == nil {
		c.buf = make([]parquet.Value, 0, 1024)
	}
	for {
		if c.vals == nil {
			if c.page != nil {
				parquet.Release(c.page)
				c.page = nil
			}
			p, err := c.pages.ReadPage()
			if err != nil {
				if errors.Is(err, io.EOF) {
					return io.ErrUnexpectedEOF // fewer values than rows: damaged
				}
				return err
			}
			c.page, c.vals = p, p.Values()
		}
		n, err := c.vals.ReadValues(c.buf[:cap(c.buf)])
		c.buf, c.pos = c.buf[:n], 0
		if err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if errors.Is(err, io.EOF) {
			c.vals = nil
		}
		if n > 0 {
			return nil
		}
	}
}

// next decodes the next row's value of this column into dst.
func (c *cursor) next(dst *Value, arena *[]byte) error {
	if c.phys != encoding.Undefined {
		return c.nextFast(dst, arena)
	}
	pv, err := c.peek()
	if err != nil {
		return err
	}
	c.pos++
	def := pv.DefinitionLevel()
	if !c.t.array {
		if def < c.t.defValue {
			*dst = NullValue(c.t.kind)
		} else {
			*dst = fromParquet(c.t.kind, pv, arena)
		}
		return nil
	}
	*dst = Value{kind: c.t.kind, array: true}
	if def < c.t.defEmpty {
		dst.null = true
		return nil
	}
	c.elems = c.elems[:0]
	for {
		if def >= c.t.defValue {
			c.elems = append(c.elems, fromParquet(c.t.kind, pv, arena))
		} else if def == c.t.defNullElem {
			c.elems = append(c.elems, NullValue(c.t.kind))
		}
		if pv, err = c.peek(); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				break // the chunk's last row
			}
			return err
		}
		if pv.RepetitionLevel() == 0 {
			break
		}
		c.pos++
		def = pv.DefinitionLevel()
	}
	dst.elems = c.elems[:len(c.elems):len(c.elems)]
	if dst.elems == nil {
		dst.elems = []Value{}
	}
	return nil
}

func (c *cursor) close() {
	if c.page != nil {
		parquet.Release(c.page)
		c.page = nil
	}
	if c.pages != nil {
		c.pages.Close()
	}
}
