package delta

import (
	"encoding/json"
	"math"
	"time"
	"unicode/utf8"

	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/tables"
)

// stringPrefix is how many characters of a string bound the stats keep,
// as Delta's own writer does.
const stringPrefix = 32

// fileStats is the stats of an add action.
type fileStats struct {
	NumRecords int64          `json:"numRecords"`
	MinValues  map[string]any `json:"minValues"`
	MaxValues  map[string]any `json:"maxValues"`
	NullCount  map[string]any `json:"nullCount"`
}

// statsJSON renders an object's statistics. Every bound is safe for data
// skipping: a minimum never above the file's smallest value, a maximum
// never below its largest (timestamps are cut to milliseconds, so a
// maximum is rounded up; a string maximum longer than the prefix is left
// out). Columns whose Delta type has no order that matches the file's
// (binary, uuid, time, numeric and json as strings, arrays) have no bounds;
// arrays have no null count (parquetio counts empty arrays and NULL
// elements with it).
func statsJSON(o tables.Object, arrays map[string]bool) (string, error) {
	st := fileStats{NumRecords: o.Rows, MinValues: map[string]any{}, MaxValues: map[string]any{}, NullCount: map[string]any{}}
	for _, c := range o.Columns {
		if arrays[c.Name] {
			continue
		}
		st.NullCount[c.Name] = c.NullCount
		if !c.HasMinMax {
			continue
		}
		if v, ok := bound(c.Min, false); ok {
			st.MinValues[c.Name] = v
		}
		if v, ok := bound(c.Max, true); ok {
			st.MaxValues[c.Name] = v
		}
	}
	b, err := json.Marshal(st)
	return string(b), err
}

// bound is v as a JSON statistics value; upper says it is a maximum.
func bound(v parquetio.Value, upper bool) (any, bool) {
	if v.IsNull() || v.IsArray() {
		return nil, false
	}
	switch v.Kind() {
	case parquetio.KindInt16, parquetio.KindInt32, parquetio.KindInt64:
		return v.Int64(), true
	case parquetio.KindFloat32, parquetio.KindFloat64:
		f := v.Float64()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, false
		}
		return f, true
	case parquetio.KindDate:
		t, ok := v.Time()
		if !ok {
			return nil, false
		}
		return t.Format("2006-01-02"), true
	case parquetio.KindTimestamp, parquetio.KindTimestamptz:
		t, ok := v.Time()
		if !ok {
			return nil, false
		}
		ms := t.Truncate(time.Millisecond)
		if upper && !ms.Equal(t) {
			ms = ms.Add(time.Millisecond)
		}
		return ms.Format("2006-01-02T15:04:05.000Z07:00"), true
	case parquetio.KindText, parquetio.KindEnum:
		b := v.Bytes()
		if !utf8.Valid(b) {
			return nil, false
		}
		s := string(b)
		if utf8.RuneCountInString(s) <= stringPrefix {
			return s, true
		}
		if upper {
			return nil, false
		}
		r := []rune(s)
		return string(r[:stringPrefix]), true
	}
	return nil, false
}
