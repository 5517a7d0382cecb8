package tables

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/storage"
)

// Publisher keeps every configured format's tables of a set of datasets in
// step with the catalog. Publish is called after each Strata commit that
// changes a dataset's current objects, and at the start of every run, so a
// publish a crash or a storage failure prevented is done by the next call.
type Publisher struct {
	Pool    *pgxpool.Pool
	Catalog *catalog.Catalog
	Storage storage.Backend
	Prefix  storage.Key
	Formats []Format
	// Specs returns the tables of a dataset (its archive types and their
	// time columns); nil for a dataset that is not configured.
	Specs func(dataset string) []Spec
	// Failed, when set, is told of every failed publish (metrics).
	Failed func(dataset, format string)
	Log    *slog.Logger

	bg sync.WaitGroup
	mu sync.Mutex
	// async is, per dataset with a background publish running, whether
	// another was asked for meanwhile (it then runs once more).
	async map[string]bool
}

// LockKey is the advisory lock that serializes publishing a dataset's
// tables, across processes.
func LockKey(dataset string) string { return "strata:tables:" + dataset }

// Publish brings every table of dataset, in every format, to the catalog's
// current state, under the dataset's tables lock, and records each
// version published. A table with a recorded publication gets only the
// changes since (LoadChanges); one without, or one its format finds is not
// the table recorded (ErrStale), is published whole (Load). It tries every
// table and format and returns their errors joined.
func (p *Publisher) Publish(ctx context.Context, dataset string) error {
	return p.publish(ctx, dataset, false)
}

// Rebuild is Publish with every table published whole, from the catalog
// alone, whatever was recorded (strata tables rebuild).
func (p *Publisher) Rebuild(ctx context.Context, dataset string) error {
	return p.publish(ctx, dataset, true)
}

