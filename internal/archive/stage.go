package archive

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/tables"
)

// extractor reads a job's rows in the form the Parquet writer takes.
type extractor struct {
	schema     *parquetio.Schema
	schemaJSON []byte
	selectSQL  string
	// scanSQL reads every row before a cutoff ($1) in one pass.
	scanSQL     string
	resultFmt   pgx.QueryResultFormats
	fingerprint string
}

func newExtractor(ctx context.Context, tx pgx.Tx, spec AnalyticsSpec, j job) (*extractor, error) {
	cols, err := parquetio.LoadColumns(ctx, tx, j.parent.Ident())
	if err != nil {
		return nil, err
	}
	if err := hasColumns(cols, "analytics.time_column", spec.TimeColumn); err != nil {
		return nil, fmt.Errorf("table %s: %w", j.parent, err)
	}
	if err := hasColumns(cols, "analytics.key", spec.Key...); err != nil {
		return nil, fmt.Errorf("table %s: %w", j.parent, err)
	}
	schema, err := parquetio.NewSchema(cols)
	if err != nil {
		return nil, fmt.Errorf("table %s: %w", j.parent, err)
	}
	desc, err := json.Marshal(cols)
	if err != nil {
		return nil, err
	}
	col := pgx.Identifier{spec.TimeColumn}.Sanitize()
	from := `SELECT ` + schema.SelectList() + ` FROM ` + j.rel.Ident() + ` WHERE ` + col
	return &extractor{
		schema:      schema,
		schemaJSON:  desc,
		selectSQL:   from + ` >= $1 AND ` + col + ` < $2`,
		scanSQL:     from + ` < $1`,
		resultFmt:   pgx.QueryResultFormats(schema.ResultFormats()),
		fingerprint: schema.Fingerprint(),
	}, nil
}

// hasColumns checks that the configured columns exist, naming those that do.
func hasColumns(cols []parquetio.Column, setting string, names ...string) error {
	have := make(map[string]bool, len(cols))
	list := make([]string, len(cols))
	for i, c := range cols {
		have[c.Name], list[i] = true, c.Name
	}
	for _, n := range names {
		if !have[n] {
			return fmt.Errorf("%s: column %q does not exist (columns: %s)", setting, n, strings.Join(list, ", "))
		}
	}
	return nil
}

// staged is an object written, recorded and uploaded but not yet committed.
type staged struct {
	obj     catalog.Object
	day     time.Time
	rows    int64
	bytes   int64
	sha     string
	path    string
	adopted bool
}

func (s *staged) cleanup() {
	if s.path != "" {
		_ = os.Remove(s.path)
	}
}

// stageDay writes one day's rows to a spool file and takes the object through
// intent, upload and verification. It returns nil when the day has no rows.
func (a *Archiver) stageDay(ctx context.Context, tx pgx.Tx, ex *extractor, spec AnalyticsSpec, j job, day time.Time, runID int64) (*staged, error) {
	s, err := a.writeDay(ctx, tx, ex, spec, j, day)
	if err != nil || s == nil {
		return nil, err
	}
	return s, a.stage(ctx, s, runID)
}

// stage takes a written object through intent, upload and verification;
// on error it cleans up and leaves no upload unaccounted for.
func (a *Archiver) stage(ctx context.Context, s *staged, runID int64) error {
	if err := a.Failpoints.Hit("after-extract"); err != nil {
		s.cleanup()
		return err
	}
	if err := a.recordIntent(ctx, s, runID); err != nil {
		s.cleanup()
		return err
	}
	if err := a.uploadAndVerify(ctx, s); err != nil {
		a.orphan(context.WithoutCancel(ctx), []*staged{s})
		s.cleanup()
		return err
	}
	s.obj.ColumnStats = spoolStats(s.path)
	return nil
}

// spoolStats are the column statistics of the spool file at path, for the
// catalog (internal/tables publishes them without reading the object
// again); nil when they cannot be read, and the tables then read the
// object's footer.
func spoolStats(path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	r, err := parquetio.Open(f, fi.Size())
	if err != nil {
		return nil
	}
	b, err := tables.EncodeStats(tables.FileStats(r))
	if err != nil {
		return nil
	}
	return b
}

// spoolWriter writes one Parquet object to a spool file, counting and
// hashing the bytes as they go.
type spoolWriter struct {
	f  *os.File
	bw *bufio.Writer
	h  hash.Hash
	cw *countWriter
	w  *parquetio.Writer
	// key is the first key column, whose range the catalog records.
	key string
}

func (a *Archiver) newSpoolWriter(schema *parquetio.Schema, opts parquetio.WriterOptions) (*spoolWriter, error) {
	dir, err := a.spoolDir()
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "strata-*.parquet")
	if err != nil {
		return nil, fmt.Errorf("spool file: %w", err)
	}
	sw := &spoolWriter{f: f, h: sha256.New(), cw: &countWriter{}}
	if len(opts.KeyColumns) > 0 {
		sw.key = opts.KeyColumns[0]
	}
	sw.bw = bufio.NewWriterSize(io.MultiWriter(f, sw.h, sw.cw), 1<<20)
	if sw.w, err = parquetio.NewWriter(sw.bw, schema, opts); err != nil {
		sw.abort()
		return nil, err
	}
	return sw, nil
}

