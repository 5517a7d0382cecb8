package delta_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/demo"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

// lake is one scenario: the orders pipeline (Layer 3 with a transform,
// Layer 2 kept one day) on an archive of some kind, Delta tables on.
type lake struct {
	env       *testenv.Env
	svc       *strata.Service
	transform string
	next      int64
	rng       *rand.Rand
}

func newLake(t *testing.T, kind string) *lake {
	t.Helper()
	e := testenv.New(t, testenv.Options{Storage: kind, Prefix: "lake",
		Extra:    "tables:\n  delta: on\n  checkpoint_every: 3",
		Datasets: []testenv.Dataset{{Name: "orders", Source: true, BatchMaxRows: 100, Retention: "1d", Transform: "orders.sql"}}})
	return &lake{env: e, svc: testsvc.Open(t, e, strata.Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))}), transform: filepath.Join(e.Dir, "orders.sql"),
		next: 90001, rng: rand.New(rand.NewPCG(7, 8))}
}

// ingest sends n new orders of two days ago.
func (l *lake) ingest(t *testing.T, n int) {
	t.Helper()
	var b strings.Builder
	for _, r := range demo.Records(demo.Datasets[2], l.next, n, time.Now().Add(-48*time.Hour), l.rng) {
		b.Write(r)
		b.WriteByte('\n')
	}
	l.next += int64(n)
	if _, err := l.svc.Ingest(context.Background(), "orders", strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
}

// TestDeltaTablesReadExactlyWhatRetrieveReturns follows a dataset through
// ingest, archive, late rows, replay --apply, restore and expiry, on every
// backend here. After each step both Delta tables, read by replaying their
// logs (this test's own reader) and then reading the files they list with
// DuckDB, must return exactly the rows strata retrieve returns, and list
// exactly the catalog's committed, current objects.
func TestDeltaTablesReadExactlyWhatRetrieveReturns(t *testing.T) {
	for _, kind := range testenv.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			l := newLake(t, kind)
			l.ingest(t, 250)
			l.check(t, "after ingest")
			if rep, err := l.svc.ArchiveAnalytics(ctx, "orders", archive.Options{}); err != nil || rep.Rows() == 0 {
				t.Fatalf("archive: %d rows, %v", rep.Rows(), err)
			}
			l.check(t, "after archive")

			l.ingest(t, 30) // late rows for the archived day: a second object
			if rep, err := l.svc.ArchiveAnalytics(ctx, "orders", archive.Options{}); err != nil || rep.Rows() == 0 {
				t.Fatalf("archive of late rows: %d rows, %v", rep.Rows(), err)
			}
			l.check(t, "after late rows")

			v1, err := os.ReadFile(l.transform)
			if err != nil {
				t.Fatal(err)
			}
			fixed := strings.Replace(string(v1), "lower(x.status)", "upper(x.status)", 1)
			if err := os.WriteFile(l.transform, []byte(fixed), 0o644); err != nil {
				t.Fatal(err)
			}
			rp, err := l.svc.Replay(ctx, strata.ReplayRequest{Dataset: "orders", From: time.Now().AddDate(0, 0, -7), To: time.Now().Add(time.Hour), Apply: true})
			if err != nil || rp.Applied == nil || len(rp.Applied.Objects) == 0 {
				t.Fatalf("replay --apply: %+v, %v", rp, err)
			}
			rows := l.check(t, "after replay --apply")
			if !strings.Contains(rows, "|PAID|") && !strings.Contains(rows, "|SHIPPED|") {
				t.Errorf("after replay --apply the table's rows keep the old statuses: %.300s", rows)
			}

			day := time.Now().UTC().Add(-48 * time.Hour).Truncate(24 * time.Hour)
			if _, err := l.svc.Restore(ctx, strata.RestoreRequest{Dataset: "orders", From: day, To: day.Add(24*time.Hour - time.Microsecond)}); err != nil {
				t.Fatal(err)
			}
			l.check(t, "after restore")

			if _, err := l.env.Pool.Exec(ctx, `UPDATE strata.objects SET expires_at = now() - interval '1 day'
				WHERE archive_type = 'source' AND id = (SELECT min(id) FROM strata.objects WHERE archive_type = 'source')`); err != nil {
				t.Fatal(err)
			}
			prep, err := l.svc.Purge(ctx, "orders", false)
			if err != nil || len(prep.Expiry.Expired) != 1 {
				t.Fatalf("purge: %d expired, %v; want 1", len(prep.Expiry.Expired), err)
			}
			l.check(t, "after expiry")
			l.checkCheckpoint(t)
		})
	}
}

