package tables_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/delta"
	"github.com/stratahq/strata/internal/iceberg"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/tables"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

// benchArchive is a dataset of daily objects in the catalog (their
// statistics recorded, as the archive records them), published as Delta
// and Iceberg tables on local disk. The objects' files are never read by
// a publish, so none are written.
type benchArchive struct {
	svc  *strata.Service
	pub  *tables.Publisher
	days int
	cat  *catalog.Catalog
}

var (
	benchCols   = []parquetio.Column{{Name: "id", TypeOID: 20, TypeName: "bigint", NotNull: true}, {Name: "at", TypeOID: 1184, TypeName: "timestamp with time zone"}, {Name: "note", TypeOID: 25, TypeName: "text"}}
	benchSchema []byte
	benchStart  = time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC)
)

func init() {
	benchSchema, _ = json.Marshal(map[string]any{"columns": benchCols})
}

func newBenchArchive(b *testing.B, days int) *benchArchive {
	b.Helper()
	env := testenv.New(b, testenv.Options{Storage: testenv.Local, Prefix: "p", Extra: "tables:\n  delta: off\n  iceberg: off",
		Datasets: []testenv.Dataset{{Name: "orders"}}})
	svc := testsvc.Open(b, env, strata.Options{})
	ice, err := iceberg.New(iceberg.Options{Pool: svc.Pool(), Store: svc.Store(), StorageURL: svc.Config().Storage.URL})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ice.Close() })
	prefix := storage.MustKey("p")
	a := &benchArchive{svc: svc, cat: svc.Catalog(), pub: &tables.Publisher{Pool: svc.Pool(), Catalog: svc.Catalog(),
		Storage: svc.Store(), Prefix: prefix,
		Formats: []tables.Format{delta.New(svc.Store(), delta.Options{Prefix: prefix}), ice},
		Specs: func(string) []tables.Spec {
			return []tables.Spec{{Dataset: "bench", Type: "analytics", TimeColumn: "at"}}
		}}}
	a.commit(b, days)
	if err := a.pub.Rebuild(context.Background(), "bench"); err != nil {
		b.Fatal(err)
	}
	return a
}

// commit commits the next n days' objects, one a day, in one transaction.
func (a *benchArchive) commit(b *testing.B, n int) {
	b.Helper()
	ctx := context.Background()
	err := pgx.BeginTxFunc(ctx, a.svc.Pool(), pgx.TxOptions{}, func(tx pgx.Tx) error {
		for range n {
			day := benchStart.AddDate(0, 0, a.days)
			a.days++
			id, err := a.cat.NextID(ctx)
			if err != nil {
				return err
			}
			idMin, _ := parquetio.ValueFromStat(parquetio.KindInt64, le(id*1000))
			idMax, _ := parquetio.ValueFromStat(parquetio.KindInt64, le(id*1000+999))
			atMin, _ := parquetio.ValueFromStat(parquetio.KindTimestamptz, le(day.UnixMicro()))
			atMax, _ := parquetio.ValueFromStat(parquetio.KindTimestamptz, le(day.Add(24*time.Hour-time.Microsecond).UnixMicro()))
			stats, err := tables.EncodeStats([]tables.ColumnStats{{Name: "id", HasMinMax: true, Min: idMin, Max: idMax},
				{Name: "at", HasMinMax: true, Min: atMin, Max: atMax}, {Name: "note", NullCount: 1000}})
			if err != nil {
				return err
			}
			min, max := day, day.Add(24*time.Hour-time.Microsecond)
			o := &catalog.Object{ID: id, Dataset: "bench", Type: "analytics", Day: day, SourceTable: "bench",
				Key:  fmt.Sprintf("p/analytics/bench/%s/chunk_%d.parquet", day.Format("2006/01/02"), id),
				Rows: 1000, Bytes: 40000, SHA256: strings.Repeat("ab", 32), MinTime: &min, MaxTime: &max,
				SchemaFingerprint: "bench", Schema: benchSchema, ColumnStats: stats}
			if err := catalog.Commit(ctx, tx, o); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

func le(v int64) []byte {
	out := make([]byte, 8)
	for i := range out {
		out[i] = byte(v >> (8 * i))
	}
	return out
}

// BenchmarkPublishOneNewDay is the publish after an archive run that
// committed one day's object, both formats on (Delta, checkpoints every
// 10 versions, and Iceberg), against archives of 100 and 2,500 days'
// objects. "whole" is the publish before incremental publishing (what
// tables rebuild still does): every object and its statistics loaded,
// the Delta log replayed from its checkpoint, the Iceberg manifests read.
// "changes" is the publish now: the changed objects only. Each iteration
// commits the day's object outside the timer, then publishes.
func BenchmarkPublishOneNewDay(b *testing.B) {
	for _, days := range []int{100, 2500} {
		for _, mode := range []string{"whole", "changes"} {
			b.Run(fmt.Sprintf("objects=%d/publish=%s", days, mode), func(b *testing.B) {
				a := newBenchArchive(b, days)
				ctx := context.Background()
				publish := a.pub.Publish
				if mode == "whole" {
					publish = a.pub.Rebuild
				}
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					a.commit(b, 1)
					b.StartTimer()
					if err := publish(ctx, "bench"); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
