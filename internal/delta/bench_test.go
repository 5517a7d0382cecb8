package delta

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/tables"
)

// benchTable is a table of n objects (one a day) with statistics for
// three columns, as seven years of daily archives would be.
func benchTable(n int) tables.Table {
	t := tables.Table{Dataset: "d", Type: "analytics", Root: "p/analytics/d", TimeColumn: "at",
		Columns: []parquetio.Column{colID, colAt, colNote}}
	start := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		day := start.AddDate(0, 0, i)
		path := fmt.Sprintf("%s/chunk_%d.parquet", day.Format("2006/01/02"), i+1)
		idMin, _ := parquetio.ValueFromStat(parquetio.KindInt64, binaryLE(int64(i*1000)))
		idMax, _ := parquetio.ValueFromStat(parquetio.KindInt64, binaryLE(int64(i*1000+999)))
		atMin, _ := parquetio.ValueFromStat(parquetio.KindTimestamptz, binaryLE(day.UnixMicro()))
		atMax, _ := parquetio.ValueFromStat(parquetio.KindTimestamptz, binaryLE(day.Add(24*time.Hour-time.Microsecond).UnixMicro()))
		t.Objects = append(t.Objects, tables.Object{ID: int64(i + 1), Key: t.Root + "/" + path, Path: path, Day: day,
			Rows: 1000, Bytes: 40000, Committed: day.Add(91 * 24 * time.Hour), Columns: []tables.ColumnStats{
				{Name: "id", HasMinMax: true, Min: idMin, Max: idMax},
				{Name: "at", HasMinMax: true, Min: atMin, Max: atMax},
				{Name: "note", NullCount: 1000},
			}})
	}
	return t
}

// BenchmarkPublishWithNothingToDo is the publish every archive run starts
// with, and every commit ends with, when the table is already current: read
// the newest checkpoint and the commits after it, and find no difference.
// 2,555 objects (seven years of days), the newest checkpoint 5 versions
// back, on local disk.
func BenchmarkPublishWithNothingToDo(b *testing.B) {
	ctx := context.Background()
	store := openLocal(b)
	f := New(store, Options{Prefix: storage.MustKey("p"), CheckpointEvery: 10})
	t := benchTable(2555)
	for v := 15; v >= 1; v-- { // 15 versions: the table grows to its full size
		if _, err := f.Publish(ctx, tables.Table{Dataset: t.Dataset, Type: t.Type, Root: t.Root, Columns: t.Columns,
			Objects: t.Objects[:len(t.Objects)-v]}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := f.Publish(ctx, t); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := f.Publish(ctx, t); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishOneNewObject is the publish after an archive run that
// committed one day: the same read, then one commit with one add.
func BenchmarkPublishOneNewObject(b *testing.B) {
	ctx := context.Background()
	store := openLocal(b)
	f := New(store, Options{Prefix: storage.MustKey("p"), CheckpointEvery: 10})
	t := benchTable(2555 + b.N)
	n := 2555
	if _, err := f.Publish(ctx, tables.Table{Dataset: t.Dataset, Type: t.Type, Root: t.Root, Columns: t.Columns, Objects: t.Objects[:n]}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		n++
		if _, err := f.Publish(ctx, tables.Table{Dataset: t.Dataset, Type: t.Type, Root: t.Root, Columns: t.Columns, Objects: t.Objects[:n]}); err != nil {
			b.Fatal(err)
		}
	}
}
