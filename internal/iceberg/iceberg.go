// Package iceberg publishes a dataset's archive as Apache Iceberg tables
// (a [tables.Format]), with github.com/apache/iceberg-go.
//
// Each dataset and archive type is the table strata.{type}.{dataset} of a
// SQL catalog kept in the same PostgreSQL, in the schema strata_iceberg
// (iceberg_tables and iceberg_namespace_properties, the tables Spark's and
// Trino's JDBC catalogs read). The table's location is
// {prefix}/{type}/{dataset}/_iceberg: its metadata (metadata.json, manifest
// lists, manifests) is written there, create-only, through Strata's own
// storage (an iceberg-go file system over storage.Backend, io.go), so a
// Delta VACUUM, which skips folders starting with '_', never touches it,
// and an engine's orphan-file removal, which looks only under the
// location, never sees the archive's objects. The data files are the
// archive's objects where they lie, registered from the catalog's
// statistics without being read, partitioned by day of the time column.
package iceberg

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog"
	sqlcat "github.com/apache/iceberg-go/catalog/sql"
	"github.com/apache/iceberg-go/table"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/stratahq/strata/internal/failpoint"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/tables"
)

// Names of the catalog and of its PostgreSQL schema.
const (
	// CatalogName is iceberg_tables.catalog_name: the name engines give
	// the JDBC catalog (spark.sql.catalog.strata).
	CatalogName = "strata"
	// Schema is the PostgreSQL schema holding the catalog's tables.
	Schema = "strata_iceberg"
	// metadataDir is the folder, under a table's root, of its metadata.
	metadataDir = "_iceberg"
)

// Snapshot summary properties a publish records.
const (
	// SummaryVersion is the catalog version (tables.Table.Version) the
	// snapshot publishes.
	SummaryVersion = "strata.version"
)

// StepAfterMetadata is the failpoint hit after a publish has stored its
// new metadata.json and before the catalog points at it.
const StepAfterMetadata = "iceberg-after-metadata"

// Options configure a Format.
type Options struct {
	// Pool is Strata's database pool; the catalog opens a small pool of
	// its own on the same database, with search_path set to Schema.
	Pool *pgxpool.Pool
	// Store is the archive storage; StorageURL its storage.url, from which
	// the locations engines open are derived (file://, s3://, abfss://).
	Store      storage.Backend
	StorageURL string
	// Retention, when set, is the retention a metadata file written at now
	// asks the store for (the archive's, where archive.immutability is on).
	Retention func(now time.Time) storage.Retention
	// Failpoints may stop a publish at StepAfterMetadata.
	Failpoints failpoint.Set
}

// Format is the Iceberg tables.Format.
type Format struct {
	db    *sql.DB
	store storage.Backend
	loc   locator
	ret   func(time.Time) storage.Retention
	fp    failpoint.Set
}

var _ tables.Format = (*Format)(nil)

// New returns the Format; Close releases its database connections.
func New(o Options) (*Format, error) {
	loc, err := newLocator(o.StorageURL)
	if err != nil {
		return nil, err
	}
	cc := o.Pool.Config().ConnConfig.Copy()
	cc.RuntimeParams["search_path"] = Schema
	db := stdlib.OpenDB(*cc)
	db.SetMaxOpenConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	return &Format{db: db, store: o.Store, loc: loc, ret: o.Retention, fp: o.Failpoints}, nil
}

// Close releases the catalog's database connections.
func (f *Format) Close() error { return f.db.Close() }

// Name is "iceberg".
func (f *Format) Name() string { return "iceberg" }

// session is one call's catalog, its file system registered for the call.
type session struct {
	cat     *sqlcat.Catalog
	release func()
}

func (f *Format) open(ctx context.Context) (*session, error) {
	b := &blobIO{ctx: ctx, store: f.store, loc: f.loc, retention: f.ret}
	b.written = func(k storage.Key) error {
		if isMetadataJSON(k) {
			return f.fp.Hit(StepAfterMetadata)
		}
		return nil
	}
	props, release := register(b)
	props["init_catalog_tables"] = "false"
	cat, err := sqlcat.NewCatalog(CatalogName, f.db, sqlcat.Postgres, props)
	if err != nil {
		release()
		return nil, fmt.Errorf("iceberg: open the SQL catalog in schema %s: %w", Schema, err)
	}
	return &session{cat: cat, release: func() { _ = cat.Close(); release() }}, nil
}

func isMetadataJSON(k storage.Key) bool {
	s := k.String()
	return len(s) > len(".metadata.json") && s[len(s)-len(".metadata.json"):] == ".metadata.json"
}

