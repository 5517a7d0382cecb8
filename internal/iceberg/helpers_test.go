package iceberg_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/iceberg-go/table"
	"github.com/google/uuid"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/tables"
	"github.com/stratahq/strata/internal/testenv"
)

// loadTable builds what the table of dataset and typ must list from the
// catalog (committed, current objects) and the objects' footers (their
// statistics, every row group merged).
func loadTable(t *testing.T, svc *strata.Service, dataset, typ, timeColumn string, version int64) tables.Table {
	t.Helper()
	ctx := context.Background()
	rows, err := svc.Pool().Query(ctx, `SELECT id, key, day, rows, bytes, coalesce(committed_at, created_at)
		FROM strata.objects WHERE dataset = $1 AND archive_type = $2 AND state = 'committed' AND superseded_by IS NULL
		ORDER BY day, id`, dataset, typ)
	if err != nil {
		t.Fatal(err)
	}
	tb := tables.Table{Dataset: dataset, Type: typ, TimeColumn: timeColumn, Version: version}
	for rows.Next() {
		var o tables.Object
		if err := rows.Scan(&o.ID, &o.Key, &o.Day, &o.Rows, &o.Bytes, &o.Committed); err != nil {
			t.Fatal(err)
		}
		o.Day = o.Day.UTC()
		tb.Objects = append(tb.Objects, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for i := range tb.Objects {
		o := &tb.Objects[i]
		segs := strings.Split(o.Key, "/")
		root, path := strings.Join(segs[:len(segs)-4], "/"), strings.Join(segs[len(segs)-4:], "/")
		if tb.Root != "" && tb.Root != root {
			t.Fatalf("object %s outside the table's root %s", o.Key, tb.Root)
		}
		tb.Root, o.Path = root, path
		var cols []parquetio.Column
		cols, o.Columns = footerStats(t, svc.Store(), o.Key, o.Bytes)
		for _, c := range cols {
			if !slices.ContainsFunc(tb.Columns, func(d parquetio.Column) bool { return d.Name == c.Name }) {
				tb.Columns = append(tb.Columns, c)
			}
		}
	}
	if tb.Root == "" {
		tb.Root = "analytics_root_unused" // no objects: the root is not used
	}
	return tb
}

func footerStats(t *testing.T, store storage.Backend, key string, size int64) ([]parquetio.Column, []tables.ColumnStats) {
	t.Helper()
	k, err := storage.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	r, err := parquetio.Open(storage.NewReaderAt(context.Background(), store, k, ""), size)
	if err != nil {
		t.Fatalf("open %s: %v", key, err)
	}
	cols := r.Schema().Columns()
	out := make([]tables.ColumnStats, len(cols))
	for i, c := range cols {
		out[i] = tables.ColumnStats{Name: c.Name, HasMinMax: true}
		kind, _ := r.Schema().Kind(i)
		for g := 0; g < r.RowGroups(); g++ {
			st := r.RowGroupStats(g)[c.Name]
			out[i].NullCount += st.NullCount
			switch {
			case !st.HasMinMax:
				out[i].HasMinMax = false
			case g == 0:
				out[i].Min, out[i].Max = st.Min, st.Max
			default:
				if less(kind, st.Min, out[i].Min) {
					out[i].Min = st.Min
				}
				if less(kind, out[i].Max, st.Max) {
					out[i].Max = st.Max
				}
			}
		}
		if !out[i].HasMinMax {
			out[i].Min, out[i].Max = parquetio.Value{}, parquetio.Value{}
		}
	}
	return cols, out
}

func less(k parquetio.Kind, a, b parquetio.Value) bool {
	switch k {
	case parquetio.KindFloat32, parquetio.KindFloat64:
		return a.Float64() < b.Float64()
	case parquetio.KindText, parquetio.KindEnum, parquetio.KindBytea, parquetio.KindUUID:
		return bytes.Compare(a.Bytes(), b.Bytes()) < 0
	}
	return a.Int64() < b.Int64()
}

// The rows are compared as text, one line per row (testenv.TextRow):
// iceberg-go's scan, DuckDB's read_parquet and strata retrieve
// (testsvc.Retrieved) rendered alike.

// scanned is what iceberg-go's own scan reads from the table.
func scanned(t *testing.T, tbl *table.Table, cols []string) []string {
	t.Helper()
	at, err := tbl.Scan(table.WithSelectedFields(cols...)).ToArrowTable(context.Background())
	if err != nil {
		t.Fatalf("iceberg-go scan: %v", err)
	}
	defer at.Release()
	tr := array.NewTableReader(at, 1024)
	defer tr.Release()
	var out []string
	for tr.Next() {
		rec := tr.RecordBatch()
		idx := make([]int, len(cols))
		for i, c := range cols {
			ix := rec.Schema().FieldIndices(c)
			if len(ix) != 1 {
				t.Fatalf("scan has no column %s: %s", c, rec.Schema())
			}
			idx[i] = ix[0]
		}
		for r := 0; r < int(rec.NumRows()); r++ {
			f := make([]string, len(cols))
			for i, j := range idx {
				f[i] = arrowText(rec.Column(j), r)
			}
			out = append(out, strings.Join(f, "|"))
		}
	}
	if err := tr.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func arrowText(a arrow.Array, i int) string {
	if a.IsNull(i) {
		return "NULL"
	}
	switch a := a.(type) {
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		return strconv.FormatInt(a.Value(i).ToTime(unit).UnixMicro(), 10)
	case *array.Date32:
		return a.Value(i).ToTime().Format(time.DateOnly)
	case *array.Time64:
		return a.Value(i).ToTime(a.DataType().(*arrow.Time64Type).Unit).Format(time.TimeOnly)
	case *array.Float64:
		return strconv.FormatFloat(a.Value(i), 'g', -1, 64)
	case *array.Float32:
		return strconv.FormatFloat(float64(a.Value(i)), 'g', -1, 64)
	case *array.Binary:
		return hex.EncodeToString(a.Value(i))
	case *array.FixedSizeBinary:
		if b := a.Value(i); len(b) == 16 {
			return uuid.UUID(b).String()
		}
	case array.ListLike:
		start, end := a.ValueOffsets(i)
		f := make([]string, 0, end-start)
		for j := start; j < end; j++ {
			f = append(f, arrowText(a.ListValues(), int(j)))
		}
		return "[" + strings.Join(f, ",") + "]"
	}
	return a.ValueStr(i)
}

// duckdbRows reads files (local paths) with DuckDB's read_parquet;
// exprs render a column as the other readers do.
func duckdbRows(t *testing.T, files []string, cols []string, exprs map[string]string) []string {
	t.Helper()
	if len(files) == 0 {
		return nil
	}
	quoted := make([]string, len(files))
	for i, f := range files {
		quoted[i] = "'" + strings.ReplaceAll(f, "'", "''") + "'"
	}
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = fmt.Sprintf("%q", c)
		if e, ok := exprs[c]; ok {
			sel[i] = e + " AS " + fmt.Sprintf("%q", c)
		}
	}
	_, res := testenv.DuckDB(t, "SELECT "+strings.Join(sel, ", ")+" FROM read_parquet(["+strings.Join(quoted, ", ")+"], union_by_name = true)")
	return testenv.TextRows(res)
}

// localCopies returns local paths of the objects at keys: the files
// themselves on a local archive, copies fetched from the store otherwise.
func localCopies(t *testing.T, store storage.Backend, archiveDir string, keys []string) []string {
	t.Helper()
	out := make([]string, len(keys))
	for i, key := range keys {
		if archiveDir != "" {
			out[i] = filepath.Join(archiveDir, filepath.FromSlash(key))
			continue
		}
		k, err := storage.ParseKey(key)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := store.Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = filepath.Join(t.TempDir(), fmt.Sprintf("%d.parquet", i))
		if err := os.WriteFile(out[i], b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

func diff(a, b []string) string {
	if slices.Equal(a, b) {
		return ""
	}
	var s strings.Builder
	fmt.Fprintf(&s, "%d rows vs %d rows", len(a), len(b))
	for i := 0; i < max(len(a), len(b)) && i < 5; i++ {
		var x, y string
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			fmt.Fprintf(&s, "\n  %q\n  %q", x, y)
		}
	}
	return s.String()
}
