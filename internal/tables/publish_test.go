package tables_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	ice "github.com/apache/iceberg-go"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	"github.com/apache/iceberg-go/table"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/delta"
	"github.com/stratahq/strata/internal/iceberg"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/tables"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

// call is one Format.Publish a recorder saw.
type call struct {
	format      string
	incremental bool
	stale       bool
}

// recorder is a Format that notes each publish of the one it wraps.
type recorder struct {
	tables.Format
	calls *[]call
}

func (r recorder) Publish(ctx context.Context, t tables.Table) (string, error) {
	st, err := r.Format.Publish(ctx, t)
	*r.calls = append(*r.calls, call{format: r.Name(), incremental: t.Incremental, stale: errors.Is(err, tables.ErrStale)})
	return st, err
}

// world is the orders dataset (Layer 3, Layer 2, the example transform, a
// subject for erasure) on the local archive, the Service's own publishing
// off, and a Publisher of the test's own with both formats, whose every
// publish the test asks for.
type world struct {
	env   *testenv.Env
	svc   *strata.Service
	pub   *tables.Publisher
	calls []call
	now   time.Time
	store storage.Backend
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env := testenv.New(t, testenv.Options{Storage: testenv.Local, Prefix: "lake",
		Extra: "erasure:\n  key_file: erasure.key\ntables:\n  delta: off\n  iceberg: off",
		Datasets: []testenv.Dataset{{Name: "orders", Source: true, Transform: "orders.sql", Retention: "2d",
			Extra: "subject:\n  columns: [customer_id]\n  source_path: customer_id"}}})
	w := &world{env: env, svc: testsvc.Open(t, env, strata.Options{}), now: time.Now().UTC()}
	w.store = w.svc.Store()
	ice, err := iceberg.New(iceberg.Options{Pool: w.svc.Pool(), Store: w.store, StorageURL: w.svc.Config().Storage.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ice.Close() })
	prefix := storage.MustKey("lake")
	ds, _ := w.svc.Config().Dataset("orders")
	w.pub = &tables.Publisher{Pool: w.svc.Pool(), Catalog: w.svc.Catalog(), Storage: w.store, Prefix: prefix,
		Formats: []tables.Format{
			recorder{delta.New(w.store, delta.Options{Prefix: prefix, CheckpointEvery: 3}), &w.calls},
			recorder{ice, &w.calls},
		},
		Specs: func(string) []tables.Spec {
			return []tables.Spec{{Dataset: "orders", Type: "analytics", TimeColumn: ds.Analytics.TimeColumn},
				{Dataset: "orders", Type: "source", TimeColumn: ds.Source.TimeColumn}}
		}}
	return w
}

// records are orders first.. with customer_id = order_id % 50, ordered
// (order_id % 6) days ago.
func (w *world) ingest(t *testing.T, first, n int) {
	t.Helper()
	var b strings.Builder
	for id := first; id < first+n; id++ {
		at := w.now.Add(-time.Duration(id%6)*24*time.Hour - time.Hour).Format(time.RFC3339)
		fmt.Fprintf(&b, `{"order_id": %d, "customer_id": %d, "status": "paid", "total": "%d.50", "currency": "eur", "items": %d, "ordered_at": "%s", "shipped_on": null}`+"\n",
			id, id%50, id, 1+id%9, at)
	}
	if _, err := w.svc.Ingest(context.Background(), "orders", strings.NewReader(b.String())); err != nil {
		t.Fatal(err)
	}
}

// publish publishes and checks how: the analytics and the source tables
// incrementally for both formats or whole, with no fallback; then that
// both tables list exactly the committed, current objects.
func (w *world) publish(t *testing.T, when string, analytics, source bool) {
	t.Helper()
	w.calls = nil
	if err := w.pub.Publish(context.Background(), "orders"); err != nil {
		t.Fatalf("%s: publish: %v", when, err)
	}
	want := []call{{"delta", analytics, false}, {"iceberg", analytics, false},
		{"delta", source, false}, {"iceberg", source, false}}
	if !slices.Equal(w.calls, want) {
		t.Fatalf("%s: the formats were published as %+v, want %+v", when, w.calls, want)
	}
	w.check(t, when)
}