func (p *Publisher) publish(ctx context.Context, dataset string, whole bool) error {
	if p == nil || len(p.Formats) == 0 {
		return nil
	}
	specs := p.Specs(dataset)
	if specs == nil {
		return fmt.Errorf("tables: dataset %q is not configured", dataset)
	}
	lock, err := p.Catalog.Lock(ctx, LockKey(dataset))
	if err != nil {
		return fmt.Errorf("tables %s: %w", dataset, err)
	}
	defer lock.Unlock(context.WithoutCancel(ctx))
	var pubs []catalog.Publication
	if !whole {
		if pubs, err = catalog.Publications(ctx, p.Pool, dataset); err != nil {
			return fmt.Errorf("tables %s: %w", dataset, err)
		}
	}
	var errs []error
	for _, spec := range specs {
		l := loader{p: p, spec: spec, changes: map[string]*Table{}}
		for _, f := range p.Formats {
			pub, ok := findPublication(pubs, spec.Type, f.Name())
			t, state, err := l.publish(ctx, f, pub, ok)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if err := catalog.RecordPublication(ctx, p.Pool, catalog.Publication{Dataset: dataset, Type: spec.Type,
				Format: f.Name(), Version: t.Version, Objects: t.Count, Snapshot: t.Snapshot, State: state}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// loader loads one spec's Table for the formats, each load once: the whole
// table, or the changes since a snapshot.
type loader struct {
	p       *Publisher
	spec    Spec
	whole   *Table
	changes map[string]*Table // by the snapshot they follow
}

// publish publishes f's table: the changes since pub when it has one
// (recorded with its snapshot and state), else, or when f finds its table
// is not pub's, the whole table. It returns the Table published and f's
// state of it.
func (l *loader) publish(ctx context.Context, f Format, pub catalog.Publication, ok bool) (Table, string, error) {
	spec, p := l.spec, l.p
	if ok && pub.Snapshot != "" && pub.State != "" {
		t, err := l.load(ctx, &pub)
		if err != nil {
			p.failed(spec.Dataset, "all")
			return Table{}, "", err
		}
		t.Base = pub.State
		state, err := f.Publish(ctx, t)
		if err == nil {
			return t, state, nil
		}
		if !errors.Is(err, ErrStale) {
			p.failed(spec.Dataset, f.Name())
			return Table{}, "", fmt.Errorf("%s table %s/%s: %w", f.Name(), spec.Type, spec.Dataset, err)
		}
		if p.Log != nil {
			p.Log.Info("lakehouse table is not the one last recorded as published; publishing it whole",
				"dataset", spec.Dataset, "type", spec.Type, "format", f.Name(), "reason", err)
		}
	}
	t, err := l.load(ctx, nil)
	if err != nil {
		p.failed(spec.Dataset, "all")
		return Table{}, "", err
	}
	state, err := f.Publish(ctx, t)
	if err != nil {
		p.failed(spec.Dataset, f.Name())
		return Table{}, "", fmt.Errorf("%s table %s/%s: %w", f.Name(), spec.Type, spec.Dataset, err)
	}
	return t, state, nil
}

// load is the whole Table (since nil) or the changes since a publication,
// loaded once per publish of the spec.
func (l *loader) load(ctx context.Context, since *catalog.Publication) (Table, error) {
	p := l.p
	if since == nil {
		if l.whole == nil {
			t, err := Load(ctx, p.Pool, p.Storage, p.Prefix, l.spec)
			if err != nil {
				return Table{}, err
			}
			l.whole = &t
		}
		return *l.whole, nil
	}
	key := fmt.Sprint(since.Version, "@", since.Snapshot)
	if t, ok := l.changes[key]; ok {
		return *t, nil
	}
	t, err := LoadChanges(ctx, p.Pool, p.Storage, p.Prefix, l.spec, *since)
	if err != nil {
		return Table{}, err
	}
	l.changes[key] = &t
	return t, nil
}

func findPublication(pubs []catalog.Publication, typ, format string) (catalog.Publication, bool) {
	for _, pub := range pubs {
		if pub.Type == typ && pub.Format == format {
			return pub, true
		}
	}
	return catalog.Publication{}, false
}

// PublishLogged is Publish for the end of a Strata commit: a failure is
// logged and counted, never returned, because the commit stands and the
// next Publish repairs the tables.
func (p *Publisher) PublishLogged(ctx context.Context, dataset string) {
	if p == nil || len(p.Formats) == 0 {
		return
	}
	if err := p.Publish(context.WithoutCancel(ctx), dataset); err != nil && p.Log != nil {
		p.Log.Warn("lakehouse tables not published; the next run publishes them", "dataset", dataset, "err", err)
	}
}

// PublishAsync is PublishLogged in the background (after an ingest, whose
// caller should not wait for the tables). Requests for a dataset whose
// publish is running coalesce into one more publish after it, so a burst
// of ingests makes at most two table commits, not one each. Wait waits
// for those running.
func (p *Publisher) PublishAsync(ctx context.Context, dataset string) {
	if p == nil || len(p.Formats) == 0 {
		return
	}
	p.mu.Lock()
	if _, running := p.async[dataset]; running {
		p.async[dataset] = true
		p.mu.Unlock()
		return
	}
	if p.async == nil {
		p.async = map[string]bool{}
	}
	p.async[dataset] = false
	p.bg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.bg.Done()
		for {
			p.PublishLogged(context.WithoutCancel(ctx), dataset)
			p.mu.Lock()
			again := p.async[dataset]
			if !again {
				delete(p.async, dataset)
				p.mu.Unlock()
				return
			}
			p.async[dataset] = false
			p.mu.Unlock()
		}
	}()
}

// Wait waits for the background publishes started so far.
func (p *Publisher) Wait() {
	if p != nil {
		p.bg.Wait()
	}
}

func (p *Publisher) failed(dataset, format string) {
	if p.Failed != nil {
		p.Failed(dataset, format)
	}
}

// ErrDamaged marks a table whose metadata cannot be read as the format
// wants it (a format wraps it; verify reports such a table as damaged).
var ErrDamaged = errors.New("the table's metadata is damaged")

// Difference is what verify found between a table and the catalog.
type Difference struct {
	Format, Dataset, Type string
	// Missing are committed, current objects the table does not list;
	// Extra are keys it lists that are not committed and current.
	Missing, Extra []string
	// Damaged, when not empty, says why the table could not be read.
	Damaged string
}

// Check compares each format's table of each spec with the catalog.
func (p *Publisher) Check(ctx context.Context, dataset string) ([]Difference, error) {
	var out []Difference
	for _, spec := range p.Specs(dataset) {
		objs, err := catalog.ListObjects(ctx, p.Pool, catalog.Filter{Dataset: spec.Dataset, Type: spec.Type})
		if err != nil {
			return nil, err
		}
		want := make([]string, len(objs))
		for i, o := range objs {
			want[i] = o.Key
		}
		slices.Sort(want)
		for _, f := range p.Formats {
			got, err := f.Listed(ctx, spec.Dataset, spec.Type)
			if errors.Is(err, ErrDamaged) {
				out = append(out, Difference{Format: f.Name(), Dataset: spec.Dataset, Type: spec.Type, Damaged: err.Error()})
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("%s table %s/%s: %w", f.Name(), spec.Type, spec.Dataset, err)
			}
			if got == nil && len(want) == 0 {
				continue
			}
			d := Difference{Format: f.Name(), Dataset: spec.Dataset, Type: spec.Type}
			d.Missing, d.Extra = diffSorted(want, got)
			if len(d.Missing) > 0 || len(d.Extra) > 0 {
				out = append(out, d)
			}
		}
	}
	return out, nil
}

// diffSorted returns the elements only in want and only in got.
func diffSorted(want, got []string) (missing, extra []string) {
	got = slices.Clone(got)
	slices.Sort(got)
	i, j := 0, 0
	for i < len(want) || j < len(got) {
		switch {
		case j == len(got) || i < len(want) && want[i] < got[j]:
			missing = append(missing, want[i])
			i++
		case i == len(want) || got[j] < want[i]:
			extra = append(extra, got[j])
			j++
		default:
			i++
			j++
		}
	}
	return missing, extra
}
