// Package testenv gives a test the environment most of Strata's tests run
// in: a fresh database (internal/pgtest), an empty archive of a kind (a
// local folder or an Azurite container), the example datasets (customers,
// scor_metrics, orders; internal/demo and transforms/) created in the
// database, and a strata.yaml for them written with the test's options.
// It does not import the root package, so any test can use it; a Service
// on an Env comes from the subpackage testsvc.
package testenv

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/demo"
	"github.com/stratahq/strata/internal/pgtest"
	"github.com/stratahq/strata/transforms"
)

// Options say what New builds.
type Options struct {
	// Storage is the archive's kind: Local (the default) or Azurite.
	Storage string
	// StorageURL replaces the archive New makes (Storage is then unused).
	StorageURL string
	// Prefix is storage.prefix ("" leaves it out).
	Prefix string
	// Datasets are created in the database and written to the config, in
	// this order.
	Datasets []Dataset
	// Extra is YAML added at the top level of the config (log:, server:).
	Extra string
}

// Env is one test's environment. Everything in it is removed when the test
// ends.
type Env struct {
	t testing.TB
	// DBURL is the database's URL, Pool a pool connected to it.
	DBURL string
	Pool  *pgxpool.Pool
	// Dir is the folder of the config and the transforms.
	Dir string
	// ConfigPath is Dir/strata.yaml.
	ConfigPath string
	// StorageURL is the archive's storage.url; ArchiveDir its folder when
	// the archive is local ("" otherwise).
	StorageURL, ArchiveDir string
	// Vars are the environment variables Strata needs to reach the
	// archive (AZURE_STORAGE_KEY for Azurite), plus STRATA_CONFIG.
	Vars map[string]string
}

// New builds an Env: a database with o.Datasets' tables, an empty archive
// and the config.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	dbURL, pool := pgtest.NewDB(t)
	e := &Env{t: t, DBURL: dbURL, Pool: pool, Dir: t.TempDir(), Vars: map[string]string{}}
	e.ConfigPath = filepath.Join(e.Dir, "strata.yaml")
	e.Vars["STRATA_CONFIG"] = e.ConfigPath
	e.StorageURL = o.StorageURL
	if e.StorageURL == "" {
		e.StorageURL, e.ArchiveDir = NewStorage(t, o.Storage, e.Vars)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, ds := range o.Datasets {
		e.create(ctx, ds)
	}
	e.WriteFile("strata.yaml", renderConfig(e.DBURL, e.StorageURL, o))
	return e
}

// create makes ds's tables and writes its transform.
func (e *Env) create(ctx context.Context, ds Dataset) {
	e.t.Helper()
	if ds.Transform != "" {
		text, err := transforms.FS.ReadFile(ds.Name + ".sql")
		if err != nil {
			e.t.Fatalf("no example transform for %s: %v", ds.Name, err)
		}
		e.WriteFile(ds.Transform, string(text))
	}
	d, ok := exampleOf(ds.Name)
	if !ok || ds.Key != "" {
		return // the test's own tables
	}
	if ds.PerDay > 0 {
		d.PerDay = ds.PerDay
	}
	if err := demo.Create(ctx, e.Pool, d, ds.Days); err != nil {
		e.t.Fatal(err)
	}
	if ds.Source {
		if err := demo.CreateSource(ctx, e.Pool, d); err != nil {
			e.t.Fatal(err)
		}
	}
}

// Example returns the example dataset called name (internal/demo).
func Example(t testing.TB, name string) demo.Dataset {
	t.Helper()
	d, ok := exampleOf(name)
	if !ok {
		t.Fatalf("no example dataset %q (customers, scor_metrics, orders)", name)
	}
	return d
}

func exampleOf(name string) (demo.Dataset, bool) {
	i := slices.IndexFunc(demo.Datasets, func(d demo.Dataset) bool { return d.Name == name })
	if i < 0 {
		return demo.Dataset{}, false
	}
	return demo.Datasets[i], true
}

// WriteFile writes text to name (relative to Dir, folders made) and
// returns its path.
func (e *Env) WriteFile(name, text string) string {
	e.t.Helper()
	path := filepath.Join(e.Dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return path
}

// Getenv looks variables up in Vars, for Strata's Getenv options.
func (e *Env) Getenv(k string) string { return e.Vars[k] }

// Config loads the config New wrote.
func (e *Env) Config() *config.Config {
	e.t.Helper()
	cfg, err := config.Load(e.ConfigPath, e.Getenv)
	if err != nil {
		e.t.Fatalf("load %s: %v", e.ConfigPath, err)
	}
	return cfg
}

// Exec runs sql on the database, failing the test on an error.
func (e *Env) Exec(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.Pool.Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

// Count returns the single number sql selects.
func (e *Env) Count(sql string, args ...any) int64 {
	e.t.Helper()
	var n int64
	if err := e.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// Ints returns the single integer column sql selects.
func (e *Env) Ints(sql string, args ...any) []int64 {
	e.t.Helper()
	rows, err := e.Pool.Query(context.Background(), sql, args...)
	if err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
	return ids
}