// finish closes the Parquet file and returns it as a staged object (rows,
// bytes, SHA-256 and min/max time filled in; catalog fields left to the caller).
func (sw *spoolWriter) finish() (*staged, parquetio.Stats, error) {
	stats, err := sw.w.Close()
	if err == nil {
		err = sw.bw.Flush()
	}
	if cerr := sw.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(sw.f.Name())
		return nil, stats, fmt.Errorf("write Parquet: %w", err)
	}
	s := &staged{path: sw.f.Name(), rows: stats.Rows, bytes: sw.cw.n, sha: hex.EncodeToString(sw.h.Sum(nil))}
	s.obj.Rows, s.obj.Bytes, s.obj.SHA256 = s.rows, s.bytes, s.sha
	if stats.HasTime {
		mn, mx := stats.MinTime, stats.MaxTime
		s.obj.MinTime, s.obj.MaxTime = &mn, &mx
	}
	if stats.HasKeyRange {
		s.obj.KeyColumn, s.obj.KeyMin, s.obj.KeyMax = sw.key, stats.KeyMin, stats.KeyMax
	}
	return s, stats, nil
}

// abort drops the spool file.
func (sw *spoolWriter) abort() {
	sw.f.Close()
	os.Remove(sw.f.Name())
}

// dayWriterOptions are the Parquet writer options of an analytics object of
// the table's day: the dataset's compression, row groups, time and key
// columns, and the metadata every analytics object carries.
func (spec AnalyticsSpec) dayWriterOptions(table string, day time.Time) parquetio.WriterOptions {
	return parquetio.WriterOptions{
		Compression:  spec.Compression,
		RowGroupRows: spec.RowGroupRows,
		TimeColumn:   spec.TimeColumn,
		KeyColumns:   spec.Key,
		Metadata: map[string]string{
			parquetio.KeyDataset:      spec.Dataset,
			parquetio.KeyArchiveType:  catalog.TypeAnalytics,
			parquetio.KeyTable:        table,
			parquetio.KeyPartitionDay: day.Format(time.DateOnly),
		},
	}
}

func (a *Archiver) writeDay(ctx context.Context, tx pgx.Tx, ex *extractor, spec AnalyticsSpec, j job, day time.Time) (*staged, error) {
	sw, err := a.newSpoolWriter(ex.schema, spec.dayWriterOptions(j.parent.String(), day))
	if err != nil {
		return nil, err
	}
	if err := copyRows(ctx, tx, sw.w, ex.selectSQL, ex.resultFmt, day, day.AddDate(0, 0, 1)); err != nil {
		sw.abort()
		return nil, fmt.Errorf("day %s: %w", day.Format(time.DateOnly), err)
	}
	s, stats, err := sw.finish()
	if err != nil {
		return nil, fmt.Errorf("day %s: %w", day.Format(time.DateOnly), err)
	}
	if stats.Rows == 0 {
		s.cleanup()
		return nil, nil
	}
	s.day = day
	ex.describe(s, spec, j.parent.String())
	return s, nil
}

// describe fills the catalog fields of a written object of day s.day.
func (ex *extractor) describe(s *staged, spec AnalyticsSpec, table string) {
	s.obj.Dataset, s.obj.Type, s.obj.Day, s.obj.SourceTable = spec.Dataset, catalog.TypeAnalytics, s.day, table
	s.obj.SchemaFingerprint, s.obj.Schema = ex.fingerprint, ex.schemaJSON
	s.setExpiry(spec.ArchiveRetention, spec.Immutability)
}

// copyRows streams the rows of a query (raw values in the query's result
// formats) into a Parquet writer.
func copyRows(ctx context.Context, tx pgx.Tx, w *parquetio.Writer, sql string, args ...any) error {
	return eachRow(ctx, tx, w.WriteRaw, sql, args...)
}

// eachRow calls put with the raw values of each row of a query. The
// statement is described on every run rather than taken from the
// connection's cache: after an ALTER TABLE a cached statement of a
// long-lived process fails ("cached plan must not change result type"), one
// pooled connection at a time.
func eachRow(ctx context.Context, tx pgx.Tx, put func([][]byte) error, sql string, args ...any) error {
	rows, err := tx.Query(ctx, sql, append([]any{pgx.QueryExecModeDescribeExec}, args...)...)
	if err != nil {
		return fmt.Errorf("read rows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := put(rows.RawValues()); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read rows: %w", err)
	}
	return nil
}

