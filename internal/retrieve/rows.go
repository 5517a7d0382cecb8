package retrieve

import (
	"context"
	"fmt"
	"os"

	"github.com/stratahq/strata/internal/catalog"
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

	next  int // next object to open
	file  *os.File
	it    *parquetio.RowIter
	src   []int // for each output column, its index in the iterator's row, or -1
	tcol  int   // index of the time column in the iterator's row, or -1
	nulls []parquetio.Value
	out   []parquetio.Value
	err   error
	n     int64
}

// Columns returns the output column names.
func (rs *Rows) Columns() []string { return rs.cols }

// Objects returns how many archive objects the query reads.
func (rs *Rows) Objects() int { return len(rs.objs) }

// Next advances to the next row in range.
func (rs *Rows) Next() bool {
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
		for i, s := range rs.src {
			if s < 0 {
				rs.out[i] = rs.nulls[i]
			} else {
				rs.out[i] = row[s]
			}
		}
		rs.n++
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

// Close releases the stream's files.
func (rs *Rows) Close() error {
	rs.closeObject()
	return nil
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
	if rs.out == nil {
		rs.out = make([]parquetio.Value, len(rs.cols))
		rs.nulls = make([]parquetio.Value, len(rs.cols))
	}
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

// rowGroupFilter skips row groups whose time statistics lie outside the range.
func (rs *Rows) rowGroupFilter(pr *parquetio.Reader) func(int) bool {
	if rs.req.TimeColumn == "" {
		return nil
	}
	return func(i int) bool {
		st, ok := pr.RowGroupStats(i)[rs.req.TimeColumn]
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
}