func ident(dataset, typ string) table.Identifier { return table.Identifier{typ, dataset} }

// Listed returns the storage keys of the data files of the table's
// current snapshot; nil, nil when the table does not exist.
func (f *Format) Listed(ctx context.Context, dataset, typ string) ([]string, error) {
	s, err := f.open(ctx)
	if err != nil {
		return nil, err
	}
	defer s.release()
	tbl, err := s.cat.LoadTable(ctx, ident(dataset, typ))
	if errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("iceberg: load table %s.%s: %w", typ, dataset, err)
	}
	files, err := currentFiles(ctx, tbl)
	if err != nil {
		return nil, fmt.Errorf("iceberg: table %s.%s: %w", typ, dataset, err)
	}
	keys := make([]string, 0, len(files))
	for uri := range files {
		k, err := f.loc.key(uri)
		if err != nil {
			return nil, fmt.Errorf("iceberg: table %s.%s: %w", typ, dataset, err)
		}
		keys = append(keys, k.String())
	}
	slices.Sort(keys)
	return keys, nil
}

// currentFiles are the data files of tbl's current snapshot by location.
func currentFiles(ctx context.Context, tbl *table.Table) (map[string]iceberg.DataFile, error) {
	out := map[string]iceberg.DataFile{}
	snap := tbl.CurrentSnapshot()
	if snap == nil {
		return out, nil
	}
	fsys, err := tbl.FS(ctx)
	if err != nil {
		return nil, err
	}
	manifests, err := snap.Manifests(fsys)
	if err != nil {
		return nil, fmt.Errorf("read manifest list: %w", err)
	}
	for _, m := range manifests {
		if m.ManifestContent() != iceberg.ManifestContentData {
			continue
		}
		for e, err := range m.Entries(fsys, true) {
			if err != nil {
				return nil, fmt.Errorf("read manifest %s: %w", m.FilePath(), err)
			}
			out[e.DataFile().FilePath()] = e.DataFile()
		}
	}
	return out, nil
}

// Publish makes the table list exactly t.Objects with t.Columns as its
// schema, in one Iceberg commit: the columns t has and the table lacks are
// added (schema evolution, ids kept by name), the files the table lists
// and t does not are removed, t's other objects added, with t.Version in
// the snapshot's summary. A table already listing exactly t.Objects with
// t's columns gets no commit. After a failure at any point the next call
// repairs: nothing is visible to readers until the catalog row moves to
// the new metadata.json, and the files written before are never reused.
// An incremental t is committed by publishChanges. The state returned is
// the table's metadata location and a hash of t's columns, "" without a
// table.
func (f *Format) Publish(ctx context.Context, t tables.Table) (string, error) {
	if t.Incremental {
		return f.publishChanges(ctx, t)
	}
	s, err := f.open(ctx)
	if err != nil {
		return "", err
	}
	defer s.release()
	var want *iceberg.Schema
	if len(t.Columns) > 0 {
		if want, err = schemaOf(t.Columns); err != nil {
			return "", fmt.Errorf("iceberg: table %s.%s: %w", t.Type, t.Dataset, err)
		}
	}
	tbl, err := s.cat.LoadTable(ctx, ident(t.Dataset, t.Type))
	switch {
	case errors.Is(err, catalog.ErrNoSuchTable) || errors.Is(err, catalog.ErrNoSuchNamespace):
		if want == nil {
			return "", nil // no object and no column: no table until there is one
		}
		if tbl, err = f.create(ctx, s.cat, t, want); err != nil {
			return "", err
		}
	case err != nil:
		return "", fmt.Errorf("iceberg: load table %s.%s: %w", t.Type, t.Dataset, err)
	case want == nil:
		want = tbl.Schema() // every object gone (restored, expired): the columns stay
	}
	cur, err := currentFiles(ctx, tbl)
	if err != nil {
		return "", fmt.Errorf("iceberg: table %s.%s: %w", t.Type, t.Dataset, err)
	}
	wanted := make(map[string]bool, len(t.Objects))
	var add []tables.Object
	for _, o := range t.Objects {
		uri, err := f.uri(o)
		if err != nil {
			return "", err
		}
		wanted[uri] = true
		if _, ok := cur[uri]; !ok {
			add = append(add, o)
		}
	}
	var remove []iceberg.DataFile
	for _, uri := range slices.Sorted(maps.Keys(cur)) {
		if !wanted[uri] {
			remove = append(remove, cur[uri])
		}
	}
	if tbl, err = f.commit(ctx, tbl, t, want, remove, add, true); err != nil {
		return "", fmt.Errorf("iceberg: publish %s.%s version %d: %w", t.Type, t.Dataset, t.Version, err)
	}
	return state(tbl.MetadataLocation(), t.Columns), nil
}

