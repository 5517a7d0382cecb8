package strata_test

import (
	"bufio"
	"context"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/failpoint"
	"github.com/stratahq/strata/internal/openlineage"
)

// lineageEndpoint is an OpenLineage HTTP endpoint (as Marquez's
// /api/v1/lineage) that keeps every event it receives.
type lineageEndpoint struct {
	mu     sync.Mutex
	events [][]byte
}

func (e *lineageEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	e.mu.Lock()
	e.events = append(e.events, b)
	e.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

func (e *lineageEndpoint) received() [][]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([][]byte(nil), e.events...)
}

// eventsOf validates raw events and decodes them.
func eventsOf(t *testing.T, raw [][]byte) []openlineage.RunEvent {
	t.Helper()
	var out []openlineage.RunEvent
	for _, b := range raw {
		if err := openlineage.Validate(b); err != nil {
			t.Errorf("event does not validate: %v\n%s", err, b)
		}
		var ev openlineage.RunEvent
		if err := stdjson.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func readLines(t *testing.T, path string) [][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]byte
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out
}

// strataFacet decodes an event's "strata" run facet.
func strataFacet(t *testing.T, ev openlineage.RunEvent) openlineage.StrataRunFacet {
	t.Helper()
	b, _ := stdjson.Marshal(ev.Run.Facets["strata"])
	var f openlineage.StrataRunFacet
	if err := stdjson.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f
}

func TestRunsEmitOpenLineageEventsToTheEndpointAndTheFile(t *testing.T) {
	ep := &lineageEndpoint{}
	srv := httptest.NewServer(ep)
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "openlineage.jsonl")
	p := newPipeline(t, fmt.Sprintf("lineage:\n  openlineage_url: %s/api/v1/lineage\n  openlineage_file: %s\n  namespace: strata-test\n", srv.URL, file), "")
	ctx := context.Background()
	p.mustIngest(t, 250)
	if _, err := p.svc.ArchiveAnalytics(ctx, "orders", archive.Options{}); err != nil {
		t.Fatal(err)
	}
	rep := p.lineage(t)
	objs, err := p.svc.Catalog().List(ctx, catalog.Filter{Dataset: "orders", Type: catalog.TypeSource})
	if err != nil {
		t.Fatal(err)
	}
	p.svc.Close() // sends what is queued

	fromFile := eventsOf(t, readLines(t, file))
	fromHTTP := eventsOf(t, ep.received())
	if len(fromFile) != 4 || len(fromHTTP) != 4 {
		t.Fatalf("%d events in the file, %d at the endpoint; want START and COMPLETE of two runs in each", len(fromFile), len(fromHTTP))
	}
	seen := map[string]openlineage.EventType{}
	for i, ev := range fromHTTP {
		if fromFile[i].Run.RunID != ev.Run.RunID || fromFile[i].EventType != ev.EventType {
			t.Errorf("event %d differs between the file and the endpoint", i)
		}
		switch ev.EventType {
		case openlineage.Start:
			if _, dup := seen[ev.Run.RunID]; dup {
				t.Errorf("run %s started twice", ev.Run.RunID)
			}
		case openlineage.Complete:
			if seen[ev.Run.RunID] != openlineage.Start {
				t.Errorf("run %s completed without a START before it", ev.Run.RunID)
			}
		default:
			t.Errorf("unexpected %s", ev.EventType)
		}
		seen[ev.Run.RunID] = ev.EventType
		if ev.Job.Namespace != "strata-test" {
			t.Errorf("job namespace %q", ev.Job.Namespace)
		}
	}
	ingest, archived := fromHTTP[1], fromHTTP[3]
	if ingest.Job.Name != "strata.ingest.orders" || archived.Job.Name != "strata.analytics_archive.orders" {
		t.Fatalf("jobs %s, %s", ingest.Job.Name, archived.Job.Name)
	}

	// The ingest's COMPLETE carries the catalog's record of the run.
	f := strataFacet(t, ingest)
	if f.Status != "ok" || f.Layer3Rows != 250 || f.Rows != 250 || len(f.ObjectList) != len(objs) || len(f.TransformVersions) != 1 ||
		f.Layer2RowsWritten == 0 || len(f.LineageRecords) != 3 {
		t.Errorf("strata facet %+v", f)
	}
	for i, o := range f.ObjectList {
		if o.Key != objs[i].Key || o.SHA256 != objs[i].SHA256 || o.Rows != objs[i].Rows {
			t.Errorf("facet object %d: %+v, catalog %s %s %d", i, o, objs[i].Key, objs[i].SHA256, objs[i].Rows)
		}
	}
	if sql, _ := ingest.Job.Facets["sql"].(map[string]any); sql == nil || !strings.Contains(sql["query"].(string), "{{source}}") {
		t.Errorf("the ingest job carries no transform text: %v", ingest.Job.Facets["sql"])
	}

	// Outputs: Layer 3, the source archive and Layer 2, named the
	// OpenLineage way, with what was written.
	names := map[string]string{}
	for _, o := range ingest.Outputs {
		names[o.Name] = o.Namespace
		stats, _ := o.OutputFacets["outputStatistics"].(map[string]any)
		if stats == nil || stats["rowCount"].(float64) == 0 {
			t.Errorf("output %s has no statistics: %v", o.Name, o.OutputFacets)
		}
	}
	var db string
	if err := p.pool.QueryRow(ctx, `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{db + ".public.source_orders", db + ".public.orders"} {
		if ns := names[want]; !strings.HasPrefix(ns, "postgres://") {
			t.Errorf("no output %s in a postgres:// namespace: %v", want, names)
		}
	}
	var archiveOut bool
	for name, ns := range names {
		archiveOut = archiveOut || (ns == "file" && strings.HasSuffix(name, "/analytics_service/source/orders"))
	}
	if !archiveOut {
		t.Errorf("no source archive output: %v", names)
	}
	if len(archived.Inputs) != 1 || archived.Inputs[0].Name != db+".public.orders" || len(archived.Outputs) != 1 ||
		!strings.HasSuffix(archived.Outputs[0].Name, "/analytics_service/analytics/orders") {
		t.Errorf("analytics archive reads %v and writes %v", archived.Inputs, archived.Outputs)
	}

	// strata lineage names the same run ids.
	for _, b := range rep.Batches {
		if _, ok := seen[b.OpenLineageRunID]; !ok {
			t.Errorf("lineage record %d names OpenLineage run %s, which no event has", b.ID, b.OpenLineageRunID)
		}
	}
	if s := p.svc.OpenLineageStats(); s.Emitted != 4 || s.Sent != 4 || s.Written != 4 || s.Failed != 0 {
		t.Errorf("stats %+v", s)
	}
}

func TestAFailingRunEmitsFail(t *testing.T) {
	file := filepath.Join(t.TempDir(), "openlineage.jsonl")
	p := newPipeline(t, "lineage:\n  openlineage_file: "+file+"\n", "after-plan=error")
	if _, err := p.ingest(t, 10); !errors.Is(err, failpoint.ErrInjected) {
		t.Fatalf("ingest: %v, want the injected failure", err)
	}
	evs := eventsOf(t, readLines(t, file))
	if len(evs) != 2 || evs[0].EventType != openlineage.Start || evs[1].EventType != openlineage.Fail || evs[0].Run.RunID != evs[1].Run.RunID {
		t.Fatalf("events %v, want START then FAIL of one run", evs)
	}
	msg, _ := evs[1].Run.Facets["errorMessage"].(map[string]any)
	if msg == nil || !strings.Contains(msg["message"].(string), "injected") {
		t.Errorf("FAIL has no error message: %v", evs[1].Run.Facets)
	}
	if f := strataFacet(t, evs[1]); f.Status != "failed" || f.Rows != 0 {
		t.Errorf("strata facet %+v", f)
	}
}

func TestAnUnreachableEndpointDoesNotFailOrHoldUpARun(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	p := newPipeline(t, "lineage:\n  openlineage_url: http://"+addr+"/api/v1/lineage\n", "")
	start := time.Now()
	rep, err := p.ingest(t, 20)
	if err != nil || rep.Records != 20 {
		t.Fatalf("ingest with the endpoint down: %d records, %v", rep.Records, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("ingest took %s", d)
	}
	p.svc.Close()
	if s := p.svc.OpenLineageStats(); s.Emitted != 2 || s.Failed != 2 || s.Sent != 0 {
		t.Errorf("stats %+v, want both events counted as failed", s)
	}
}

func TestNoLineageConfigEmitsNothing(t *testing.T) {
	p := newPipeline(t, "", "")
	p.mustIngest(t, 5)
	if s := p.svc.OpenLineageStats(); s != (openlineage.Stats{}) {
		t.Errorf("stats %+v without a lineage section", s)
	}
}
