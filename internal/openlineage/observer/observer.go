// Package observer turns Strata's runs into OpenLineage events: it is the
// archive.RunObserver of a Service whose configuration names a lineage
// destination (lineage.openlineage_url or lineage.openlineage_file). START
// names the run's inputs and outputs (PostgreSQL tables and archive
// folders, datasets.go); COMPLETE or FAIL adds what the catalog says the
// run committed. Nothing it does can fail or hold up a run.
package observer

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/openlineage"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/transform"
)

// maxFacetObjects bounds the objects listed in one event's strata facet.
const maxFacetObjects = 1000

// Observer turns runs into OpenLineage events: START when a run begins,
// COMPLETE or FAIL when it ends. Nothing it does can fail a run: lookups
// that fail only leave facets out. A nil *Observer emits nothing.
type Observer struct {
	cfg     *config.Config
	pool    *pgxpool.Pool
	prefix  storage.Key
	log     *slog.Logger
	em      *openlineage.Emitter
	ns      string
	facets  openlineage.Facets
	version string

	mu      sync.Mutex
	started map[int64]*runDatasets // by strata run id, between START and the end
}

// runDatasets is what START found out, reused at the end.
type runDatasets struct {
	inputs  []openlineage.InputDataset
	outputs []openlineage.OutputDataset
	roles   []string // per output: layer3, layer2, source, analytics
	sql     string
	runID   string // the OpenLineage run id
}

// New returns the observer of cfg's lineage destination, nil when cfg
// names none. prefix is the storage prefix of the archive's objects.
func New(cfg *config.Config, pool *pgxpool.Pool, prefix storage.Key, log *slog.Logger) *Observer {
	lc := cfg.Lineage
	em := openlineage.New(openlineage.Options{URL: lc.OpenLineageURL, File: cfg.LineageFilePath(), Logger: log})
	if em == nil {
		return nil
	}
	o := &Observer{cfg: cfg, pool: pool, prefix: prefix, log: log, em: em, ns: lc.Namespace,
		version: "devel", started: map[int64]*runDatasets{}}
	if o.ns == "" {
		o.ns = config.DefaultLineageNamespace
	}
	producer := openlineage.DefaultProducer
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		o.version = bi.Main.Version
		producer += "/tree/" + bi.Main.Version
	}
	o.facets = openlineage.Facets{Producer: producer}
	return o
}

// Stats counts the events emitted, sent and lost (zero for nil).
func (o *Observer) Stats() openlineage.Stats {
	if o == nil {
		return openlineage.Stats{}
	}
	return o.em.Stats()
}

// Close sends the events still queued, waiting at most a timeout.
func (o *Observer) Close() {
	if o == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), openlineage.DefaultTimeout+time.Second)
	defer cancel()
	o.em.Close(ctx)
}

// pgNamespace is the OpenLineage namespace of the database:
// postgres://host:port.
func (o *Observer) pgNamespace() (ns, db string) {
	cc := o.pool.Config().ConnConfig
	host := cc.Host
	if host == "" || strings.HasPrefix(host, "/") {
		host = "localhost" // a Unix socket
	}
	return fmt.Sprintf("postgres://%s:%d", host, cc.Port), cc.Database
}

// runID reads the run's start from strata.runs to name it; should that
// fail, the events still carry one id (without the start time).
func (o *Observer) runID(ctx context.Context, run archive.RunInfo) string {
	var started time.Time
	if err := o.pool.QueryRow(ctx, `SELECT started_at FROM strata.runs WHERE id = $1`, run.ID).Scan(&started); err != nil {
		o.log.Warn("openlineage: read the run's start", "run", run.ID, "err", err)
		return openlineage.RunID(fmt.Sprintf("strata://%s/runs/%d", run.Dataset, run.ID))
	}
	return openlineage.StrataRunID(run.Dataset, run.ID, started)
}

// RunStarted emits START with the run's inputs and outputs.
func (o *Observer) RunStarted(ctx context.Context, run archive.RunInfo) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	d := o.datasets(ctx, run)
	d.runID = o.runID(ctx, run)
	o.mu.Lock()
	o.started[run.ID] = d
	o.mu.Unlock()
	ev := o.event(run, openlineage.Start, d)
	ev.Run.Facets["strata"] = o.facets.Strata(o.strataFacet(run))
	o.em.Emit(ev)
}

