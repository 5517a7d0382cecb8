package archive

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgsource"
	"github.com/stratahq/strata/internal/storage"
)

// SourceSpec is one dataset's Layer 3 table and how its batches are archived.
type SourceSpec struct {
	Dataset         string
	Table           string
	IDColumn        string
	TimeColumn      string
	PayloadColumn   string
	ProcessedColumn string
	// ArchiveAfter: rows are archived once this old (0: at once).
	ArchiveAfter time.Duration
	// A batch closes at BatchMaxRows rows; an object at BatchMaxBytes bytes.
	BatchMaxRows  int
	BatchMaxBytes int64
	// BatchMaxWait: without --flush, pending rows wait until there is a full
	// batch or the oldest has waited this long, so a trickle makes few objects.
	BatchMaxWait time.Duration
	// ArchiveRetention: archive objects expire this long after the end of
	// their ingestion day (Expiry).
	ArchiveRetention time.Duration
	// Immutability, when not off, asks the storage to refuse deleting or
	// overwriting each object until it expires.
	Immutability storage.RetentionMode
	Compression  string
	RowGroupRows int
	// Transform, when set, turns the batch's rows into Layer 2 rows in the
	// same transaction that commits the batch.
	Transform *TransformSpec
	// OnTransformError says what happens to a batch with records the
	// transform cannot map (DataError): OnErrorReject (also when empty) or
	// OnErrorQuarantine.
	OnTransformError string
}

// Transformer is a dataset's transform SQL.
type Transformer interface {
	// Lateral returns the transform with {{source}} bound to the row outer.
	Lateral(outer string) string
	// Version identifies the transform's text.
	Version() string
	// Text is the transform as written, kept in the catalog for lineage.
	Text() string
}

// TransformSpec says where transformed rows go.
type TransformSpec struct {
	SQL   Transformer
	Table string   // Layer 2 table
	Key   []string // upsert key (needs a unique index)
}

// ShaColumn is the column every source object adds: the lower-case hex
// SHA-256 of each record's payload bytes, as received.
const ShaColumn = "raw_sha256"

// sourceTable is what a run learns once about a Layer 3 table.
type sourceTable struct {
	spec        SourceSpec
	rel         pgsource.Relation
	schema      *parquetio.Schema
	schemaJSON  []byte
	fingerprint string
	selectList  string
	resultFmt   pgx.QueryResultFormats
	idIndex     int
	payloadType uint32
	sequence    string // the id column's sequence, for ingest
	upsertSQL   string // empty without a transform
	processed   bool   // the table has the processed column
	// fresh (freshLayout) is set when an ingest may write its objects
	// from the records it inserted; rows are those records, set by the
	// ingest of this batch.
	fresh []int
	rows  *freshRows
}

// payload column types: json and text keep the bytes exactly; jsonb does not.
var payloadTypes = map[uint32]string{114: "json", 25: "text", 1043: "varchar", 17: "bytea"}