// state is what a publish records: the metadata location the catalog
// points at and a hash of the columns published.
func state(location string, cols []parquetio.Column) string {
	if len(cols) == 0 {
		return location + " -"
	}
	b, _ := json.Marshal(cols)
	h := sha256.Sum256(b)
	return location + " " + hex.EncodeToString(h[:12])
}

// publishChanges commits t's changes (an incremental Table) onto the table
// recorded as t.Base: the catalog must still point at its metadata file,
// else it is tables.ErrStale. With nothing changed and the same columns it
// opens nothing; an add-only commit reads no manifest (fast append,
// without iceberg-go's duplicate check: the catalog says the files are
// new since the table's state); removes, and objects that may be listed
// already (t.Unsure), read the manifests, as an Iceberg delete must
// rewrite the ones listing a file anyway.
func (f *Format) publishChanges(ctx context.Context, t tables.Table) (string, error) {
	base, _, ok := strings.Cut(t.Base, " ")
	if !ok || base == "" {
		return "", fmt.Errorf("iceberg: recorded state %q is not an Iceberg state: %w", t.Base, tables.ErrStale)
	}
	loc, err := f.metadataLocation(ctx, t.Dataset, t.Type)
	if err != nil {
		return "", err
	}
	if loc != base {
		return "", fmt.Errorf("iceberg: table %s.%s is at %q, not %q as last published: %w", t.Type, t.Dataset, loc, base, tables.ErrStale)
	}
	if len(t.Objects) == 0 && len(t.Removed) == 0 && (len(t.Columns) == 0 || state(base, t.Columns) == t.Base) {
		return t.Base, nil
	}
	s, err := f.open(ctx)
	if err != nil {
		return "", err
	}
	defer s.release()
	tbl, err := s.cat.LoadTable(ctx, ident(t.Dataset, t.Type))
	if err != nil {
		return "", fmt.Errorf("iceberg: load table %s.%s: %w", t.Type, t.Dataset, err)
	}
	if tbl.MetadataLocation() != base {
		return "", fmt.Errorf("iceberg: table %s.%s moved on to %q: %w", t.Type, t.Dataset, tbl.MetadataLocation(), tables.ErrStale)
	}
	want := tbl.Schema()
	if len(t.Columns) > 0 {
		if want, err = schemaOf(t.Columns); err != nil {
			return "", fmt.Errorf("iceberg: table %s.%s: %w", t.Type, t.Dataset, err)
		}
	}
	add := t.Objects
	var remove []iceberg.DataFile
	if len(t.Removed) > 0 || t.Unsure {
		cur, err := currentFiles(ctx, tbl)
		if err != nil {
			return "", fmt.Errorf("iceberg: table %s.%s: %w", t.Type, t.Dataset, err)
		}
		add = nil
		for _, o := range t.Objects {
			uri, err := f.uri(o)
			if err != nil {
				return "", err
			}
			if _, ok := cur[uri]; !ok {
				add = append(add, o)
			}
		}
		for _, o := range t.Removed {
			uri, err := f.uri(o)
			if err != nil {
				return "", err
			}
			if df, ok := cur[uri]; ok {
				remove = append(remove, df)
			}
		}
	}
	if tbl, err = f.commit(ctx, tbl, t, want, remove, add, false); err != nil {
		return "", fmt.Errorf("iceberg: publish %s.%s version %d: %w", t.Type, t.Dataset, t.Version, err)
	}
	return state(tbl.MetadataLocation(), t.Columns), nil
}

// metadataLocation is the metadata file the catalog points at for the
// table ("" when there is none), read from the catalog's table directly.
func (f *Format) metadataLocation(ctx context.Context, dataset, typ string) (string, error) {
	var loc sql.NullString
	err := f.db.QueryRowContext(ctx, `SELECT metadata_location FROM `+Schema+`.iceberg_tables
		WHERE catalog_name = $1 AND table_namespace = $2 AND table_name = $3`, CatalogName, typ, dataset).Scan(&loc)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("iceberg: metadata location of %s.%s: %w", typ, dataset, err)
	}
	return loc.String, nil
}

// uri is the location of o's object.
func (f *Format) uri(o tables.Object) (string, error) {
	k, err := storage.ParseKey(o.Key)
	if err != nil {
		return "", fmt.Errorf("object %d: %w", o.ID, err)
	}
	return f.loc.uri(k), nil
}

