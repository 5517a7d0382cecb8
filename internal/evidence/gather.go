// Package evidence builds the evidence chain of a dataset over a period
// (strata lineage): the raw records received, every batch and run that
// touched them, the transform texts used, the analytics objects of the
// period's days, totals, and an integrity statement that checks the counts
// against each other and, on request, the objects against the storage.
// It only reads: the catalog and the tables in one read-only snapshot,
// then the objects.
package evidence

import (
	"encoding/json"

	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/lineage"
	"github.com/stratahq/strata/internal/openlineage"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/transform"
)

// Request asks for the evidence chain of one dataset over a period.
type Request struct {
	Dataset *config.Dataset
	// TransformPath is the dataset's configured transform file ("" when
	// it has none): the report lists its text as the current transform.
	TransformPath string
	From, To      time.Time // inclusive; validated by the caller
	// Verify re-reads every listed object that has not expired and checks
	// its SHA-256 and size against the catalog.
	Verify bool
}

// Build reports the evidence chain of req.Dataset over [req.From,
// req.To]. Everything is read from the catalog and the tables in one
// read-only snapshot; with req.Verify the listed objects are then read
// back from store and checked.
func Build(ctx context.Context, pool *pgxpool.Pool, store storage.Backend, req Request) (*Report, error) {
	rep := &Report{Dataset: req.Dataset.Name, From: req.From.UTC(), To: req.To.UTC(),
		Source: Source{Objects: []Object{}}, Analytics: Analytics{Objects: []Object{}},
		Batches: []Batch{}, Transforms: []Transform{}, Candidates: []Candidate{}}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&rep.GeneratedAt); err != nil {
		return nil, err
	}
	rep.GeneratedAt = rep.GeneratedAt.UTC()
	g := &gatherer{db: tx, ds: req.Dataset, transformPath: req.TransformPath, rep: rep, objs: map[int64]catalog.Object{}}
	if err := g.gather(ctx); err != nil {
		return nil, err
	}
	_ = tx.Commit(ctx)
	if req.Verify {
		if err := verify(ctx, store, rep); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
	}
	rep.check()
	return rep, nil
}

// gatherer collects a report inside one snapshot.
type gatherer struct {
	db            catalog.DB
	ds            *config.Dataset
	transformPath string
	rep           *Report
	objs          map[int64]catalog.Object // every object named, by id
	recs          []catalog.Lineage
	in            map[int64]bool // lineage ids recorded in the period
	// currentText is the text of the config's transform file.
	currentText string
}

func (g *gatherer) gather(ctx context.Context) error {
	r := g.rep
	src, err := catalog.ObjectsInPeriod(ctx, g.db, g.ds.Name, catalog.TypeSource, r.From, r.To)
	if err != nil {
		return err
	}
	out, err := catalog.ObjectsInPeriod(ctx, g.db, g.ds.Name, catalog.TypeAnalytics, r.From, r.To)
	if err != nil {
		return err
	}
	g.add(src)
	g.add(out)
	if g.recs, err = catalog.ListLineage(ctx, g.db, catalog.LineageFilter{Dataset: g.ds.Name, From: &r.From, To: &r.To}); err != nil {
		return err
	}
	g.in = map[int64]bool{}
	for _, l := range g.recs {
		g.in[l.ID] = true
	}
	if err := g.laterRecords(ctx); err != nil {
		return err
	}
	if err := g.namedObjects(ctx); err != nil {
		return err
	}
	if err := g.batches(ctx); err != nil {
		return err
	}
	if err := g.transforms(ctx); err != nil {
		return err
	}
	g.candidates()
	if err := g.quarantine(ctx); err != nil {
		return err
	}
	return g.live(ctx)
}

// add remembers objects by id.
func (g *gatherer) add(objs []catalog.Object) {
	for _, o := range objs {
		g.objs[o.ID] = o
	}
}