// recordIntent reuses an identical orphan of a crashed run or reserves a new
// key, and records the intent before any byte is uploaded. s.obj must have
// Dataset, Type, Day, Rows, Bytes and SHA256 set.
func (a *Archiver) recordIntent(ctx context.Context, s *staged, runID int64) error {
	o := &s.obj
	orphan, err := a.Catalog.FindAdoptable(ctx, o.Dataset, o.Type, s.day, s.sha, s.rows)
	if err != nil {
		return err
	}
	if orphan != nil {
		if err := a.Catalog.Readopt(ctx, orphan.ID, &runID); err != nil {
			return err
		}
		o.ID, o.Key, o.RunID, s.adopted = orphan.ID, orphan.Key, &runID, true
	} else {
		id, err := a.Catalog.NextID(ctx)
		if err != nil {
			return err
		}
		key, err := ObjectKey(a.Prefix, o.Type, o.Dataset, s.day, id)
		if err != nil {
			return err
		}
		o.ID, o.Key, o.RunID = id, key.String(), &runID
		if err := a.Catalog.RecordIntent(ctx, o); err != nil {
			return err
		}
	}
	return a.Failpoints.Hit("after-intent")
}

// uploadAndVerify puts the spool file create-only (unless an identical object
// is already there), reads its size and checksum back, and marks it uploaded.
func (a *Archiver) uploadAndVerify(ctx context.Context, s *staged) error {
	key, err := storage.ParseKey(s.obj.Key)
	if err != nil {
		return err
	}
	info, err := a.Store.Stat(ctx, key)
	switch {
	case errors.Is(err, storage.ErrNotExist):
		if err := a.put(ctx, key, s); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("stat %s: %w", key, err)
	case !s.adopted:
		return fmt.Errorf("object %s already exists but the catalog never recorded it: %w", key, storage.ErrExist)
	default:
		s.adopted = s.adopted && info.Size == s.bytes
	}
	if err := a.Failpoints.Hit("after-upload"); err != nil {
		return err
	}
	info, err = a.Store.Stat(ctx, key)
	if err != nil {
		return fmt.Errorf("read back %s: %w", key, err)
	}
	if s.obj.VersionID == "" {
		s.obj.VersionID = info.VersionID // adopted: the version a crashed run wrote
	}
	if info.Size != s.bytes || (info.SHA256 != "" && info.SHA256 != s.sha) {
		return fmt.Errorf("read back %s: size %d sha256 %s, want %d %s: %w",
			key, info.Size, info.SHA256, s.bytes, s.sha, storage.ErrChecksum)
	}
	if err := catalog.SetState(ctx, a.Catalog.Pool(), s.obj.ID, catalog.StateIntent, catalog.StateUploaded); err != nil {
		return err
	}
	return a.Failpoints.Hit("after-verify")
}

func (a *Archiver) put(ctx context.Context, key storage.Key, s *staged) error {
	f, err := os.Open(s.path)
	if err != nil {
		return fmt.Errorf("open spool file: %w", err)
	}
	defer f.Close()
	ret, err := a.putRetention(ctx, s)
	if err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	r := &failpointReader{r: f, at: s.bytes / 2, hit: func() error { return a.Failpoints.Hit("mid-upload") }}
	info, err := a.Store.Put(ctx, key, r, storage.PutOptions{Size: s.bytes, SHA256: s.sha, Retention: ret,
		Metadata: map[string]string{"dataset": s.obj.Dataset, "archive_type": s.obj.Type,
			"day": s.day.Format(time.DateOnly), "rows": fmt.Sprint(s.rows)}})
	if err != nil {
		return fmt.Errorf("upload %s: %w", key, err)
	}
	s.obj.VersionID = info.VersionID
	return nil
}

// ObjectKey builds {prefix}/{type}/{dataset}/{YYYY}/{MM}/{DD}/chunk_{id}.parquet
// (source_batch_{id}.parquet for source objects).
func ObjectKey(prefix storage.Key, typ, dataset string, day time.Time, id int64) (storage.Key, error) {
	name := fmt.Sprintf("chunk_%d.parquet", id)
	if typ == catalog.TypeSource {
		name = fmt.Sprintf("source_batch_%d.parquet", id)
	}
	return prefix.Join(typ, dataset, day.Format("2006"), day.Format("01"), day.Format("02"), name)
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// failpointReader calls hit once when the reader passes offset at.
type failpointReader struct {
	r    io.Reader
	n    int64
	at   int64
	hit  func() error
	done bool
}

func (f *failpointReader) Read(p []byte) (int, error) {
	if !f.done && f.n+int64(len(p)) > f.at {
		f.done = true
		if err := f.hit(); err != nil {
			return 0, err
		}
	}
	n, err := f.r.Read(p)
	f.n += int64(n)
	return n, err
}

// Seek lets the storage retry layer rewind a Put.
func (f *failpointReader) Seek(offset int64, whence int) (int64, error) {
	s, ok := f.r.(io.Seeker)
	if !ok {
		return 0, errors.New("spool reader cannot seek")
	}
	n, err := s.Seek(offset, whence)
	f.n = n
	return n, err
}
