package parquetio

import (
	"fmt"
	"math"

	"github.com/parquet-go/parquet-go"
)

// WriteValues adds one row of decoded values, one per column in Schema order,
// as a Reader returns them: the way retrieval re-encodes a projection of
// archived rows as a new Parquet file. The values are copied.
func (w *Writer) WriteValues(vals []Value) error {
	if w.err != nil {
		return w.err
	}
	if len(vals) != len(w.s.cols) {
		w.err = fmt.Errorf("write row %d: got %d values for %d columns", w.rows+1, len(vals), len(w.s.cols))
		return w.err
	}
	b := w.cur
	for i, v := range vals {
		if err := w.addDecoded(b, i, v); err != nil {
			w.err = fmt.Errorf("write row %d, column %q (%s): %w", w.rows+1, w.s.cols[i].Name, w.s.cols[i].TypeName, err)
			return w.err
		}
	}
	return w.endRow(b)
}

func (w *Writer) addDecoded(b *batch, i int, v Value) error {
	t := &w.s.types[i]
	if v.IsNull() {
		if t.notNull {
			return fmt.Errorf("NULL in a NOT NULL column")
		}
		b.cols[i] = append(b.cols[i], parquet.Value{}.Level(0, 0, i))
		return nil
	}
	if v.kind != t.kind || v.array != t.array {
		return fmt.Errorf("value of kind %s (array %v) for a column of kind %s (array %v)", v.kind, v.array, t.kind, t.array)
	}
	if !t.array {
		pv := decodedValue(v, &b.arena)
		if i == w.timeCol {
			w.trackTime(pv)
		}
		b.cols[i] = append(b.cols[i], pv.Level(0, t.defValue, i))
		return nil
	}
	if len(v.elems) == 0 {
		b.cols[i] = append(b.cols[i], parquet.Value{}.Level(0, t.defEmpty, i))
		return nil
	}
	for j, e := range v.elems {
		rep := min(j, 1)
		if e.IsNull() {
			b.cols[i] = append(b.cols[i], parquet.Value{}.Level(rep, t.defNullElem, i))
			continue
		}
		b.cols[i] = append(b.cols[i], decodedValue(e, &b.arena).Level(rep, t.defValue, i))
	}
	return nil
}

// decodedValue turns a non-NULL scalar Value back into its Parquet value,
// copying bytes into the batch's arena.
func decodedValue(v Value, arena *[]byte) parquet.Value {
	switch v.kind {
	case KindBool:
		return parquet.BooleanValue(v.i != 0)
	case KindInt16, KindInt32, KindDate:
		return parquet.Int32Value(int32(v.i))
	case KindInt64, KindTime, KindTimestamp, KindTimestamptz:
		return parquet.Int64Value(v.i)
	case KindFloat32:
		return parquet.FloatValue(math.Float32frombits(uint32(v.i)))
	case KindFloat64:
		return parquet.DoubleValue(math.Float64frombits(uint64(v.i)))
	}
	start := len(*arena)
	*arena = append(*arena, v.b...)
	b := (*arena)[start:len(*arena):len(*arena)]
	if v.kind == KindUUID {
		return parquet.FixedLenByteArrayValue(b)
	}
	return parquet.ByteArrayValue(b)
}
