package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
)

// RewriteTable is the temporary table Rewrite.Load fills with an object's
// rows (its own columns, plus RewriteOrd, the row's position in the object).
const (
	RewriteTable = `pg_temp.strata_rewrite`
	RewriteOrd   = `__strata_ord`
)

// Rewrite replaces committed objects by copies without some of their rows
// (strata erase): for each object, Load copies its rows into RewriteTable,
// the caller deletes the rows to drop, and Commit writes what is left as a
// new object with the archive protocol (intent, create-only upload, stat
// back, the failpoints of an archive run) and commits it in tx, the old
// object superseded by it. The new object is the old one but for the rows
// dropped: the same columns and types (the old object's, not the table's
// now), row order, key-value metadata (plus KeySupersedes), transform
// version and expiry. The uploads belong to a run whose lock is taken in
// tx, as Supersede's: if tx rolls back they become orphans that the next
// run adopts (the same rows give the same bytes) or `verify --repair`
// removes.
type Rewrite struct {
	a       *Archiver
	tx      pgx.Tx
	dataset string
	opts    RewriteOptions
	runID   int64
	staged  []*staged
	bytes   int64
}

// RewriteOptions are the writer settings of a dataset's new objects.
type RewriteOptions struct {
	Compression  string
	RowGroupRows int
	// AnalyticsKey are the key columns of analytics objects (bloom
	// filters and the catalog key range); source objects have none.
	AnalyticsKey []string
}

// NewRewrite prepares the rewriting of dataset's objects in tx. Its run
// (command "erase") starts with the first Commit.
func (a *Archiver) NewRewrite(tx pgx.Tx, dataset string, opts RewriteOptions) *Rewrite {
	return &Rewrite{a: a, tx: tx, dataset: dataset, opts: opts}
}

// RunID is the run the rewrite's uploads belong to (0 before the first
// Commit).
func (rw *Rewrite) RunID() int64 { return rw.runID }