// laterRecords adds the records outside the period that wrote, read,
// replaced or restored the period's objects (an analytics archive months
// later, a replay), so that the chain reaches every object listed.
func (g *gatherer) laterRecords(ctx context.Context) error {
	if len(g.objs) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(g.objs))
	since := g.rep.From
	for id, o := range g.objs {
		ids = append(ids, id)
		t := o.CreatedAt
		if o.CommittedAt != nil {
			t = *o.CommittedAt
		}
		if t.Before(since) {
			since = t
		}
	}
	more, err := catalog.LineageReferencing(ctx, g.db, g.ds.Name, since, ids)
	if err != nil {
		return err
	}
	for _, l := range more {
		if !g.in[l.ID] {
			g.recs = append(g.recs, l)
		}
	}
	slices.SortFunc(g.recs, func(a, b catalog.Lineage) int {
		return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID))
	})
	return nil
}

// namedObjects loads the objects the records name that are not listed
// yet (a source batch of old rows, objects that supersede the period's),
// so every key in the report resolves.
func (g *gatherer) namedObjects(ctx context.Context) error {
	var missing []int64
	for _, l := range g.recs {
		for _, ids := range [][]int64{l.SourceObjects, l.AnalyticsObjects, l.Superseded} {
			for _, id := range ids {
				if _, ok := g.objs[id]; !ok && !slices.Contains(missing, id) {
					missing = append(missing, id)
				}
			}
		}
	}
	for _, o := range g.objs {
		if o.SupersededBy != nil {
			if _, ok := g.objs[*o.SupersededBy]; !ok && !slices.Contains(missing, *o.SupersededBy) {
				missing = append(missing, *o.SupersededBy)
			}
		}
	}
	objs, err := catalog.ObjectsByID(ctx, g.db, missing)
	if err != nil {
		return err
	}
	g.add(objs)
	ids := make([]int64, 0, len(g.objs))
	for id := range g.objs {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b int64) int {
		oa, ob := g.objs[a], g.objs[b]
		return cmp.Or(oa.Day.Compare(ob.Day), cmp.Compare(a, b))
	})
	for _, id := range ids {
		o := g.lineageObject(g.objs[id])
		if o.Type == catalog.TypeSource {
			g.rep.Source.Objects = append(g.rep.Source.Objects, o)
		} else {
			g.rep.Analytics.Objects = append(g.rep.Analytics.Objects, o)
		}
	}
	return nil
}