// RunFinished emits COMPLETE or FAIL with what the catalog says the run
// committed: objects and checksums, Layer 3 ids, Layer 2 rows written.
func (o *Observer) RunFinished(ctx context.Context, run archive.RunInfo, res archive.RunResult) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	o.mu.Lock()
	d := o.started[run.ID]
	delete(o.started, run.ID)
	o.mu.Unlock()
	if d == nil {
		d = o.datasets(ctx, run)
		d.runID = o.runID(ctx, run)
	}
	typ := openlineage.Complete
	if res.Err != nil {
		typ = openlineage.Fail
	}
	ev := o.event(run, typ, d)
	sf := o.strataFacet(run)
	sf.Status, sf.Rows, sf.Objects, sf.Bytes = "ok", res.Rows, res.Objects, res.Bytes
	if res.Err != nil {
		sf.Status = "failed"
		ev.Run.Facets["errorMessage"] = o.facets.ErrorMessage(res.Err.Error())
	}
	objs, err := catalog.ObjectsByKey(ctx, o.pool, res.Keys)
	if err != nil {
		o.log.Warn("openlineage: read the run's objects", "run", run.ID, "err", err)
	}
	recs, err := catalog.LineageOfRun(ctx, o.pool, run.Dataset, run.ID)
	if err != nil {
		o.log.Warn("openlineage: read the run's lineage records", "run", run.ID, "err", err)
	}
	o.fillStrata(&sf, objs, recs)
	ev.Run.Facets["strata"] = o.facets.Strata(sf)
	if sql := o.recordedSQL(ctx, run.Dataset, sf.TransformVersions); sql != "" {
		ev.Job.Facets["sql"] = o.facets.SQL(sql)
	}
	o.outputStatistics(ev, d, objs, sf)
	o.em.Emit(ev)
}

func (o *Observer) event(run archive.RunInfo, typ openlineage.EventType, d *runDatasets) *openlineage.RunEvent {
	ev := &openlineage.RunEvent{
		EventType: typ, EventTime: time.Now().UTC(),
		Run: openlineage.Run{RunID: d.runID,
			Facets: map[string]any{"processing_engine": o.facets.ProcessingEngine(o.version)}},
		Job: openlineage.Job{Namespace: o.ns, Name: "strata." + run.Kind + "." + run.Dataset,
			Facets: map[string]any{"jobType": o.facets.JobType(strings.ToUpper(run.Kind))}},
		Inputs:   cloneInputs(d.inputs),
		Outputs:  cloneOutputs(d.outputs),
		Producer: o.facets.Producer, SchemaURL: openlineage.SchemaURL,
	}
	if d.sql != "" {
		ev.Job.Facets["sql"] = o.facets.SQL(d.sql)
	}
	return ev
}

func (o *Observer) strataFacet(run archive.RunInfo) openlineage.StrataRunFacet {
	f := openlineage.StrataRunFacet{RunID: run.ID, Kind: run.Kind, Dataset: run.Dataset}
	if !run.From.IsZero() {
		from, to := run.From.UTC(), run.To.UTC()
		f.PeriodFrom, f.PeriodTo = &from, &to
	}
	return f
}

// fillStrata adds the catalog's record of the run to its facet.
func (o *Observer) fillStrata(f *openlineage.StrataRunFacet, objs []catalog.Object, recs []catalog.Lineage) {
	for i, obj := range objs {
		if i == maxFacetObjects {
			f.ObjectsNotListed = len(objs) - i
			break
		}
		f.ObjectList = append(f.ObjectList, openlineage.StrataObject{Key: obj.Key, Type: obj.Type,
			Day: obj.Day.Format(time.DateOnly), Rows: obj.Rows, Bytes: obj.Bytes, SHA256: obj.SHA256})
	}
	for _, l := range recs {
		f.LineageRecords = append(f.LineageRecords, l.ID)
		f.Layer3Rows += l.Layer3Rows
		if l.Kind != catalog.LineageAnalyticsArchive {
			f.Layer2RowsWritten += l.AnalyticsRows
		}
		if l.Layer3FirstID != nil && (f.Layer3FirstID == nil || *l.Layer3FirstID < *f.Layer3FirstID) {
			f.Layer3FirstID = l.Layer3FirstID
		}
		if l.Layer3LastID != nil && (f.Layer3LastID == nil || *l.Layer3LastID > *f.Layer3LastID) {
			f.Layer3LastID = l.Layer3LastID
		}
		if v := l.TransformVersion; v != "" && !slices.Contains(f.TransformVersions, v) {
			f.TransformVersions = append(f.TransformVersions, v)
		}
	}
}