// start starts the run before the first upload. Uploads of dead runs of
// the dataset are settled first, so that those of a killed erasure are
// adopted rather than written twice; the run's lock is taken in tx, so
// it lives exactly as long as tx.
func (rw *Rewrite) start(ctx context.Context) error {
	if rw.runID != 0 {
		return nil
	}
	for _, typ := range []string{catalog.TypeSource, catalog.TypeAnalytics} {
		if _, err := rw.a.Catalog.SettleDeadRuns(ctx, rw.dataset, typ); err != nil {
			return err
		}
	}
	id, err := rw.a.Catalog.StartRun(ctx, "erase", rw.dataset, "")
	if err != nil {
		return err
	}
	var ok bool
	if err := rw.tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`, catalog.RunLockKey(id)).Scan(&ok); err != nil || !ok {
		return fmt.Errorf("take the lock of run %d (taken: %v): %w", id, !ok, err)
	}
	rw.runID = id
	return nil
}

// Load empties RewriteTable (creating it with o's columns) and copies o's
// rows into it, checked against the catalog's size, SHA-256 and rows.
func (rw *Rewrite) Load(ctx context.Context, o catalog.Object) (int64, error) {
	var cols []struct {
		Name string `json:"name"`
		Type string `json:"type"`
	}
	if err := json.Unmarshal(o.Schema, &cols); err != nil {
		return 0, fmt.Errorf("object %s: catalog schema: %w", o.Key, err)
	}
	defs := make([]string, 0, len(cols)+1)
	names := map[string]bool{}
	for _, c := range cols {
		if err := checkTypeName(ctx, rw.tx, c.Type); err != nil {
			return 0, fmt.Errorf("object %s column %q: %w", o.Key, c.Name, err)
		}
		defs = append(defs, pgx.Identifier{c.Name}.Sanitize()+" "+c.Type)
		names[c.Name] = true
	}
	defs = append(defs, RewriteOrd+" bigint GENERATED ALWAYS AS IDENTITY")
	if _, err := rw.tx.Exec(ctx, `DROP TABLE IF EXISTS `+RewriteTable+`;
		CREATE TEMP TABLE strata_rewrite (`+strings.Join(defs, ", ")+`) ON COMMIT DROP`); err != nil {
		return 0, fmt.Errorf("object %s: temporary table: %w", o.Key, err)
	}
	return rw.a.copyObject(ctx, rw.tx, o, RewriteTable, "the rewrite table", names)
}

// checkTypeName checks that a type name from the catalog is one type of
// this database before it is used in a column definition.
func checkTypeName(ctx context.Context, tx pgx.Tx, typ string) error {
	var ok bool
	if err := tx.QueryRow(ctx, `SELECT to_regtype($1) IS NOT NULL`, typ).Scan(&ok); err != nil {
		return err
	}
	if !ok || strings.ContainsAny(typ, ";'\\") || strings.Contains(typ, "--") || strings.Contains(typ, "/*") {
		return fmt.Errorf("archived type %q is not a type of this database", typ)
	}
	return nil
}

// writerKeys are the metadata keys the Parquet writer sets itself.
var writerKeys = []string{parquetio.KeyFormatVersion, parquetio.KeyRows, parquetio.KeyMinTime, parquetio.KeyMaxTime,
	parquetio.KeyTimeColumn, parquetio.KeySchemaFingerprint, parquetio.KeySchema}

// Commit writes the rows left in RewriteTable as o's successor, uploads
// it and, in tx, commits it and marks o superseded by it. It returns the
// new object.
func (rw *Rewrite) Commit(ctx context.Context, o catalog.Object) (catalog.Object, error) {
	key, err := storage.ParseKey(o.Key)
	if err != nil {
		return catalog.Object{}, err
	}
	if err := rw.start(ctx); err != nil {
		return catalog.Object{}, err
	}
	pr, err := parquetio.OpenWith(storage.NewReaderAt(ctx, rw.a.Store, key, o.VersionID), o.Bytes, parquetio.OpenOptions{})
	if err != nil {
		return catalog.Object{}, fmt.Errorf("read the footer of %s: %w", o.Key, err)
	}
	meta := pr.Metadata()
	opts := parquetio.WriterOptions{Compression: rw.opts.Compression, RowGroupRows: rw.opts.RowGroupRows,
		TimeColumn: meta[parquetio.KeyTimeColumn], Metadata: meta}
	if o.Type == catalog.TypeAnalytics {
		opts.KeyColumns = rw.opts.AnalyticsKey
	}
	for _, k := range writerKeys {
		delete(meta, k)
	}
	meta[KeySupersedes] = strconv.FormatInt(o.ID, 10)
	s, err := rw.write(ctx, pr.Schema(), opts)
	if err != nil {
		return catalog.Object{}, fmt.Errorf("rewrite %s: %w", o.Key, err)
	}
	s.day = o.Day
	n := &s.obj
	n.Dataset, n.Type, n.Day, n.SourceTable = o.Dataset, o.Type, o.Day, o.SourceTable
	n.SchemaFingerprint, n.Schema, n.TransformVersion = pr.Schema().Fingerprint(), o.Schema, o.TransformVersion
	// Kept as long, and as protected, as the old object.
	n.ExpiresAt, n.RetentionMode, n.RetainUntil = o.ExpiresAt, o.RetentionMode, o.RetainUntil
	if err := rw.a.stage(ctx, s, rw.runID); err != nil {
		return catalog.Object{}, fmt.Errorf("rewrite %s: %w", o.Key, err)
	}
	rw.staged = append(rw.staged, s)
	rw.bytes += s.bytes
	if err := rw.a.Failpoints.Hit("in-commit-before-delete"); err != nil {
		return catalog.Object{}, err
	}
	if err := catalog.Commit(ctx, rw.tx, n); err != nil {
		return catalog.Object{}, err
	}
	if err := catalog.MarkSuperseded(ctx, rw.tx, []int64{o.ID}, n.ID); err != nil {
		return catalog.Object{}, err
	}
	return *n, nil
}

// write writes RewriteTable's rows, in their old order, to a spool file.
func (rw *Rewrite) write(ctx context.Context, schema *parquetio.Schema, opts parquetio.WriterOptions) (*staged, error) {
	sw, err := rw.a.newSpoolWriter(schema, opts)
	if err != nil {
		return nil, err
	}
	sql := `SELECT ` + schema.SelectList() + ` FROM ` + RewriteTable + ` ORDER BY ` + RewriteOrd
	if err := copyRows(ctx, rw.tx, sw.w, sql, pgx.QueryResultFormats(schema.ResultFormats())); err != nil {
		sw.abort()
		return nil, err
	}
	s, _, err := sw.finish()
	return s, err
}

// Finish ends the run: after tx committed (err nil) the uploads are marked
// committed; otherwise they are orphaned at once. It returns err, or the
// error of recording the run's end.
func (rw *Rewrite) Finish(ctx context.Context, err error) error {
	if rw.runID == 0 {
		return err
	}
	ctx = context.WithoutCancel(ctx)
	for _, s := range rw.staged {
		s.cleanup()
	}
	ids := make([]int64, len(rw.staged))
	for i, s := range rw.staged {
		ids[i] = s.obj.ID
	}
	if err != nil {
		rw.a.orphan(ctx, rw.staged)
	} else if len(ids) > 0 {
		if merr := rw.a.Catalog.MarkCommitted(ctx, ids); merr != nil {
			rw.a.logger().Warn("objects committed; recording it in strata.uploads failed (the next run settles it)", "err", merr)
		}
	}
	var rows int64
	for _, s := range rw.staged {
		rows += s.rows
	}
	ferr := rw.a.Catalog.FinishRun(ctx, rw.runID, catalog.RunTotals{Rows: rows, Objects: len(ids), Bytes: rw.bytes}, err)
	if err == nil {
		err = ferr
	}
	return err
}
