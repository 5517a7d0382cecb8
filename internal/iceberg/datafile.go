package iceberg

import (
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"

	"github.com/apache/iceberg-go"
	"github.com/twmb/avro/atype"

	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/tables"
)

// dataFile describes o to Iceberg from what the catalog already knows (no
// object is read): its location, rows, bytes, its day as the partition
// value and, per column of sc, value and null counts and bounds in
// Iceberg's single-value serialisation. Columns without statistics, list
// columns (whose null counts count elements, not rows) and columns o's
// file lacks get none: engines then simply do not prune on them.
func dataFile(sc *iceberg.Schema, spec iceberg.PartitionSpec, uri string, o tables.Object) (iceberg.DataFile, error) {
	part := map[int]any{}
	logical := map[int]string{}
	for _, f := range spec.Fields() {
		part[f.FieldID] = iceberg.Date(o.Day.Unix() / 86400)
		logical[f.FieldID] = atype.Date
	}
	b, err := iceberg.NewDataFileBuilder(spec, iceberg.EntryContentData, uri, iceberg.ParquetFile,
		part, logical, nil, o.Rows, o.Bytes)
	if err != nil {
		return nil, fmt.Errorf("iceberg: data file %s: %w", uri, err)
	}
	values, nulls := map[int]int64{}, map[int]int64{}
	lower, upper := map[int][]byte{}, map[int][]byte{}
	for _, c := range o.Columns {
		f, ok := sc.FindFieldByName(c.Name)
		if !ok {
			continue
		}
		if _, list := f.Type.(*iceberg.ListType); list {
			continue
		}
		values[f.ID], nulls[f.ID] = o.Rows, c.NullCount
		if !c.HasMinMax {
			continue
		}
		lo, ok1 := bound(f.Type, c.Min)
		hi, ok2 := bound(f.Type, c.Max)
		if ok1 && ok2 {
			lower[f.ID], upper[f.ID] = lo, hi
		}
	}
	b.ValueCounts(values).NullValueCounts(nulls)
	if len(lower) > 0 {
		b.LowerBoundValues(lower).UpperBoundValues(upper)
	}
	return b.Build(), nil
}

// bound is v in Iceberg's single-value binary serialisation for type t
// (little-endian numbers, micros for times, UTF-8 for strings, big-endian
// bytes for uuid); false when v has none that is safe to publish (NaN,
// invalid UTF-8, a kind that does not match t).
func bound(t iceberg.Type, v parquetio.Value) ([]byte, bool) {
	if v.IsNull() {
		return nil, false
	}
	switch t.(type) {
	case iceberg.BooleanType:
		if v.Bool() {
			return []byte{1}, true
		}
		return []byte{0}, true
	case iceberg.Int32Type, iceberg.DateType:
		return binary.LittleEndian.AppendUint32(nil, uint32(int32(v.Int64()))), true
	case iceberg.Int64Type, iceberg.TimeType, iceberg.TimestampType, iceberg.TimestampTzType:
		return binary.LittleEndian.AppendUint64(nil, uint64(v.Int64())), true
	case iceberg.Float32Type:
		f := float32(v.Float64())
		if f != f {
			return nil, false
		}
		return binary.LittleEndian.AppendUint32(nil, math.Float32bits(f)), true
	case iceberg.Float64Type:
		f := v.Float64()
		if math.IsNaN(f) {
			return nil, false
		}
		return binary.LittleEndian.AppendUint64(nil, math.Float64bits(f)), true
	case iceberg.StringType:
		if !utf8.Valid(v.Bytes()) {
			return nil, false
		}
		return append([]byte(nil), v.Bytes()...), true
	case iceberg.BinaryType:
		return append([]byte(nil), v.Bytes()...), true
	case iceberg.UUIDType:
		if len(v.Bytes()) != 16 {
			return nil, false
		}
		return append([]byte(nil), v.Bytes()...), true
	}
	return nil, false
}