// check compares both tables with the catalog and with retrieve; it
// returns the analytics rows as DuckDB read them (testenv.TextRow).
func (l *lake) check(t *testing.T, when string) string {
	t.Helper()
	var analytics string
	for _, typ := range []string{"analytics", "source"} {
		root := "lake/" + typ + "/orders"
		// An ingest publishes in the background: wait for it a little.
		listed, _ := replayLog(t, l.svc.Store(), root)
		want := l.committed(t, typ)
		for end := time.Now().Add(30 * time.Second); !slices.Equal(listed, want) && time.Now().Before(end); {
			time.Sleep(50 * time.Millisecond)
			listed, _ = replayLog(t, l.svc.Store(), root)
		}
		if !slices.Equal(listed, want) {
			t.Fatalf("%s: the %s table lists %v, the catalog's committed, current objects are %v", when, typ, listed, want)
		}
		cols := []string{"order_id", "status", "total", "ordered_at"}
		if typ == "source" {
			cols = []string{"raw_id", "ingested_at"}
		}
		got := l.duckRows(t, listed, cols)
		exp := testsvc.Retrieved(t, l.svc, strata.RetrieveRequest{Table: "orders", DataType: typ, Columns: cols}, nil)
		if len(got) != len(exp) || !slices.Equal(got, exp) {
			t.Fatalf("%s: the %s table's files read by DuckDB give %d rows, retrieve %d; first difference: %s",
				when, typ, len(got), len(exp), firstDiff(got, exp))
		}
		if typ == "analytics" {
			analytics = strings.Join(got, "\n")
		}
	}
	diffs, err := l.svc.TablesCheck(context.Background(), "orders")
	if err != nil || len(diffs) != 0 {
		t.Fatalf("%s: TablesCheck: %+v, %v; want no difference", when, diffs, err)
	}
	return analytics
}

func firstDiff(a, b []string) string {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return fmt.Sprintf("row %d: %s vs %s", i, a[i], b[i])
		}
	}
	return fmt.Sprintf("one has %d rows, the other %d", len(a), len(b))
}

// committed lists the keys of the catalog's committed, current objects.
func (l *lake) committed(t *testing.T, typ string) []string {
	t.Helper()
	rows, err := l.env.Pool.Query(context.Background(), `SELECT key FROM strata.objects
		WHERE archive_type = $1 AND state = 'committed' AND superseded_by IS NULL ORDER BY key`, typ)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

// duckRows reads cols of the files (copied to local files first when the
// archive is not on local disk) with DuckDB's read_parquet, as text
// (testenv.TextRows; timestamps as microseconds, as retrieve's are).
func (l *lake) duckRows(t *testing.T, keys []string, cols []string) []string {
	t.Helper()
	if len(keys) == 0 {
		return nil
	}
	var paths []string
	for _, k := range keys {
		paths = append(paths, "'"+l.localCopy(t, k)+"'")
	}
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = c + "::VARCHAR"
		if c == "ordered_at" || c == "ingested_at" {
			sel[i] = "epoch_us(" + c + ")::VARCHAR"
		}
	}
	_, rows := testenv.DuckDB(t, "SELECT "+strings.Join(sel, ", ")+" FROM read_parquet(["+strings.Join(paths, ", ")+"])")
	return testenv.TextRows(rows)
}

// localCopy is a local path of the object at key.
func (l *lake) localCopy(t *testing.T, key string) string {
	t.Helper()
	if l.env.ArchiveDir != "" {
		return filepath.Join(l.env.ArchiveDir, filepath.FromSlash(key))
	}
	k, err := storage.ParseKey(key)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.svc.Store().Get(context.Background(), k)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	path := filepath.Join(t.TempDir(), "object.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, rc); err != nil {
		t.Fatal(err)
	}
	return path
}

// replayLog is this test's own Delta reader: it replays every JSON
// commit of root/_delta_log from version 0 (commits are never removed)
// and returns the storage keys of the files the table lists, sorted, and
// the newest version. It checks each commit's shape as the protocol wants
// it: the first has protocol 1/2 and metaData partitioned by strata_day,
// every add has its size, partition value, time and stats.
func replayLog(t *testing.T, b storage.Backend, root string) ([]string, int) {
	t.Helper()
	ctx := context.Background()
	files := map[string]bool{}
	v := 0
	for ; ; v++ {
		k := storage.MustKey(append(strings.Split(root, "/"), "_delta_log", fmt.Sprintf("%020d.json", v))...)
		rc, err := b.Get(ctx, k)
		if err != nil {
			break
		}
		sc := bufio.NewScanner(rc)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var a map[string]json.RawMessage
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
			if len(a) != 1 {
				t.Fatalf("%s: a line with %d actions", k, len(a))
			}
			checkAction(t, k.String(), v, a)
			if raw, ok := a["add"]; ok {
				var add struct{ Path string }
				json.Unmarshal(raw, &add)
				files[root+"/"+add.Path] = true
			}
			if raw, ok := a["remove"]; ok {
				var rm struct{ Path string }
				json.Unmarshal(raw, &rm)
				if !files[root+"/"+rm.Path] {
					t.Fatalf("%s removes %s, which the table does not list", k, rm.Path)
				}
				delete(files, root+"/"+rm.Path)
			}
		}
		rc.Close()
	}
	keys := make([]string, 0, len(files))
	for k := range files {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys, v - 1
}