func (g *gatherer) lineageObject(o catalog.Object) Object {
	lo := Object{ID: o.ID, Key: o.Key, Type: o.Type, Day: o.Day.Format(time.DateOnly), State: o.State,
		Rows: o.Rows, Bytes: o.Bytes, SHA256: o.SHA256, MinTime: utcPtr(o.MinTime), MaxTime: utcPtr(o.MaxTime),
		CommittedAt: utcPtr(o.CommittedAt), ExpiresAt: utcPtr(o.ExpiresAt), TransformVersion: o.TransformVersion, RunID: o.RunID,
		VersionID: o.VersionID}
	if o.SupersededBy != nil {
		lo.SupersededBy = fmt.Sprintf("object %d", *o.SupersededBy)
		if by, ok := g.objs[*o.SupersededBy]; ok {
			lo.SupersededBy = by.Key
		}
	}
	return lo
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// keys maps object ids to keys; an id the catalog does not hold shows as
// "missing object N" (check reports it).
func (g *gatherer) keys(ids []int64) (keys []string, rows int64) {
	keys = []string{}
	for _, id := range ids {
		o, ok := g.objs[id]
		if !ok {
			keys = append(keys, fmt.Sprintf("missing object %d", id))
			continue
		}
		keys = append(keys, o.Key)
		rows += o.Rows
	}
	return keys, rows
}

func (g *gatherer) batches(ctx context.Context) error {
	var runIDs []int64
	for _, l := range g.recs {
		if l.RunID != nil && !slices.Contains(runIDs, *l.RunID) {
			runIDs = append(runIDs, *l.RunID)
		}
	}
	runs, err := catalog.RunsByID(ctx, g.db, runIDs)
	if err != nil {
		return err
	}
	for _, l := range g.recs {
		b := Batch{ID: l.ID, At: l.At.UTC(), Kind: l.Kind, InPeriod: g.in[l.ID], RunID: l.RunID,
			PeriodFrom: utcPtr(l.From), PeriodTo: utcPtr(l.To), Layer3FirstID: l.Layer3FirstID, Layer3LastID: l.Layer3LastID,
			Layer3Rows: l.Layer3Rows, TransformVersion: l.TransformVersion, Detail: l.Detail}
		b.SourceObjects, b.SourceObjectRows = g.keys(l.SourceObjects)
		b.AnalyticsObjects, _ = g.keys(l.AnalyticsObjects)
		b.Superseded, _ = g.keys(l.Superseded)
		b.Moved = movedDetail(l.Detail)
		if l.Kind == catalog.LineageAnalyticsArchive {
			b.RowsArchived = l.AnalyticsRows
		} else {
			b.Layer2RowsWritten = l.AnalyticsRows
		}
		if l.RunID != nil {
			if run, ok := runs[*l.RunID]; ok {
				b.OpenLineageRunID = openlineage.StrataRunID(g.ds.Name, run.ID, run.StartedAt)
				b.Run = &Run{Command: run.Command, Status: run.Status, StartedAt: run.StartedAt.UTC(),
					FinishedAt: utcPtr(run.FinishedAt), Host: run.Host, PID: run.PID, Error: run.Error}
			}
		}
		g.rep.Batches = append(g.rep.Batches, b)
	}
	return nil
}

// transforms lists every version the period's batches and objects name,
// with its recorded text, and the current one from the config.
func (g *gatherer) transforms(ctx context.Context) error {
	byVersion := map[string]*Transform{}
	var order []string
	use := func(v string) *Transform {
		if v == "" {
			return nil
		}
		if t, ok := byVersion[v]; ok {
			return t
		}
		byVersion[v] = &Transform{Version: v, Used: true}
		order = append(order, v)
		return byVersion[v]
	}
	for _, b := range g.rep.Batches {
		if t := use(b.TransformVersion); t != nil && b.InPeriod {
			t.Batches++
			t.Records += b.Layer3Rows
			t.Layer2RowsWritten += b.Layer2RowsWritten
		}
	}
	for _, o := range slices.Concat(g.rep.Source.Objects, g.rep.Analytics.Objects) {
		use(o.TransformVersion)
	}
	cur := g.currentTransform()
	if cur != nil && cur.Version != "" {
		if _, used := byVersion[cur.Version]; !used {
			order = append(order, cur.Version)
			byVersion[cur.Version] = &Transform{Version: cur.Version}
		}
	}
	recorded, err := catalog.Transforms(ctx, g.db, g.ds.Name, order)
	if err != nil {
		return err
	}
	for _, v := range order {
		t := byVersion[v]
		if rt, ok := recorded[v]; ok {
			t.Text, t.Recorded = rt.Text, true
			first := rt.FirstUsed.UTC()
			t.FirstUsed = &first
		}
		if cur != nil && v == cur.Version {
			t.Current = true
			cur.UsedInPeriod = t.Used
			if !t.Recorded {
				t.Text = g.currentText
			}
		} else if cur != nil && t.Used {
			cur.Differs = true
		}
		g.rep.Transforms = append(g.rep.Transforms, *t)
	}
	g.rep.CurrentTransform = cur
	return nil
}

// currentTransform reads the config's transform file (setting currentText).
func (g *gatherer) currentTransform() *CurrentTransform {
	path := g.transformPath
	if path == "" {
		return nil
	}
	cur := &CurrentTransform{Path: path}
	t, err := transform.Load(path)
	if err != nil {
		cur.Error = err.Error()
		return cur
	}
	cur.Version = t.Version()
	g.currentText = t.Text()
	return cur
}

// movedDetail reads a replay's detail "moved" (nil when it has none).
func movedDetail(detail map[string]any) *lineage.MovedDetail {
	raw, ok := detail["moved"]
	if !ok {
		return nil
	}
	b, err := json.Marshal(raw)
	var m lineage.MovedDetail
	if err != nil || json.Unmarshal(b, &m) != nil {
		return nil
	}
	return &m
}
