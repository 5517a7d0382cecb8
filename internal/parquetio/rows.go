package parquetio

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
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
	cursors []*cursor
	row     []Value
	arena   []byte
	err     error
}

// Rows returns an iterator over the rows of the row groups for which keep
// returns true (all when keep is nil), with the named columns in the order
// given (all columns, in table order, when columns is empty). Unnamed
// columns are never read. The context is checked between row groups and
// every 1024 rows.
func (r *Reader) Rows(ctx context.Context, columns []string, keep func(rowGroup int) bool) (*RowIter, error) {
	proj, err := r.projection(columns)
	if err != nil {
		return nil, err
	}
	it := &RowIter{ctx: ctx, r: r, proj: proj, keep: keep, row: make([]Value, len(proj))}
	for _, c := range proj {
		it.names = append(it.names, r.s.cols[c].Name)
	}
	return it, nil
}

// Columns names the columns of each row, in order.
func (it *RowIter) Columns() []string { return it.names }

// Next advances to the next row, returning false at the end or on error.
func (it *RowIter) Next() bool {
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
	for i, c := range it.cursors {
		if err := c.next(&it.row[i], &it.arena); err != nil {
			it.err = fmt.Errorf("read column %q of row group %d: %w", it.names[i], it.rg-1, err)
			return false
		}
	}
	it.left--
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
		it.cursors = append(it.cursors, &cursor{pages: chunks[c].Pages(), t: it.r.s.types[c]})
	}
	it.left = g.NumRows()
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
	t     colType
	elems []Value
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
