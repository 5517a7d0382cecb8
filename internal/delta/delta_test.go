package delta

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/local"
	"github.com/stratahq/strata/internal/tables"
)

func openLocal(t testing.TB) storage.Backend {
	t.Helper()
	b, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

var (
	colID   = parquetio.Column{Name: "id", TypeOID: 20, TypeName: "bigint", NotNull: true}
	colAt   = parquetio.Column{Name: "at", TypeOID: 1184, TypeName: "timestamp with time zone"}
	colNote = parquetio.Column{Name: "note", TypeOID: 25, TypeName: "text"}
)

func testTable(cols []parquetio.Column, ids ...int64) tables.Table {
	t := tables.Table{Dataset: "d", Type: "analytics", Root: "p/analytics/d", TimeColumn: "at", Columns: cols}
	for _, id := range ids {
		day := time.Date(2024, 1, int(id), 0, 0, 0, 0, time.UTC)
		path := day.Format("2006/01/02") + "/chunk_" + string(rune('0'+id)) + ".parquet"
		t.Objects = append(t.Objects, tables.Object{ID: id, Key: t.Root + "/" + path, Path: path, Day: day,
			Rows: 10, Bytes: 1000, Committed: day.Add(25 * time.Hour)})
	}
	return t
}

func listed(t *testing.T, f *Format) []string {
	t.Helper()
	keys, err := f.Listed(context.Background(), "d", "analytics")
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func versions(t *testing.T, b storage.Backend) []string {
	t.Helper()
	var out []string
	b.List(context.Background(), storage.MustKey("p", "analytics", "d", "_delta_log"), func(oi storage.ObjectInfo) error {
		out = append(out, oi.Key.Segments()[4])
		return nil
	})
	return out
}

func TestPublishWritesOnlyWhatChangedAndNothingWhenNothingDid(t *testing.T) {
	ctx := context.Background()
	b := openLocal(t)
	f := New(b, Options{Prefix: storage.MustKey("p"), CheckpointEvery: 100})
	for i, tc := range []struct {
		tbl     tables.Table
		commits int
	}{
		{testTable([]parquetio.Column{colID, colAt}, 1, 2), 1},
		{testTable([]parquetio.Column{colID, colAt}, 1, 2), 1},          // the same: nothing
		{testTable([]parquetio.Column{colID, colAt}, 2, 3), 2},          // supersede: one commit, remove + add
		{testTable([]parquetio.Column{colID, colAt, colNote}, 2, 3), 3}, // a column added: metaData
	} {
		if _, err := f.Publish(ctx, tc.tbl); err != nil {
			t.Fatal(err)
		}
		if got := len(versions(t, b)); got != tc.commits {
			t.Fatalf("step %d: %d log entries %v, want %d", i, got, versions(t, b), tc.commits)
		}
	}
	s, err := readSnapshot(ctx, b, storage.MustKey("p", "analytics", "d"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s.Meta.SchemaString, `"note"`) || s.Meta.ID != tableID("p/analytics/d") {
		t.Errorf("after the column was added: metaData %+v", s.Meta)
	}
	acts, err := readCommit(ctx, b, storage.MustKey("p", "analytics", "d", "_delta_log", versionName(1)+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var adds, removes int
	for _, a := range acts {
		if a.Add != nil {
			adds++
		}
		if a.Remove != nil {
			removes++
			if a.Remove.Path != "2024/01/01/chunk_1.parquet" {
				t.Errorf("removed %s, want chunk_1", a.Remove.Path)
			}
		}
	}
	if adds != 1 || removes != 1 {
		t.Errorf("the supersede commit has %d adds and %d removes, want 1 and 1", adds, removes)
	}
}

// racer writes a competing version 1 just before Publish writes its own.
type racer struct {
	storage.Backend
	raced bool
}

func (r *racer) Put(ctx context.Context, key storage.Key, body io.Reader, opts storage.PutOptions) (storage.ObjectInfo, error) {
	if !r.raced && strings.HasSuffix(key.String(), versionName(1)+".json") {
		r.raced = true
		line := []byte(`{"add":{"path":"2024/01/09/chunk_9.parquet","partitionValues":{"strata_day":"2024-01-09"},"size":5,"modificationTime":1,"dataChange":true}}` + "\n")
		sum := sha256.Sum256(line)
		if _, err := r.Backend.Put(ctx, key, bytes.NewReader(line), storage.PutOptions{Size: int64(len(line)), SHA256: hex.EncodeToString(sum[:])}); err != nil {
			return storage.ObjectInfo{}, err
		}
	}
	return r.Backend.Put(ctx, key, body, opts)
}

func TestAVersionWrittenByAnotherWriterFirstIsReadAndTheCommitRecomputed(t *testing.T) {
	ctx := context.Background()
	b := &racer{Backend: openLocal(t)}
	f := New(b, Options{Prefix: storage.MustKey("p")})
	if _, err := f.Publish(ctx, testTable([]parquetio.Column{colID, colAt}, 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Publish(ctx, testTable([]parquetio.Column{colID, colAt}, 1, 2)); err != nil {
		t.Fatal(err)
	}
	if !b.raced {
		t.Fatal("the race was not run")
	}
	got := listed(t, f)
	want := []string{"p/analytics/d/2024/01/01/chunk_1.parquet", "p/analytics/d/2024/01/02/chunk_2.parquet"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("after losing version 1: the table lists %v, want %v (the other writer's file removed)", got, want)
	}
	if n := len(versions(t, b)); n != 3 {
		t.Fatalf("%d log entries, want 3 (ours, theirs, ours again)", n)
	}
}

func TestACheckpointEveryNVersionsHoldsTheWholeStateAndIsReadBack(t *testing.T) {
	ctx := context.Background()
	b := openLocal(t)
	f := New(b, Options{Prefix: storage.MustKey("p"), CheckpointEvery: 2})
	for n := int64(1); n <= 5; n++ {
		ids := []int64{}
		for i := int64(1); i <= n; i++ {
			ids = append(ids, i)
		}
		if _, err := f.Publish(ctx, testTable([]parquetio.Column{colID, colAt}, ids[1:]...)); err != nil {
			t.Fatal(err)
		}
	}
	rc, err := b.Get(ctx, storage.MustKey("p", "analytics", "d", "_delta_log", "_last_checkpoint"))
	if err != nil {
		t.Fatal(err)
	}
	var lc lastCheckpoint
	json.NewDecoder(rc).Decode(&lc)
	rc.Close()
	if lc.Version != 4 {
		t.Fatalf("_last_checkpoint %+v, want version 4", lc)
	}
	s := &snapshot{Files: map[string]*addAction{}, Removed: map[string]*removeAction{}}
	if err := readCheckpoint(ctx, b, storage.MustKey("p", "analytics", "d", "_delta_log", versionName(4)+".checkpoint.parquet"), s); err != nil {
		t.Fatal(err)
	}
	if len(s.Files) != 4 || s.Protocol.MinWriterVersion != 2 || s.Meta.PartitionColumns[0] != PartitionColumn {
		t.Fatalf("checkpoint 4: %d files, protocol %+v, meta %+v; want 4 files", len(s.Files), s.Protocol, s.Meta)
	}
	if int64(2+len(s.Files)+len(s.Removed)) != lc.Size {
		t.Errorf("_last_checkpoint size %d, checkpoint rows %d", lc.Size, 2+len(s.Files)+len(s.Removed))
	}
}

func TestStatisticsBoundsNeverExcludeARow(t *testing.T) {
	at := time.Date(2024, 1, 1, 10, 0, 0, 123456000, time.UTC)
	ts := func(tm time.Time) parquetio.Value {
		v, _ := parquetio.ValueFromStat(parquetio.KindTimestamptz, binaryLE(tm.UnixMicro()))
		return v
	}
	text := func(s string) parquetio.Value {
		v, _ := parquetio.ValueFromStat(parquetio.KindText, []byte(s))
		return v
	}
	long := strings.Repeat("é", 40)
	o := tables.Object{Rows: 3, Columns: []tables.ColumnStats{
		{Name: "at", NullCount: 1, HasMinMax: true, Min: ts(at), Max: ts(at.Add(time.Microsecond))},
		{Name: "note", HasMinMax: true, Min: text(long), Max: text(long)},
		{Name: "tags", NullCount: 2},
	}}
	s, err := statsJSON(o, map[string]bool{"tags": true})
	if err != nil {
		t.Fatal(err)
	}
	var st fileStats
	json.Unmarshal([]byte(s), &st)
	if st.MinValues["at"] != "2024-01-01T10:00:00.123Z" || st.MaxValues["at"] != "2024-01-01T10:00:00.124Z" {
		t.Errorf("timestamp bounds %v / %v: the minimum cut down, the maximum rounded up to the millisecond", st.MinValues["at"], st.MaxValues["at"])
	}
	if st.MinValues["note"] != strings.Repeat("é", 32) || st.MaxValues["note"] != nil {
		t.Errorf("long text bounds %v / %v: a 32-character minimum, no maximum", st.MinValues["note"], st.MaxValues["note"])
	}
	if _, ok := st.NullCount["tags"]; ok || st.NullCount["at"] != float64(1) || st.NumRecords != 3 {
		t.Errorf("stats %s: arrays have no null count, the others theirs", s)
	}
}

func binaryLE(v int64) []byte {
	b := make([]byte, 8)
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
	return b
}

func TestColumnNamesDeltaCannotTakeAreRefusedWithAReason(t *testing.T) {
	for _, cols := range [][]parquetio.Column{
		{colID, {Name: "ID", TypeOID: 20, TypeName: "bigint"}},
		{colID, {Name: "strata_day", TypeOID: 1082, TypeName: "date"}},
		{colID, {Name: "unit price", TypeOID: 25, TypeName: "text"}},
	} {
		if _, err := schemaString(cols); err == nil || !strings.Contains(err.Error(), cols[1].Name) {
			t.Errorf("columns %s, %s: %v, want an error naming the second", cols[0].Name, cols[1].Name, err)
		}
	}
	if _, err := schemaString([]parquetio.Column{colID, colAt, colNote}); err != nil {
		t.Errorf("plain names: %v", err)
	}
}
