package parquetio

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// The fast path of a RowIter's scalar columns: each page is taken as typed
// slices (page.Data: the definition levels, then the values densely, or
// dictionary indexes and the dictionary's values) instead of one
// parquet.Value per row, and rows that are skipped cost a count of their
// definition levels.

// physicalOf is the physical type of a scalar column read from typed page
// data, or encoding.Undefined.
func physicalOf(t colType) encoding.Kind {
	if t.array {
		return encoding.Undefined
	}
	switch t.kind {
	case KindInt16, KindInt32, KindDate:
		return encoding.Int32
	case KindInt64, KindTime, KindTimestamp, KindTimestamptz:
		return encoding.Int64
	case KindFloat32:
		return encoding.Float
	case KindFloat64:
		return encoding.Double
	case KindNumeric, KindText, KindInterval, KindEnum, KindBytea, KindJSON, KindJSONB:
		return encoding.ByteArray
	}
	return encoding.Undefined
}

// pageData is the open page of a scalar column as typed slices: one
// definition level per row (nil when every row has a value), the rows'
// values densely (or indexes into the dictionary's values).
type pageData struct {
	rows, row int // rows in the page; the next row
	val       int // the next value (or index)
	defs      []byte
	idx       []int32 // dictionary indexes, or nil
	i32       []int32
	i64       []int64
	f32       []float32
	f64       []float64
	ba        []byte
	off       []uint32 // value i of ba is ba[off[i]:off[i+1]]
	n         int      // values in the slice of phys (the dictionary's when idx is set)
}

// loadPage opens the next page of a fast-path column and checks that its
// levels and values agree, so that reading it cannot go out of bounds.
func (c *cursor) loadPage() error {
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
	c.page = p
	pd := pageData{rows: int(p.NumValues()), defs: p.DefinitionLevels()}
	if pd.defs != nil && len(pd.defs) != pd.rows || len(p.RepetitionLevels()) > 0 {
		return fmt.Errorf("page of %d values has %d definition and %d repetition levels: the file is damaged", pd.rows, len(pd.defs), len(p.RepetitionLevels()))
	}
	present := pd.rows
	if pd.defs != nil {
		present = countDefined(pd.defs, byte(c.t.defValue))
	}
	data := p.Data()
	if d := p.Dictionary(); d != nil {
		if data.Kind() != encoding.Int32 || len(data.Int32()) != present {
			return fmt.Errorf("dictionary page of %d values holds %d indexes: the file is damaged", present, len(data.Int32()))
		}
		pd.idx = data.Int32()
		data = d.Page().Data()
	}
	if err := pd.setValues(c.phys, &data); err != nil {
		return err
	}
	if pd.idx == nil && pd.n != present {
		return fmt.Errorf("page of %d present values holds %d: the file is damaged", present, pd.n)
	}
	c.pd = pd
	return nil
}

// setValues takes the typed values of a page (or dictionary).
func (pd *pageData) setValues(phys encoding.Kind, data *encoding.Values) error {
	if data.Kind() != phys {
		return fmt.Errorf("page holds physical type %d, the schema says %d: the file is damaged", data.Kind(), phys)
	}
	switch phys {
	case encoding.Int32:
		pd.i32 = data.Int32()
		pd.n = len(pd.i32)
	case encoding.Int64:
		pd.i64 = data.Int64()
		pd.n = len(pd.i64)
	case encoding.Float:
		pd.f32 = data.Float()
		pd.n = len(pd.f32)
	case encoding.Double:
		pd.f64 = data.Double()
		pd.n = len(pd.f64)
	case encoding.ByteArray:
		pd.ba, pd.off = data.ByteArray()
		pd.n = max(len(pd.off)-1, 0)
		for i := range pd.n {
			if pd.off[i] > pd.off[i+1] || int(pd.off[i+1]) > len(pd.ba) {
				return fmt.Errorf("byte array %d has offsets %d..%d in %d bytes: the file is damaged", i, pd.off[i], pd.off[i+1], len(pd.ba))
			}
		}
	}
	return nil
}

// countDefined counts the levels at or above def (rows with a value).
func countDefined(levels []byte, def byte) int {
	if def == 1 { // a nullable scalar: level 0 is NULL; bytes.Count is vectorised
		return len(levels) - bytes.Count(levels, zeroLevel)
	}
	n := 0
	for _, l := range levels {
		if l >= def {
			n++
		}
	}
	return n
}

var zeroLevel = []byte{0}

// nextFast decodes the next row's value of a fast-path column.
func (c *cursor) nextFast(dst *Value, arena *[]byte) error {
	pd := &c.pd
	for pd.row >= pd.rows {
		if err := c.loadPage(); err != nil {
			return err
		}
	}
	r := pd.row
	pd.row++
	if pd.defs != nil && pd.defs[r] < byte(c.t.defValue) {
		*dst = NullValue(c.t.kind)
		return nil
	}
	j := pd.val
	pd.val++
	if pd.idx != nil {
		if j = int(pd.idx[j]); j < 0 || j >= pd.n {
			return fmt.Errorf("dictionary index %d of %d values: the file is damaged", j, pd.n)
		}
	}
	v := Value{kind: c.t.kind}
	switch c.phys {
	case encoding.Int32:
		v.i = int64(pd.i32[j])
	case encoding.Int64:
		v.i = pd.i64[j]
	case encoding.Float:
		v.i = int64(math.Float32bits(pd.f32[j]))
	case encoding.Double:
		v.i = int64(math.Float64bits(pd.f64[j]))
	default:
		start := len(*arena)
		*arena = append(*arena, pd.ba[pd.off[j]:pd.off[j+1]]...)
		v.b = (*arena)[start:len(*arena):len(*arena)]
	}
	*dst = v
	return nil
}

// skipFast passes over the next n rows of a fast-path column.
func (c *cursor) skipFast(n int64) error {
	pd := &c.pd
	for n > 0 {
		if pd.row >= pd.rows {
			if err := c.loadPage(); err != nil {
				return err
			}
			continue
		}
		k := int(min(n, int64(pd.rows-pd.row)))
		if pd.defs == nil {
			pd.val += k
		} else {
			pd.val += countDefined(pd.defs[pd.row:pd.row+k], byte(c.t.defValue))
		}
		pd.row += k
		n -= int64(k)
	}
	return nil
}