func checkAction(t *testing.T, key string, v int, a map[string]json.RawMessage) {
	t.Helper()
	if raw, ok := a["protocol"]; ok {
		var p struct{ MinReaderVersion, MinWriterVersion int }
		json.Unmarshal(raw, &p)
		if v != 0 || p.MinReaderVersion != 1 || p.MinWriterVersion != 2 {
			t.Fatalf("%s: protocol %s, want 1/2 in version 0 only", key, raw)
		}
	}
	if raw, ok := a["metaData"]; ok {
		var m struct {
			SchemaString     string
			PartitionColumns []string
			Format           struct{ Provider string }
		}
		json.Unmarshal(raw, &m)
		var schema struct {
			Type   string
			Fields []struct{ Name string }
		}
		if err := json.Unmarshal([]byte(m.SchemaString), &schema); err != nil || schema.Type != "struct" ||
			!slices.Equal(m.PartitionColumns, []string{"strata_day"}) || m.Format.Provider != "parquet" ||
			schema.Fields[len(schema.Fields)-1].Name != "strata_day" {
			t.Fatalf("%s: metaData %s", key, raw)
		}
	}
	if raw, ok := a["add"]; ok {
		var add struct {
			Path             string
			PartitionValues  map[string]string
			Size             int64
			ModificationTime int64
			DataChange       bool
			Stats            string
		}
		json.Unmarshal(raw, &add)
		var st struct {
			NumRecords int64
			NullCount  map[string]int64
		}
		json.Unmarshal([]byte(add.Stats), &st)
		day := add.PartitionValues["strata_day"]
		if add.Size <= 0 || add.ModificationTime <= 0 || !add.DataChange || st.NumRecords <= 0 || len(st.NullCount) == 0 ||
			len(day) != 10 || !strings.HasPrefix(add.Path, strings.ReplaceAll(day, "-", "/")+"/") {
			t.Fatalf("%s: add %s", key, raw)
		}
	}
}

