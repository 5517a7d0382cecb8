package strata_test

import (
	"context"
	stdjson "encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/demo"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

// pipeline is the orders dataset with its whole flow: raw records are
// ingested into source_orders (Layer 3, batches of at most 100), archived to
// the source archive, transformed by the example transform into orders
// (Layer 2, empty at the start), whose rows move to the analytics archive
// after one day. Records are generated two days old, so one archive run
// moves the rows they became.
type pipeline struct {
	svc           *strata.Service
	pool          *pgxpool.Pool
	transformPath string
	rng           *rand.Rand
	next          int64 // next order id
}

// newPipeline opens the pipeline with extra YAML appended to its
// configuration (a lineage: section) and failpoints.
func newPipeline(t *testing.T, extraYAML, failpoints string) *pipeline {
	t.Helper()
	e := testenv.New(t, testenv.Options{Prefix: "analytics_service", Extra: extraYAML, Datasets: []testenv.Dataset{
		{Name: "orders", Source: true, BatchMaxRows: 100, Retention: "1d", Transform: "orders.sql"}}})
	p := &pipeline{pool: e.Pool, transformPath: filepath.Join(e.Dir, "orders.sql"), rng: rand.New(rand.NewPCG(1, 2)), next: 90001}
	p.svc = testsvc.Open(t, e, strata.Options{Failpoints: failpoints})
	return p
}

// ingest sends n new orders, two days old, and returns the report.
func (p *pipeline) ingest(t *testing.T, n int) (strata.IngestReport, error) {
	t.Helper()
	recs := demo.Records(demo.Datasets[2], p.next, n, time.Now().Add(-48*time.Hour), p.rng)
	p.next += int64(n)
	var b strings.Builder
	for _, r := range recs {
		b.Write(r)
		b.WriteByte('\n')
	}
	return p.svc.Ingest(context.Background(), "orders", strings.NewReader(b.String()))
}

func (p *pipeline) mustIngest(t *testing.T, n int) strata.IngestReport {
	t.Helper()
	rep, err := p.ingest(t, n)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// lineage reports the last week, reading every object back.
func (p *pipeline) lineage(t *testing.T) *strata.LineageReport {
	t.Helper()
	rep, err := p.svc.Lineage(context.Background(), strata.LineageRequest{Dataset: "orders",
		From: time.Now().AddDate(0, 0, -7), To: time.Now().Add(time.Hour), Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestLineageShowsTheChainFromRawRecordsToAnalyticsObjects(t *testing.T) {
	p := newPipeline(t, "", "")
	ctx := context.Background()
	in := p.mustIngest(t, 250)
	if in.Records != 250 || in.Batches != 3 {
		t.Fatalf("ingest stored %d records in %d batches, want 250 in 3", in.Records, in.Batches)
	}
	arch, err := p.svc.ArchiveAnalytics(ctx, "orders", archive.Options{})
	if err != nil || arch.Rows() == 0 {
		t.Fatalf("analytics archive: %d rows, %v", arch.Rows(), err)
	}
	rep := p.lineage(t)

	// The source objects are the ingest's, with the catalog's checksums.
	cat, err := p.svc.Catalog().List(ctx, catalog.Filter{Dataset: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]string{}
	for _, o := range cat {
		sums[o.Key] = o.SHA256
	}
	var ingested []string
	for _, d := range in.Objects {
		ingested = append(ingested, d.Key)
	}
	var listed []string
	for _, o := range rep.Source.Objects {
		listed = append(listed, o.Key)
		if o.SHA256 != sums[o.Key] || len(o.SHA256) != 64 || o.CommittedAt == nil || o.Verified != "ok" {
			t.Errorf("source object %s: sha256 %q (catalog %q), committed %v, verified %q", o.Key, o.SHA256, sums[o.Key], o.CommittedAt, o.Verified)
		}
	}
	slices.Sort(ingested)
	slices.Sort(listed)
	if !slices.Equal(listed, ingested) {
		t.Errorf("source objects listed %v, ingest wrote %v", listed, ingested)
	}

	// The ingest batches cover the Layer 3 ids without gap or overlap and
	// add up to the records ingested.
	var minID, maxID int64
	if err := p.pool.QueryRow(ctx, `SELECT min(raw_id), max(raw_id) FROM source_orders`).Scan(&minID, &maxID); err != nil {
		t.Fatal(err)
	}
	next, sum, batches := minID, int64(0), 0
	for _, b := range rep.Batches {
		if b.Kind != catalog.LineageIngest {
			continue
		}
		batches++
		if !b.InPeriod || b.Run == nil || b.Run.Status != "ok" || b.Run.Command != "ingest" {
			t.Errorf("batch %d: in period %v, run %+v", b.ID, b.InPeriod, b.Run)
		}
		if *b.Layer3FirstID != next || *b.Layer3LastID-*b.Layer3FirstID+1 != b.Layer3Rows || b.SourceObjectRows != b.Layer3Rows {
			t.Errorf("batch %d: ids %d..%d, %d rows, objects hold %d; next id should be %d",
				b.ID, *b.Layer3FirstID, *b.Layer3LastID, b.Layer3Rows, b.SourceObjectRows, next)
		}
		next = *b.Layer3LastID + 1
		sum += b.Layer3Rows
	}
	if batches != 3 || sum != 250 || next != maxID+1 || rep.Totals.RecordsIn != 250 || rep.Totals.SourceRows != 250 {
		t.Errorf("%d ingest batches with %d records up to id %d (max %d); totals %+v", batches, sum, next-1, maxID, rep.Totals)
	}

	// The transform text is the file's, marked current.
	text, err := os.ReadFile(p.transformPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Transforms) != 1 {
		t.Fatalf("%d transform versions, want 1", len(rep.Transforms))
	}
	if tr := rep.Transforms[0]; tr.Text != string(text) || !tr.Current || !tr.Used || !tr.Recorded || tr.Batches != 3 || tr.Records != 250 {
		t.Errorf("transform: current %v, used %v, recorded %v, %d batches, %d records, text equal %v",
			tr.Current, tr.Used, tr.Recorded, tr.Batches, tr.Records, tr.Text == string(text))
	}
	if c := rep.CurrentTransform; c == nil || c.Differs || !c.UsedInPeriod || c.Version != rep.Transforms[0].Version {
		t.Errorf("current transform %+v", c)
	}

	// The analytics objects are the archive run's, reached by its record.
	if len(rep.Analytics.Objects) != len(arch.Days) || rep.Totals.AnalyticsRows != arch.Rows() {
		t.Errorf("%d analytics objects with %d rows, archive wrote %d with %d", len(rep.Analytics.Objects),
			rep.Totals.AnalyticsRows, len(arch.Days), arch.Rows())
	}
	var archived int64
	for _, b := range rep.Batches {
		if b.Kind == catalog.LineageAnalyticsArchive {
			archived += b.RowsArchived
		}
	}
	if archived != arch.Rows() {
		t.Errorf("analytics archive records archived %d rows, the run %d", archived, arch.Rows())
	}
	var written int64
	if err := p.pool.QueryRow(ctx, `SELECT count(DISTINCT x.order_id) FROM source_orders s,
		json_to_record(s.raw_data) AS x(order_id bigint)`).Scan(&written); err != nil {
		t.Fatal(err)
	}
	if rep.Totals.Layer2RowsWritten < written || rep.Totals.Layer2LiveRows != 0 {
		t.Errorf("Layer 2 rows written %d (distinct keys %d), live %d", rep.Totals.Layer2RowsWritten, written, rep.Totals.Layer2LiveRows)
	}
	if l := rep.Source.Live; l == nil || l.Rows != 250 || *l.Archived != 250 || *l.Processed != 250 {
		t.Errorf("Layer 3 live rows %+v, want 250 archived and processed", l)
	}
	in2 := rep.Integrity
	if !in2.OK || !in2.Verified || in2.ObjectsOK != len(rep.Source.Objects)+len(rep.Analytics.Objects) || len(in2.Problems) != 0 {
		t.Errorf("integrity %+v", in2)
	}
	if !strings.Contains(in2.Statement, "250 raw records") || !strings.Contains(in2.Statement, "every count adds up") {
		t.Errorf("statement: %s", in2.Statement)
	}

	// The JSON form parses and keeps its names.
	b, err := stdjson.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := stdjson.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"dataset", "from", "to", "source", "batches", "transforms", "current_transform", "analytics", "totals", "integrity"} {
		if _, ok := back[k]; !ok {
			t.Errorf("JSON has no %q", k)
		}
	}
}

func TestLineageListsEveryTransformVersionOfThePeriodWithItsText(t *testing.T) {
	p := newPipeline(t, "", "")
	p.mustIngest(t, 50)
	v1, err := os.ReadFile(p.transformPath)
	if err != nil {
		t.Fatal(err)
	}
	v2 := strings.Replace(string(v1), "lower(x.status)", "upper(x.status)", 1)
	if v2 == string(v1) {
		t.Fatal("the transform has no lower(x.status) to change")
	}
	if err := os.WriteFile(p.transformPath, []byte("-- statuses are upper case from now on\n"+v2), 0o644); err != nil {
		t.Fatal(err)
	}
	p.mustIngest(t, 30)
	rep := p.lineage(t)
	if len(rep.Transforms) != 2 {
		t.Fatalf("%d transform versions, want 2", len(rep.Transforms))
	}
	old, cur := rep.Transforms[0], rep.Transforms[1]
	if old.Text != string(v1) || old.Current || !old.Used || old.Records != 50 {
		t.Errorf("first version: current %v, used %v, %d records, text is v1: %v", old.Current, old.Used, old.Records, old.Text == string(v1))
	}
	if !strings.HasPrefix(cur.Text, "-- statuses are upper case") || !cur.Current || !cur.Used || cur.Records != 30 {
		t.Errorf("second version: current %v, used %v, %d records, text %.60q", cur.Current, cur.Used, cur.Records, cur.Text)
	}
	if c := rep.CurrentTransform; c == nil || !c.Differs || c.Version != cur.Version {
		t.Errorf("current transform %+v: want it marked as differing from a version of the period", c)
	}
	for _, b := range rep.Batches {
		if want := map[bool]string{true: old.Version, false: cur.Version}[b.Layer3Rows == 50]; b.TransformVersion != want {
			t.Errorf("batch of %d records names version %.12s, want %.12s", b.Layer3Rows, b.TransformVersion, want)
		}
	}
	if !slices.ContainsFunc(rep.Integrity.Notes, func(n string) bool { return strings.Contains(n, "differs") }) {
		t.Errorf("no note says the current transform differs: %q", rep.Integrity.Notes)
	}
}

func TestLineageRefusesBadRequests(t *testing.T) {
	p := newPipeline(t, "", "")
	ctx := context.Background()
	now := time.Now()
	if _, err := p.svc.Lineage(ctx, strata.LineageRequest{Dataset: "nope", From: now, To: now}); !errors.Is(err, strata.ErrNotFound) {
		t.Errorf("unknown dataset: %v, want ErrNotFound", err)
	}
	if _, err := p.svc.Lineage(ctx, strata.LineageRequest{Dataset: "orders", From: now, To: now.Add(-time.Hour)}); !errors.Is(err, strata.ErrInvalid) {
		t.Errorf("reversed period: %v, want ErrInvalid", err)
	}
	if _, err := p.svc.Lineage(ctx, strata.LineageRequest{Dataset: "orders"}); !errors.Is(err, strata.ErrInvalid) {
		t.Errorf("no period: %v, want ErrInvalid", err)
	}
}

func TestLineageOfAnEmptyPeriodSaysSo(t *testing.T) {
	p := newPipeline(t, "", "")
	rep, err := p.svc.Lineage(context.Background(), strata.LineageRequest{Dataset: "orders",
		From: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2020, 1, 31, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Batches) != 0 || len(rep.Source.Objects) != 0 || !rep.Integrity.OK || rep.Totals.RecordsIn != 0 {
		t.Errorf("empty period: %+v", rep)
	}
	if len(rep.Transforms) != 1 || rep.Transforms[0].Used || !rep.Transforms[0].Current || rep.Transforms[0].Text == "" {
		t.Errorf("the current transform is listed, unused, with its text: %+v", rep.Transforms)
	}
}

func TestLineageFollowsAReplayAndARestoreOfThePeriod(t *testing.T) {
	p := newPipeline(t, "", "")
	ctx := context.Background()
	p.mustIngest(t, 60)
	arch, err := p.svc.ArchiveAnalytics(ctx, "orders", archive.Options{})
	if err != nil || len(arch.Days) == 0 {
		t.Fatalf("analytics archive: %v", err)
	}
	// A transform fix, replayed: the archived rows are corrected by new
	// objects that supersede the old ones.
	v1, err := os.ReadFile(p.transformPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.transformPath, []byte(strings.Replace(string(v1), "lower(x.status)", "upper(x.status)", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	from, to := time.Now().AddDate(0, 0, -7), time.Now().Add(time.Hour)
	rp, err := p.svc.Replay(ctx, strata.ReplayRequest{Dataset: "orders", From: from, To: to, Apply: true})
	if err != nil || rp.Applied == nil || len(rp.Applied.Superseded) == 0 {
		t.Fatalf("replay --apply: %+v, %v", rp, err)
	}
	// Then the corrected day is restored into Layer 2.
	day := arch.Days[0].Day
	if _, err := p.svc.Restore(ctx, strata.RestoreRequest{Dataset: "orders", From: day, To: day}); err != nil {
		t.Fatal(err)
	}
	rep := p.lineage(t)
	kinds := map[string]int{}
	for _, b := range rep.Batches {
		kinds[b.Kind]++
	}
	if kinds[catalog.LineageIngest] != 1 || kinds[catalog.LineageAnalyticsArchive] != 1 || kinds[catalog.LineageReplay] != 1 || kinds[catalog.LineageRestore] != 1 {
		t.Errorf("batches by kind %v, want one ingest, analytics archive, replay and restore", kinds)
	}
	var superseded, restored int
	for _, o := range rep.Analytics.Objects {
		switch {
		case o.SupersededBy != "":
			superseded++
			if !strings.HasPrefix(o.SupersededBy, "analytics_service/analytics/orders/") {
				t.Errorf("object %s superseded by %q, want the key of its correction", o.Key, o.SupersededBy)
			}
		case o.State == catalog.StateRestored:
			restored++
		}
		if o.Verified != "ok" {
			t.Errorf("object %s (%s) read back: %s", o.Key, o.State, o.Verified)
		}
	}
	if superseded != len(rp.Applied.Superseded) || restored != len(rp.Applied.Objects) {
		t.Errorf("%d superseded and %d restored objects listed, replay superseded %d with %d", superseded, restored,
			len(rp.Applied.Superseded), len(rp.Applied.Objects))
	}
	if len(rep.Transforms) != 2 || !rep.Transforms[1].Current || rep.Transforms[1].Batches != 1 {
		t.Errorf("transforms %+v: want the replay's version current, used by its batch", rep.Transforms)
	}
	if !rep.Integrity.OK || rep.Totals.AnalyticsRows != 0 || rep.Totals.Layer2LiveRows == 0 {
		t.Errorf("integrity %+v, totals %+v: the restored rows are live in Layer 2, no archived row is current", rep.Integrity, rep.Totals)
	}
}
