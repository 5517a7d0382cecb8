package tables

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
)

// statsJSON is how an object's ColumnStats are kept in the catalog
// (strata.objects.column_stats): bounds as Parquet statistics bytes, with
// the kind that decodes them.
type statsJSON struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"`
	Nulls int64  `json:"nulls"`
	Min   []byte `json:"min,omitempty"`
	Max   []byte `json:"max,omitempty"`
}

// kindByName maps parquetio.Kind's names back to kinds.
func kindByName(name string) (parquetio.Kind, bool) {
	for k := parquetio.KindInvalid + 1; k.String() != "invalid"; k++ {
		if k.String() == name {
			return k, true
		}
	}
	return parquetio.KindInvalid, false
}

// EncodeStats renders cols as the catalog keeps them
// (catalog.Object.ColumnStats).
func EncodeStats(cols []ColumnStats) ([]byte, error) {
	out := make([]statsJSON, len(cols))
	for i, c := range cols {
		out[i] = statsJSON{Name: c.Name, Kind: c.Min.Kind().String(), Nulls: c.NullCount}
		if c.HasMinMax {
			out[i].Min, out[i].Max = c.Min.StatBytes(), c.Max.StatBytes()
		}
	}
	return json.Marshal(out)
}

// decodeStats reads what encodeStats wrote.
func decodeStats(b []byte) ([]ColumnStats, error) {
	var in []statsJSON
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, fmt.Errorf("column statistics: %w", err)
	}
	out := make([]ColumnStats, len(in))
	for i, c := range in {
		out[i] = ColumnStats{Name: c.Name, NullCount: c.Nulls}
		k, ok := kindByName(c.Kind)
		if !ok || c.Min == nil || c.Max == nil {
			continue
		}
		mn, ok1 := parquetio.ValueFromStat(k, c.Min)
		mx, ok2 := parquetio.ValueFromStat(k, c.Max)
		out[i].Min, out[i].Max, out[i].HasMinMax = mn, mx, ok1 && ok2
	}
	return out, nil
}

// footerStats reads an object's footer (ranged reads of its end only) and
// merges its row groups' statistics into whole-file ones.
func footerStats(ctx context.Context, b storage.Backend, key, versionID string, size int64) ([]ColumnStats, error) {
	k, err := storage.ParseKey(key)
	if err != nil {
		return nil, err
	}
	r, err := parquetio.Open(storage.NewReaderAt(ctx, b, k, versionID), size)
	if err != nil {
		return nil, fmt.Errorf("footer of %s: %w", key, err)
	}
	return FileStats(r), nil
}

// FileStats merges the statistics of every row group of r into the whole
// file's, per column in the file's order.
func FileStats(r *parquetio.Reader) []ColumnStats {
	cols := r.Schema().Columns()
	out := make([]ColumnStats, len(cols))
	for i, c := range cols {
		out[i] = ColumnStats{Name: c.Name, HasMinMax: r.RowGroups() > 0}
		k, _ := r.Schema().Kind(i)
		out[i].Min, out[i].Max = parquetio.NullValue(k), parquetio.NullValue(k)
	}
	for g := 0; g < r.RowGroups(); g++ {
		gs := r.RowGroupStats(g)
		for i := range out {
			st := gs[out[i].Name]
			out[i].NullCount += st.NullCount
			if !st.HasMinMax {
				// A group of NULLs only has no bounds: the file's
				// bounds stand when the group holds no value.
				if st.NullCount < r.RowGroupRows(g) {
					out[i].HasMinMax = false
				}
				continue
			}
			if !out[i].HasMinMax {
				continue
			}
			if out[i].Min.IsNull() || less(st.Min, out[i].Min) {
				out[i].Min = st.Min.Clone()
			}
			if out[i].Max.IsNull() || less(out[i].Max, st.Max) {
				out[i].Max = st.Max.Clone()
			}
		}
	}
	for i := range out {
		if out[i].HasMinMax && out[i].Min.IsNull() {
			out[i].HasMinMax = false // no value at all
		}
	}
	return out
}

// less orders two bounds of one kind the way Parquet's statistics do.
func less(a, b parquetio.Value) bool {
	switch a.Kind() {
	case parquetio.KindFloat32, parquetio.KindFloat64:
		return a.Float64() < b.Float64()
	case parquetio.KindBool, parquetio.KindInt16, parquetio.KindInt32, parquetio.KindInt64,
		parquetio.KindDate, parquetio.KindTime, parquetio.KindTimestamp, parquetio.KindTimestamptz:
		return a.Int64() < b.Int64()
	}
	return bytes.Compare(a.Bytes(), b.Bytes()) < 0
}
