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
// version published. It tries every table and format and returns their
// errors joined.
func (p *Publisher) Publish(ctx context.Context, dataset string) error {
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
	var errs []error
	for _, spec := range specs {
		t, err := Load(ctx, p.Pool, p.Storage, p.Prefix, spec)
		if err != nil {
			errs = append(errs, err)
			p.failed(dataset, "all")
			continue
		}
		for _, f := range p.Formats {
			if err := f.Publish(ctx, t); err != nil {
				errs = append(errs, fmt.Errorf("%s table %s/%s: %w", f.Name(), spec.Type, dataset, err))
				p.failed(dataset, f.Name())
				continue
			}
			if err := catalog.RecordPublication(ctx, p.Pool, catalog.Publication{Dataset: dataset, Type: spec.Type,
				Format: f.Name(), Version: t.Version, Objects: int64(len(t.Objects))}); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
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