// recordedSQL returns the recorded text of the transform the run used,
// when it used exactly one.
func (o *Observer) recordedSQL(ctx context.Context, dataset string, versions []string) string {
	if len(versions) != 1 {
		return ""
	}
	text, ok, err := catalog.TransformText(ctx, o.pool, dataset, versions[0])
	if err != nil || !ok {
		return ""
	}
	return text
}

// outputStatistics counts what the run wrote into each output.
func (o *Observer) outputStatistics(ev *openlineage.RunEvent, d *runDatasets, objs []catalog.Object, f openlineage.StrataRunFacet) {
	for i := range ev.Outputs {
		var rows, bytes, files int64
		switch role := d.roles[i]; role {
		case "layer3":
			rows = f.Layer3Rows
		case "layer2":
			rows = f.Layer2RowsWritten
		default: // an archive: its objects
			for _, obj := range objs {
				if obj.Type == role {
					rows, bytes, files = rows+obj.Rows, bytes+obj.Bytes, files+1
				}
			}
			if schema := schemaOf(objs, role); schema != nil {
				ev.Outputs[i].Facets["schema"] = o.facets.Schema(schema)
			}
		}
		ev.Outputs[i].OutputFacets = map[string]any{"outputStatistics": o.facets.OutputStatistics(rows, bytes, files)}
	}
}

// datasets names the run's inputs and outputs by its kind.
func (o *Observer) datasets(ctx context.Context, run archive.RunInfo) *runDatasets {
	d := &runDatasets{}
	ds, ok := o.cfg.Dataset(run.Dataset)
	if !ok {
		return d
	}
	layer3 := func() openlineage.Dataset { return o.table(ctx, ds.Source.Table.String()) }
	layer2 := func() openlineage.Dataset {
		if run.Into != "" {
			return o.table(ctx, run.Into)
		}
		return o.table(ctx, ds.Analytics.Table.String())
	}
	in := func(x openlineage.Dataset) { d.inputs = append(d.inputs, openlineage.InputDataset{Dataset: x}) }
	out := func(role string, x openlineage.Dataset) {
		d.outputs = append(d.outputs, openlineage.OutputDataset{Dataset: x})
		d.roles = append(d.roles, role)
	}
	transforms := ds.Transform != "" && ds.Source != nil && ds.Analytics != nil
	switch run.Kind {
	case catalog.LineageIngest, catalog.LineageSourceArchive:
		if ds.Source == nil {
			return d
		}
		if run.Kind == catalog.LineageIngest {
			out("layer3", layer3())
		} else {
			in(layer3())
		}
		out(catalog.TypeSource, o.archive(catalog.TypeSource, ds.Name))
		if transforms {
			out("layer2", layer2())
		}
	case catalog.LineageAnalyticsArchive:
		if ds.Analytics != nil {
			in(layer2())
		}
		out(catalog.TypeAnalytics, o.archive(catalog.TypeAnalytics, ds.Name))
	case catalog.LineageReplay:
		in(o.archive(catalog.TypeSource, ds.Name))
		if ds.Analytics != nil {
			out("layer2", layer2())
		}
		out(catalog.TypeAnalytics, o.archive(catalog.TypeAnalytics, ds.Name))
	case catalog.LineageRestore:
		in(o.archive(catalog.TypeAnalytics, ds.Name))
		if ds.Analytics != nil || run.Into != "" {
			out("layer2", layer2())
		}
	}
	if transforms && run.Kind != catalog.LineageAnalyticsArchive && run.Kind != catalog.LineageRestore {
		if t, err := transform.Load(o.cfg.TransformPath(ds)); err == nil {
			d.sql = t.Text()
		}
	}
	return d
}