// create creates the table and its namespace, with want as schema,
// partitioned by day of the time column, without a snapshot.
func (f *Format) create(ctx context.Context, cat *sqlcat.Catalog, t tables.Table, want *iceberg.Schema) (*table.Table, error) {
	id := ident(t.Dataset, t.Type)
	ns := table.Identifier{t.Type}
	if err := cat.CreateNamespace(ctx, ns, nil); err != nil && !errors.Is(err, catalog.ErrNamespaceAlreadyExists) {
		return nil, fmt.Errorf("iceberg: create namespace %s: %w", t.Type, err)
	}
	tc, ok := want.FindFieldByName(t.TimeColumn)
	if !ok {
		return nil, fmt.Errorf("iceberg: table %s.%s: time column %q is not among its columns", t.Type, t.Dataset, t.TimeColumn)
	}
	spec := iceberg.NewPartitionSpec(iceberg.PartitionField{
		SourceIDs: []int{tc.ID}, FieldID: 1000, Name: t.TimeColumn + "_day", Transform: iceberg.DayTransform{}})
	root, err := storage.ParseKey(t.Root)
	if err != nil {
		return nil, fmt.Errorf("iceberg: table %s.%s root: %w", t.Type, t.Dataset, err)
	}
	loc, err := root.Join(metadataDir)
	if err != nil {
		return nil, fmt.Errorf("iceberg: table %s.%s root: %w", t.Type, t.Dataset, err)
	}
	// Format 2: what Trino, Snowflake, Athena and Spark 3 all read.
	props := iceberg.Properties{"format-version": "2"}
	tbl, err := cat.CreateTable(ctx, id, want,
		catalog.WithLocation(f.loc.uri(loc)), catalog.WithPartitionSpec(&spec), catalog.WithProperties(props))
	if err != nil {
		return nil, fmt.Errorf("iceberg: create table %s.%s: %w", t.Type, t.Dataset, err)
	}
	return tbl, nil
}

// commit is a publish's one transaction on tbl: the schema evolved to
// want, remove removed and add added, with t.Version in the summary. It
// returns the table committed (tbl when nothing was to be done). With
// dupCheck off an add-only commit does not scan the table's manifests.
func (f *Format) commit(ctx context.Context, tbl *table.Table, t tables.Table, want *iceberg.Schema,
	remove []iceberg.DataFile, add []tables.Object, dupCheck bool) (*table.Table, error) {
	evolve := schemaChanged(tbl.Schema(), want)
	if !evolve && len(remove) == 0 && len(add) == 0 && tbl.NameMapping() != nil {
		return tbl, nil
	}
	tx := tbl.NewTransaction()
	if evolve {
		if err := tx.UpdateSchema(true, false).UnionByNameWith(want).Commit(); err != nil {
			return nil, fmt.Errorf("evolve the schema: %w", err)
		}
	}
	// Strata's Parquet carries no field ids: engines match columns by
	// name through the table's name mapping, kept current here.
	staged, err := tx.StagedTable()
	if err != nil {
		return nil, err
	}
	sc, spec := staged.Schema(), staged.Spec()
	mapping, err := nameMappingJSON(sc)
	if err != nil {
		return nil, err
	}
	if err := tx.SetProperties(iceberg.Properties{table.DefaultNameMappingKey: mapping}); err != nil {
		return nil, err
	}
	files := make([]iceberg.DataFile, 0, len(add))
	for _, o := range add {
		uri, err := f.uri(o)
		if err != nil {
			return nil, err
		}
		df, err := dataFile(sc, spec, uri, o)
		if err != nil {
			return nil, err
		}
		files = append(files, df)
	}
	slices.SortFunc(files, func(a, b iceberg.DataFile) int { return strings.Compare(a.FilePath(), b.FilePath()) })
	summary := iceberg.Properties{SummaryVersion: strconv.FormatInt(t.Version, 10)}
	opts := []table.WriteOption{table.WithoutAutoNameMapping()}
	if !dupCheck {
		opts = append(opts, table.WithoutDuplicateCheck())
	}
	switch {
	case len(remove) > 0:
		err = tx.ReplaceDataFilesWithDataFiles(ctx, remove, files, summary, opts...)
	case len(files) > 0:
		err = tx.AddDataFiles(ctx, files, summary, opts...)
	}
	if err != nil {
		return nil, err
	}
	out, err := tx.Commit(ctx)
	if err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return out, nil
}

// nameMappingJSON is sc's name mapping as the table property holds it.
func nameMappingJSON(sc *iceberg.Schema) (string, error) {
	b, err := json.Marshal(sc.NameMapping())
	if err != nil {
		return "", fmt.Errorf("name mapping: %w", err)
	}
	return string(b), nil
}