// checkCheckpoint reads the newest checkpoint with DuckDB and checks it
// lists exactly what replaying the JSON commits up to its version lists.
func (l *lake) checkCheckpoint(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	checked := 0
	defer func() {
		if checked == 0 {
			t.Error("no table reached version 3: no checkpoint was checked")
		}
	}()
	for _, typ := range []string{"analytics", "source"} {
		root := "lake/" + typ + "/orders"
		if _, v := replayLog(t, l.svc.Store(), root); v < 3 {
			continue
		}
		checked++
		last := storage.MustKey(append(strings.Split(root, "/"), "_delta_log", "_last_checkpoint")...)
		rc, err := l.svc.Store().Get(ctx, last)
		if err != nil {
			t.Fatalf("%s: %v (checkpoint_every 3 should have made one)", last, err)
		}
		var lc struct{ Version, Size int64 }
		err = json.NewDecoder(rc).Decode(&lc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		ck := strings.Join([]string{root, "_delta_log", fmt.Sprintf("%020d.checkpoint.parquet", lc.Version)}, "/")
		_, rows := testenv.DuckDB(t, "SELECT add.path FROM read_parquet('"+l.localCopy(t, ck)+"') WHERE add IS NOT NULL ORDER BY 1")
		var got []string
		for _, r := range rows {
			got = append(got, root+"/"+r[0].(string))
		}
		_, nrows := testenv.DuckDB(t, "SELECT count(*)::VARCHAR, count(protocol)::VARCHAR, count(metaData)::VARCHAR FROM read_parquet('"+l.localCopy(t, ck)+"')")
		if fmt.Sprint(nrows[0]) != fmt.Sprintf("[%d 1 1]", lc.Size) {
			t.Errorf("checkpoint %d: rows, protocol, metaData = %v; want %d, 1, 1", lc.Version, nrows[0], lc.Size)
		}
		want, _ := testenv.DeltaListed(t, l.svc.Store(), root, int(lc.Version))
		if !slices.Equal(got, want) {
			t.Errorf("checkpoint %d of %s lists %v, the commits up to it %v", lc.Version, typ, got, want)
		}
	}
}

// TestWithDeltaOffNothingIsPublishedAndTheArchiveStillRecordsStatistics:
// tables.delta (and tables.iceberg) off writes no log; the analytics archive records each
// object's column statistics at its commit all the same, so that a later
// tables rebuild reads no object again.
func TestWithDeltaOffNothingIsPublishedAndTheArchiveStillRecordsStatistics(t *testing.T) {
	ctx := context.Background()
	e := testenv.New(t, testenv.Options{Prefix: "lake", Extra: "tables:\n  delta: off\n  iceberg: off",
		Datasets: []testenv.Dataset{{Name: "orders", Days: 100, PerDay: 20}}})
	svc := testsvc.Open(t, e, strata.Options{})
	if rep, err := svc.ArchiveAnalytics(ctx, "orders", archive.Options{}); err != nil || rep.Rows() == 0 {
		t.Fatalf("archive: %d rows, %v", rep.Rows(), err)
	}
	if _, err := os.Stat(filepath.Join(e.ArchiveDir, "lake", "analytics", "orders", "_delta_log")); !os.IsNotExist(err) {
		t.Errorf("tables.delta off, yet the log is there (%v)", err)
	}
	var objects, withStats int64
	if err := e.Pool.QueryRow(ctx, `SELECT count(*), count(column_stats) FROM strata.objects WHERE archive_type = 'analytics'`).Scan(&objects, &withStats); err != nil {
		t.Fatal(err)
	}
	if objects == 0 || withStats != objects {
		t.Errorf("%d of %d analytics objects have column statistics recorded at their commit", withStats, objects)
	}
	if _, err := svc.TablesRebuild(ctx, "orders"); !errors.Is(err, strata.ErrInvalid) {
		t.Errorf("tables rebuild with every format off: %v, want ErrInvalid", err)
	}
}

// TestAColumnAddedInPostgreSQLBecomesDeltaSchemaEvolution: objects
// archived after ALTER TABLE ... ADD COLUMN have the column; the table's
// newest metaData lists it last (before the partition column), with the
// same table id, and DuckDB reading the listed files by name returns the
// rows and the column's values strata retrieve returns.
func TestAColumnAddedInPostgreSQLBecomesDeltaSchemaEvolution(t *testing.T) {
	ctx := context.Background()
	e := testenv.New(t, testenv.Options{Prefix: "lake", Datasets: []testenv.Dataset{{Name: "orders", Days: 100, PerDay: 20, Retention: "95d"}}})
	svc := testsvc.Open(t, e, strata.Options{})
	if rep, err := svc.ArchiveAnalytics(ctx, "orders", archive.Options{}); err != nil || rep.Rows() == 0 {
		t.Fatalf("first archive: %d rows, %v", rep.Rows(), err)
	}
	if _, err := e.Pool.Exec(ctx, `ALTER TABLE orders ADD COLUMN channel text DEFAULT 'web'`); err != nil {
		t.Fatal(err)
	}
	cfg := e.Config()
	cfg.Datasets[0].Analytics.Retention = config.DurationOf(90 * config.Day)
	later := testsvc.Open(t, e, strata.Options{Config: cfg})
	if rep, err := later.ArchiveAnalytics(ctx, "orders", archive.Options{}); err != nil || rep.Rows() == 0 {
		t.Fatalf("archive after the new column: %d rows, %v", rep.Rows(), err)
	}
	l := &lake{env: e, svc: later}
	listed, version := replayLog(t, later.Store(), "lake/analytics/orders")
	if version != 1 {
		t.Fatalf("%d versions, want 2 (the first archive, the one with the new column)", version+1)
	}
	acts, err := readLogLines(later.Store(), "lake/analytics/orders", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(acts, `\"name\":\"channel\"`) || !strings.Contains(acts, `"metaData"`) {
		t.Fatalf("version 1 has no metaData with the new column:\n%s", acts)
	}
	paths := make([]string, len(listed))
	for i, k := range listed {
		paths[i] = "'" + l.localCopy(t, k) + "'"
	}
	_, rows := testenv.DuckDB(t, "SELECT count(*)::VARCHAR, count(channel)::VARCHAR FROM read_parquet(["+strings.Join(paths, ", ")+"], union_by_name = true)")
	got := testsvc.Retrieved(t, later, strata.RetrieveRequest{Table: "orders", Columns: []string{"order_id", "channel"}}, nil)
	withChannel := 0
	for _, r := range got {
		if strings.HasSuffix(r, "|web") {
			withChannel++
		}
	}
	if fmt.Sprint(rows[0]) != fmt.Sprintf("[%d %d]", len(got), withChannel) || withChannel == 0 || withChannel == len(got) {
		t.Errorf("DuckDB over the table's files: rows, channel values = %v; retrieve: %d rows, %d with channel", rows[0], len(got), withChannel)
	}
}

// readLogLines returns the text of version v of root's log.
func readLogLines(b storage.Backend, root string, v int) (string, error) {
	rc, err := b.Get(context.Background(), storage.MustKey(append(strings.Split(root, "/"), "_delta_log", fmt.Sprintf("%020d.json", v))...))
	if err != nil {
		return "", err
	}
	defer rc.Close()
	body, err := io.ReadAll(rc)
	return string(body), err
}