func (w *world) check(t *testing.T, when string) {
	t.Helper()
	diffs, err := w.pub.Check(context.Background(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Fatalf("%s: the tables differ from the catalog: %+v", when, diffs)
	}
}

// start ingests 600 orders of 6 days (source objects) and publishes (in
// whole: nothing was), then archives the older days and publishes: the
// source tables incrementally, the analytics tables, new, in whole.
func (w *world) start(t *testing.T) {
	t.Helper()
	for b := 0; b < 6; b++ {
		w.ingest(t, b*100+1, 100)
	}
	w.publish(t, "the first publish", false, false)
	if _, err := w.svc.ArchiveAnalytics(context.Background(), "orders", archive.Options{}); err != nil {
		t.Fatal(err)
	}
	w.publish(t, "after archive", false, true)
}

// build takes the orders dataset through ingest, archive, late rows,
// replay --apply (supersede), expiry and erasure, publishing after each.
func (w *world) build(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	w.start(t)
	w.ingest(t, 1001, 30) // late rows of archived days
	if _, err := w.svc.ArchiveAnalytics(ctx, "orders", archive.Options{}); err != nil {
		t.Fatal(err)
	}
	w.publish(t, "after late rows", true, true)
	w.publish(t, "with nothing changed", true, true)

	tf := filepath.Join(w.env.Dir, "orders.sql")
	v1, err := os.ReadFile(tf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tf, []byte(strings.Replace(string(v1), "lower(x.status)", "upper(x.status)", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	rp, err := w.svc.Replay(ctx, strata.ReplayRequest{Dataset: "orders", From: w.now.AddDate(0, 0, -7), To: w.now.Add(time.Hour), Apply: true})
	if err != nil || rp.Applied == nil || len(rp.Applied.Objects) == 0 {
		t.Fatalf("replay --apply: %+v, %v", rp, err)
	}
	w.publish(t, "after replay --apply", true, true)

	if _, err := w.env.Pool.Exec(ctx, `UPDATE strata.objects SET expires_at = now() - interval '1 day'
		WHERE id IN (SELECT min(id) FROM strata.objects WHERE state = 'committed' AND superseded_by IS NULL
		             GROUP BY archive_type)`); err != nil {
		t.Fatal(err)
	}
	prep, err := w.svc.Purge(ctx, "orders", false)
	if err != nil || len(prep.Expiry.Expired) < 2 {
		t.Fatalf("purge: %d expired, %v; want 2", len(prep.Expiry.Expired), err)
	}
	w.publish(t, "after expiry", true, true)

	cert, err := w.svc.Erase(ctx, strata.EraseRequest{Dataset: "orders", Subject: "7", Reason: "test"})
	if err != nil || cert.SourceArchive.Objects+cert.AnalyticsArchive.Objects == 0 {
		t.Fatalf("erase: %+v, %v; want objects rewritten", cert, err)
	}
	w.publish(t, "after erasure", true, true)
}

// TestIncrementalPublishesMakeTheSameTablesAsAFullRebuild publishes only
// the changes after each step of archive, late rows, supersede, expiry
// and erasure, then checks that a full rebuild finds nothing to change,
// and that tables written from scratch by a rebuild are the same: the
// Delta adds (paths, partitions, sizes, statistics) and schema, the
// Iceberg data files (paths, counts, bounds) and schema.
func TestIncrementalPublishesMakeTheSameTablesAsAFullRebuild(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.build(t)

	before := w.tables(t)
	w.calls = nil
	if err := w.pub.Rebuild(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if after := w.tables(t); after.deltaVersions != before.deltaVersions || after.icebergLocations != before.icebergLocations {
		t.Fatalf("a full rebuild after the incremental publishes committed: Delta versions %v -> %v, Iceberg %v -> %v",
			before.deltaVersions, after.deltaVersions, before.icebergLocations, after.icebergLocations)
	}

	// From scratch: the Delta logs removed, the Iceberg tables dropped.
	for _, typ := range []string{"analytics", "source"} {
		dir := storage.MustKey("lake", typ, "orders", "_delta_log")
		var keys []storage.Key
		if err := w.store.List(ctx, dir, func(oi storage.ObjectInfo) error { keys = append(keys, oi.Key); return nil }); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if err := w.store.Delete(ctx, k); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := w.env.Pool.Exec(ctx, `DELETE FROM strata_iceberg.iceberg_tables`); err != nil {
		t.Fatal(err)
	}
	if err := w.pub.Rebuild(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	scratch := w.tables(t)
	for _, typ := range []string{"analytics", "source"} {
		if d := firstDiff(before.delta[typ], scratch.delta[typ]); d != "" {
			t.Errorf("the incrementally published Delta %s table differs from one rebuilt from scratch: %s", typ, d)
		}
		if d := firstDiff(before.iceberg[typ], scratch.iceberg[typ]); d != "" {
			t.Errorf("the incrementally published Iceberg %s table differs from one rebuilt from scratch: %s", typ, d)
		}
		if len(before.delta[typ]) < 3 {
			t.Errorf("the Delta %s table holds %d lines: want a schema and objects", typ, len(before.delta[typ]))
		}
	}
	w.check(t, "after the rebuild from scratch")
}

// TestATableBehindOrAheadOfItsRecordedPublicationIsPublishedWhole makes
// each format's table differ from the publication recorded, both ways,
// and checks that the next publish finds out, publishes the table whole
// (no row listed twice, none missing) and goes back to incremental
// publishes after.
func TestATableBehindOrAheadOfItsRecordedPublicationIsPublishedWhole(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.start(t)

	// Behind: the newest Delta commit lost, the Iceberg catalog pointing
	// at the previous metadata. Nothing changed in the catalog since.
	tb := w.tables(t)
	v := tb.deltaVersion["analytics"]
	if err := w.store.Delete(ctx, storage.MustKey("lake", "analytics", "orders", "_delta_log", fmt.Sprintf("%020d.json", v))); err != nil {
		t.Fatal(err)
	}
	if tag, err := w.env.Pool.Exec(ctx, `UPDATE strata_iceberg.iceberg_tables SET metadata_location = previous_metadata_location
		WHERE table_namespace = 'analytics' AND previous_metadata_location IS NOT NULL`); err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("set the Iceberg table back: %v, %v", tag, err)
	}
	if diffs, _ := w.pub.Check(ctx, "orders"); len(diffs) != 2 {
		t.Fatalf("verify of tables behind their publication: %+v, want both analytics tables missing objects", diffs)
	}
	w.calls = nil
	if err := w.pub.Publish(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	want := []call{{"delta", true, true}, {"delta", false, false}, {"iceberg", true, true}, {"iceberg", false, false},
		{"delta", true, false}, {"iceberg", true, false}}
	if !slices.Equal(w.calls, want) {
		t.Fatalf("tables behind their publication were published as %+v, want %+v", w.calls, want)
	}
	w.check(t, "after the tables behind were published whole")

	// Ahead: the publication recorded before a publish is put back after
	// it, as if the process died between the table's commit and the
	// record; then a change.
	saved, err := catalog.Publications(ctx, w.svc.Pool(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	w.ingest(t, 2001, 40)
	if _, err := w.svc.ArchiveAnalytics(ctx, "orders", archive.Options{}); err != nil {
		t.Fatal(err)
	}
	w.publish(t, "after another archive", true, true)
	for _, p := range saved {
		if err := catalog.RecordPublication(ctx, w.svc.Pool(), p); err != nil {
			t.Fatal(err)
		}
	}
	w.ingest(t, 3001, 40)
	w.calls = nil
	if err := w.pub.Publish(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	want = []call{{"delta", true, true}, {"delta", false, false}, {"iceberg", true, true}, {"iceberg", false, false},
		{"delta", true, true}, {"delta", false, false}, {"iceberg", true, true}, {"iceberg", false, false}}
	if !slices.Equal(w.calls, want) {
		t.Fatalf("tables ahead of their publication were published as %+v, want %+v", w.calls, want)
	}
	w.check(t, "after the tables ahead were published whole")
	n := w.env.Count(`SELECT count(*) FROM strata.objects WHERE state = 'committed' AND superseded_by IS NULL AND archive_type = 'source'`)
	if got := w.tables(t).iceberg["source"]; len(got)-1 != int(n) {
		t.Fatalf("the Iceberg source table lists %d files, the catalog has %d current objects", len(got)-1, n)
	}
	w.ingest(t, 4001, 40)
	w.publish(t, "after the repair", true, true)
}

// snapshot is what the test compares of both formats' tables.
type snapshot struct {
	delta, iceberg   map[string][]string // by type: lines describing the table
	deltaVersion     map[string]int
	deltaVersions    string
	icebergLocations string
}

func (w *world) tables(t *testing.T) snapshot {
	t.Helper()
	s := snapshot{delta: map[string][]string{}, iceberg: map[string][]string{}, deltaVersion: map[string]int{}}
	for _, typ := range []string{"analytics", "source"} {
		s.delta[typ], s.deltaVersion[typ] = w.deltaTable(t, typ)
		s.iceberg[typ] = w.icebergTable(t, typ)
		s.deltaVersions += fmt.Sprintf("%s:%d ", typ, s.deltaVersion[typ])
	}
	rows, err := w.env.Pool.Query(context.Background(), `SELECT table_namespace || ':' || metadata_location
		FROM strata_iceberg.iceberg_tables ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var l string
		if err := rows.Scan(&l); err != nil {
			t.Fatal(err)
		}
		s.icebergLocations += l + " "
	}
	return s
}

// deltaTable replays the table's log (every commit) and describes it: its
// schema, then each file listed with its add action but the time it was
// written; and its newest version.
func (w *world) deltaTable(t *testing.T, typ string) ([]string, int) {
	t.Helper()
	ctx := context.Background()
	files := map[string]string{}
	schema := ""
	v := 0
	for ; ; v++ {
		rc, err := w.store.Get(ctx, storage.MustKey("lake", typ, "orders", "_delta_log", fmt.Sprintf("%020d.json", v)))
		if err != nil {
			break
		}
		sc := bufio.NewScanner(rc)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var a struct {
				Add      map[string]any `json:"add"`
				Remove   map[string]any `json:"remove"`
				MetaData map[string]any `json:"metaData"`
			}
			if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
				t.Fatal(err)
			}
			switch {
			case a.Add != nil:
				b, _ := json.Marshal(a.Add)
				files[a.Add["path"].(string)] = string(b)
			case a.Remove != nil:
				delete(files, a.Remove["path"].(string))
			case a.MetaData != nil:
				schema = fmt.Sprint("schema ", a.MetaData["schemaString"], " partitioned by ", a.MetaData["partitionColumns"])
			}
		}
		rc.Close()
	}
	out := []string{schema}
	for _, p := range slices.Sorted(maps.Keys(files)) {
		out = append(out, files[p])
	}
	return out, v - 1
}

// icebergTable describes the Iceberg table through iceberg-go's SQL
// catalog: its schema, then each data file of its current snapshot with
// its counts, partition and bounds.
func (w *world) icebergTable(t *testing.T, typ string) []string {
	t.Helper()
	ctx := context.Background()
	cc := w.svc.Pool().Config().ConnConfig.Copy()
	cc.RuntimeParams["search_path"] = iceberg.Schema
	db := stdlib.OpenDB(*cc)
	defer db.Close()
	cat, err := sqlcat.NewCatalog(iceberg.CatalogName, db, sqlcat.Postgres, ice.Properties{"init_catalog_tables": "false"})
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := cat.LoadTable(ctx, table.Identifier{typ, "orders"})
	if err != nil {
		t.Fatalf("load the Iceberg %s table: %v", typ, err)
	}
	out := []string{fmt.Sprint("schema ", tbl.Schema().String(), " spec ", tbl.Spec().String())}
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return out
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	manifests, err := snap.Manifests(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, m := range manifests {
		for e, err := range m.Entries(fsys, true) {
			if err != nil {
				t.Fatal(err)
			}
			df := e.DataFile()
			files = append(files, fmt.Sprint(df.FilePath(), " rows ", df.Count(), " bytes ", df.FileSizeBytes(),
				" partition ", df.Partition(), " values ", df.ValueCounts(), " nulls ", df.NullValueCounts(),
				" lower ", hexBounds(df.LowerBoundValues()), " upper ", hexBounds(df.UpperBoundValues())))
		}
	}
	slices.Sort(files)
	return append(out, files...)
}

func hexBounds(m map[int][]byte) string {
	var b strings.Builder
	for _, id := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%d=%s ", id, hex.EncodeToString(m[id]))
	}
	return b.String()
}

func firstDiff(a, b []string) string {
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			return fmt.Sprintf("line %d only in the second: %s", i, b[i])
		case i >= len(b):
			return fmt.Sprintf("line %d only in the first: %s", i, a[i])
		case a[i] != b[i]:
			return fmt.Sprintf("line %d:\n  %s\n  %s", i, a[i], b[i])
		}
	}
	return ""
}

// TestAChangeCommittedAfterANewerOneWasPublishedIsPublished holds a
// transaction that expires an object open (its change number taken) while
// a newer change commits and is published; once it commits, the next
// publish removes the object, though its change number is older than the
// version already published.
func TestAChangeCommittedAfterANewerOneWasPublishedIsPublished(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	for b := 0; b < 6; b++ {
		w.ingest(t, b*100+1, 100)
	}
	w.publish(t, "the first publish", false, false)
	tx, err := w.env.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	var id, seq int64
	if err := tx.QueryRow(ctx, `UPDATE strata.objects SET state = 'expired'
		WHERE id = (SELECT min(id) FROM strata.objects WHERE archive_type = 'source') RETURNING id, change_seq`).Scan(&id, &seq); err != nil {
		t.Fatal(err)
	}
	w.ingest(t, 1001, 30) // a newer change, committed and published
	w.publish(t, "with an older change not committed", false, true)
	pubs, err := catalog.Publications(ctx, w.svc.Pool(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(pubs, func(p catalog.Publication) bool { return p.Type == "source" }); i < 0 || pubs[i].Version <= seq {
		t.Fatalf("publications %+v: want the source table published past change %d", pubs, seq)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	// publish checks that both tables list exactly the current objects:
	// not the expired one.
	w.publish(t, "once the older change committed", false, true)
}

// TestAnObjectThatLeftAndCameBackIsListedOnce expires an object and puts
// it back (what a purge does when the storage refuses the delete) between
// two publishes: the next publish sees a change of an object the tables
// may list already, and each table lists it once.
func TestAnObjectThatLeftAndCameBackIsListedOnce(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	w.start(t)
	var id int64
	if err := w.env.Pool.QueryRow(ctx, `UPDATE strata.objects SET state = 'expired'
		WHERE id = (SELECT min(id) FROM strata.objects WHERE archive_type = 'analytics') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := w.env.Pool.Exec(ctx, `UPDATE strata.objects SET state = 'committed' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	w.publish(t, "after an object left and came back", true, true)
	n := int(w.env.Count(`SELECT count(*) FROM strata.objects WHERE archive_type = 'analytics' AND state = 'committed' AND superseded_by IS NULL`))
	tb := w.tables(t)
	if got := len(tb.iceberg["analytics"]) - 1; got != n {
		t.Fatalf("the Iceberg analytics table has %d data files, the catalog %d current objects:\n%s", got, n, strings.Join(tb.iceberg["analytics"], "\n"))
	}
	if got := len(tb.delta["analytics"]) - 1; got != n {
		t.Fatalf("the Delta analytics table lists %d files, the catalog has %d current objects", got, n)
	}
}