func (a *Archiver) openSource(ctx context.Context, q pgx.Tx, spec SourceSpec) (*sourceTable, error) {
	rel, err := pgsource.Resolve(ctx, q, spec.Table)
	if err != nil {
		return nil, err
	}
	cols, err := parquetio.LoadColumns(ctx, q, rel.Ident())
	if err != nil {
		return nil, err
	}
	st := &sourceTable{spec: spec, rel: rel, idIndex: -1}
	if err := st.pickColumns(cols); err != nil {
		return nil, fmt.Errorf("source table %s: %w", rel, err)
	}
	var encoding string
	if err := q.QueryRow(ctx, `SELECT coalesce(pg_get_serial_sequence($1, $2), ''), current_setting('server_encoding')`,
		rel.Ident(), spec.IDColumn).Scan(&st.sequence, &encoding); err != nil {
		return nil, fmt.Errorf("source table %s: find the sequence of %s: %w", rel, spec.IDColumn, err)
	}
	st.fresh = freshLayout(st, encoding)
	if spec.Transform != nil {
		if !st.processed {
			return nil, fmt.Errorf("source table %s has no boolean column %q (source.processed_column) to mark transformed rows", rel, spec.ProcessedColumn)
		}
		if st.upsertSQL, err = upsertSQL(ctx, q, st); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// pickColumns keeps every column but the processed flag (state, not data),
// checks the configured ones and adds the payload's SHA-256.
func (st *sourceTable) pickColumns(cols []parquetio.Column) error {
	spec := st.spec
	var keep []parquetio.Column
	var exprs []string
	for _, c := range cols {
		switch c.Name {
		case spec.ProcessedColumn:
			if c.TypeOID != 16 {
				return fmt.Errorf("source.processed_column %q is %s, not boolean", c.Name, c.TypeName)
			}
			st.processed = true
			continue
		case spec.IDColumn:
			if c.TypeOID != 20 && c.TypeOID != 23 && c.TypeOID != 21 {
				return fmt.Errorf("source.id_column %q is %s: use bigint (bigserial or identity)", c.Name, c.TypeName)
			}
			st.idIndex = len(keep)
		case spec.PayloadColumn:
			if _, ok := payloadTypes[c.TypeOID]; !ok {
				return fmt.Errorf("source.payload_column %q is %s: use json, text or bytea, which keep the record's bytes exactly (jsonb normalises key order, spacing and duplicates)", c.Name, c.TypeName)
			}
			st.payloadType = c.TypeOID
		}
		keep = append(keep, c)
		exprs = append(exprs, pgx.Identifier{c.Name}.Sanitize())
	}
	if err := hasColumns(cols, "source columns", spec.IDColumn, spec.TimeColumn, spec.PayloadColumn); err != nil {
		return err
	}
	keep = append(keep, parquetio.Column{Name: ShaColumn, TypeOID: 25, TypeName: "text", TypType: 'b'})
	exprs = append(exprs, ShaExpr(spec.PayloadColumn, st.payloadType)+" AS "+ShaColumn)
	var err error
	if st.schema, err = parquetio.NewSchema(keep); err != nil {
		return err
	}
	if st.schemaJSON, err = json.Marshal(keep); err != nil {
		return err
	}
	st.fingerprint = st.schema.Fingerprint()
	st.selectList = strings.Join(exprs, ", ")
	st.resultFmt = pgx.QueryResultFormats(st.schema.ResultFormats())
	return nil
}

// ShaExpr is the SQL that computes ShaColumn from the payload column col
// of type OID typ (bytea, json or text).
func ShaExpr(col string, typ uint32) string {
	c := pgx.Identifier{col}.Sanitize()
	switch typ {
	case 17:
		return "encode(sha256(" + c + "), 'hex')"
	case 114:
		return "encode(sha256(convert_to(" + c + "::text, 'UTF8')), 'hex')"
	}
	return "encode(sha256(convert_to(" + c + ", 'UTF8')), 'hex')"
}

// upsertSQL builds the statement that runs the transform over a batch's rows
// ($1: their ids) and upserts the result into Layer 2, the latest record per
// key winning.
func upsertSQL(ctx context.Context, tx pgx.Tx, st *sourceTable) (string, error) {
	t := st.spec.Transform
	dst, err := pgsource.Resolve(ctx, tx, t.Table)
	if err != nil {
		return "", fmt.Errorf("transform target: %w", err)
	}
	from := ` FROM ` + st.rel.Ident() + ` AS __strata_src CROSS JOIN LATERAL (` + t.SQL.Lateral("__strata_src") + `) AS __strata_t`
	desc, err := tx.Prepare(ctx, "", `SELECT __strata_t.*`+from+` WHERE false`)
	if err != nil {
		return "", fmt.Errorf("transform of %s does not run: %w", st.spec.Dataset, err)
	}
	var out []string
	for _, f := range desc.Fields {
		out = append(out, f.Name)
	}
	key := make([]string, len(t.Key))
	isKey := map[string]bool{}
	for i, k := range t.Key {
		key[i], isKey[k] = pgx.Identifier{k}.Sanitize(), true
		if !contains(out, k) {
			return "", fmt.Errorf("transform of %s: its output lacks key column %q (it yields: %s)", st.spec.Dataset, k, strings.Join(out, ", "))
		}
	}
	cols, tcols, sets := make([]string, len(out)), make([]string, len(out)), []string{}
	for i, c := range out {
		q := pgx.Identifier{c}.Sanitize()
		cols[i], tcols[i] = q, "__strata_t."+q
		if !isKey[c] {
			sets = append(sets, q+" = EXCLUDED."+q)
		}
	}
	conflict := "DO NOTHING"
	if len(sets) > 0 {
		conflict = "DO UPDATE SET " + strings.Join(sets, ", ")
	}
	tkey := make([]string, len(key))
	for i, k := range key {
		tkey[i] = "__strata_t." + k
	}
	return `INSERT INTO ` + dst.Ident() + ` (` + strings.Join(cols, ", ") + `) SELECT DISTINCT ON (` + strings.Join(tkey, ", ") + `) ` +
		strings.Join(tcols, ", ") + from + ` WHERE __strata_src.` + pgx.Identifier{st.spec.IDColumn}.Sanitize() + ` = ANY($1) ORDER BY ` +
		strings.Join(tkey, ", ") + `, __strata_src.` + pgx.Identifier{st.spec.IDColumn}.Sanitize() + ` DESC ON CONFLICT (` +
		strings.Join(key, ", ") + `) ` + conflict, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// batchObject is one object of a batch and the Layer 3 ids it holds.
type batchObject struct {
	*staged
	ids []int64
}

// writeBatch writes the rows with the given ids (already locked or inserted
// by tx) into objects: one per ingestion day, a new one past BatchMaxBytes.
// The statement is described on every run (see copyRows): Layer 3 tables
// change type too.
func (a *Archiver) writeBatch(ctx context.Context, tx pgx.Tx, st *sourceTable, ids []int64) ([]batchObject, error) {
	idc, tc := pgx.Identifier{st.spec.IDColumn}.Sanitize(), pgx.Identifier{st.spec.TimeColumn}.Sanitize()
	rows, err := tx.Query(ctx, `SELECT date_trunc('day', `+tc+`::timestamptz, 'UTC'), `+st.selectList+` FROM `+st.rel.Ident()+
		` WHERE `+idc+` = ANY($1) ORDER BY 1, `+idc, pgx.QueryExecModeDescribeExec, pgx.QueryResultFormats(append([]int16{1}, st.schema.ResultFormats()...)), ids)
	if err != nil {
		return nil, fmt.Errorf("read source batch: %w", err)
	}
	defer rows.Close()
	bw := &batchWriter{a: a, st: st}
	for rows.Next() {
		raw := rows.RawValues()
		day := time.UnixMicro(int64(binary.BigEndian.Uint64(raw[0])) + pgEpochMicros).UTC()
		if err := bw.add(day, decodeInt(raw[1+st.idIndex]), raw[1:]); err != nil {
			return bw.out, err
		}
	}
	if err := rows.Err(); err != nil {
		bw.abort()
		return bw.out, fmt.Errorf("read source batch: %w", err)
	}
	return bw.out, bw.close()
}

// batchWriter writes a batch's rows, in order, into objects: one per
// ingestion day, a new one past BatchMaxBytes.
type batchWriter struct {
	a      *Archiver
	st     *sourceTable
	out    []batchObject
	cur    *spoolWriter
	curDay time.Time
	curIDs []int64
}

// add writes one row (PostgreSQL binary values in schema order) of day.
func (bw *batchWriter) add(day time.Time, id int64, raw [][]byte) error {
	if bw.cur != nil && (!day.Equal(bw.curDay) || bw.cur.cw.n >= bw.st.spec.BatchMaxBytes) {
		if err := bw.close(); err != nil {
			return err
		}
	}
	if bw.cur == nil {
		cur, err := bw.a.newSpoolWriter(bw.st.schema, bw.st.writerOptions(day))
		if err != nil {
			return err
		}
		bw.cur, bw.curDay = cur, day
	}
	bw.curIDs = append(bw.curIDs, id)
	if err := bw.cur.w.WriteRaw(raw); err != nil {
		bw.abort()
		return err
	}
	return nil
}

// close finishes the current object.
func (bw *batchWriter) close() error {
	if bw.cur == nil {
		return nil
	}
	s, _, err := bw.cur.finish()
	bw.cur = nil
	if err != nil {
		return err
	}
	bw.st.describe(s, bw.curDay)
	bw.out = append(bw.out, batchObject{staged: s, ids: bw.curIDs})
	bw.curIDs = nil
	return nil
}

// abort drops the current object.
func (bw *batchWriter) abort() {
	if bw.cur != nil {
		bw.cur.abort()
		bw.cur = nil
	}
}

// pgEpochMicros is 2000-01-01 in Unix microseconds: PostgreSQL's epoch.
const pgEpochMicros = 946684800 * 1_000_000

func decodeInt(b []byte) int64 {
	switch len(b) {
	case 8:
		return int64(binary.BigEndian.Uint64(b))
	case 4:
		return int64(int32(binary.BigEndian.Uint32(b)))
	case 2:
		return int64(int16(binary.BigEndian.Uint16(b)))
	}
	return 0
}

func (st *sourceTable) writerOptions(day time.Time) parquetio.WriterOptions {
	md := map[string]string{
		parquetio.KeyDataset:      st.spec.Dataset,
		parquetio.KeyArchiveType:  catalog.TypeSource,
		parquetio.KeyTable:        st.rel.String(),
		parquetio.KeyPartitionDay: day.Format(time.DateOnly),
	}
	if st.spec.Transform != nil {
		md[parquetio.KeyTransformVersion] = st.spec.Transform.SQL.Version()
	}
	return parquetio.WriterOptions{Compression: st.spec.Compression, RowGroupRows: st.spec.RowGroupRows,
		TimeColumn: st.spec.TimeColumn, Metadata: md}
}

// describe fills the catalog fields of a written source object.
func (st *sourceTable) describe(s *staged, day time.Time) {
	s.day = day
	o := &s.obj
	o.Dataset, o.Type, o.Day, o.SourceTable = st.spec.Dataset, catalog.TypeSource, day, st.rel.String()
	o.SchemaFingerprint, o.Schema = st.fingerprint, st.schemaJSON
	s.setExpiry(st.spec.ArchiveRetention, st.spec.Immutability)
	if st.spec.Transform != nil {
		o.TransformVersion = st.spec.Transform.SQL.Version()
	}
}

// commitBatch marks the rows archived, records the transform (which
// transformBatch ran in tx) and marks the rows it mapped processed (unless
// this transaction inserted them, processed), and commits the objects, all
// in tx.
func (a *Archiver) commitBatch(ctx context.Context, tx pgx.Tx, st *sourceTable, objs []batchObject, ids []int64, inserted bool, tr transformResult, hook BatchHook) error {
	if err := a.Failpoints.Hit("in-commit-before-delete"); err != nil {
		return err
	}
	for _, o := range objs {
		if _, err := tx.Exec(ctx, `INSERT INTO strata.source_archived (dataset, id, object_id)
			SELECT $1, unnest($2::bigint[]), $3`, st.spec.Dataset, o.ids, o.obj.ID); err != nil {
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == "23505" {
				return fmt.Errorf("another strata process archived some of these rows at the same time; nothing was committed, the next run continues: %w", err)
			}
			return fmt.Errorf("mark rows archived: %w", err)
		}
	}
	l := batchLineage(st, objs, ids, inserted)
	if st.upsertSQL != "" {
		l.AnalyticsRows = tr.Rows
		if len(tr.Failed) > 0 {
			l.Detail = map[string]any{"quarantined": len(tr.Failed)}
		}
		t := st.spec.Transform.SQL
		if err := catalog.RecordTransform(ctx, tx, st.spec.Dataset, t.Version(), t.Text()); err != nil {
			return err
		}
		if !inserted { // rows inserted by this transaction are stored processed already
			if err := markProcessed(ctx, tx, st, ids, tr.Failed); err != nil {
				return err
			}
		}
	}
	staged := make([]*staged, len(objs))
	for i, o := range objs {
		if err := catalog.Commit(ctx, tx, &o.obj); err != nil {
			return err
		}
		staged[i] = o.staged
	}
	if err := catalog.RecordLineage(ctx, tx, l); err != nil {
		return err
	}
	if hook != nil {
		days := make([]DayReport, len(objs))
		for i, o := range objs {
			days[i] = DayReport{Dataset: o.obj.Dataset, Day: o.day, Rows: o.rows, Bytes: o.bytes, Key: o.obj.Key, Adopted: o.adopted}
		}
		if err := hook(ctx, tx, BatchResult{Days: days, Quarantined: tr.Failed}); err != nil {
			return err
		}
	}
	return a.commitTx(ctx, tx, staged)
}

// batchLineage describes a source batch: its Layer 3 rows, its objects and
// the transform version that turned it into Layer 2 rows.
func batchLineage(st *sourceTable, objs []batchObject, ids []int64, inserted bool) *catalog.Lineage {
	l := &catalog.Lineage{Dataset: st.spec.Dataset, Kind: catalog.LineageSourceArchive, Layer3Rows: int64(len(ids))}
	if inserted {
		l.Kind = catalog.LineageIngest
	}
	if len(ids) > 0 {
		lo, hi := slices.Min(ids), slices.Max(ids)
		l.Layer3FirstID, l.Layer3LastID = &lo, &hi
	}
	for _, o := range objs {
		l.RunID = o.obj.RunID
		l.SourceObjects = append(l.SourceObjects, o.obj.ID)
	}
	if st.spec.Transform != nil {
		l.TransformVersion = st.spec.Transform.SQL.Version()
	}
	return l
}
