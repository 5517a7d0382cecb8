package lineage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgsource"
)

// session is one compare or replay: its pinned connection, which holds the
// temporary tables, and what it learnt of the dataset's tables.
type session struct {
	c        *Comparer
	spec     Spec
	conn     *pgx.Conn
	from, to time.Time
	runID    *int64 // the apply's strata.runs row
	begin    func(ctx context.Context) (int64, error)
	log      *slog.Logger
	rep      *Report

	l2     pgsource.Relation
	l2Cols []parquetio.Column
	l3     *pgsource.Relation // nil: Layer 3 does not exist
	// srcCols are the columns of the period's records (strata_src).
	srcCols []parquetio.Column
	payload parquetio.Column
	// out are the transform's output columns, all in Layer 2.
	out []string
	// started is the database clock when the session began.
	started time.Time
	// staged says strata_stage exists.
	staged bool
}

// The temporary tables of a session (all in pg_temp).
const (
	tSrc       = "pg_temp.strata_src"       // the period's records
	tExpected  = "pg_temp.strata_expected"  // the transform's rows, one per key
	tRecKeys   = "pg_temp.strata_rkeys"     // each record's key from its payload
	tKeys      = "pg_temp.strata_keys"      // expected keys and record keys
	tStage     = "pg_temp.strata_stage"     // one range of archived rows
	tActualAll = "pg_temp.strata_actual"    // every analytics row found
	tActual    = "pg_temp.strata_actual1"   // one per key
	tDiff      = "pg_temp.strata_diff"      // the keys that do not match
	tLater     = "pg_temp.strata_later"     // records after the period
	tLaterKeys = "pg_temp.strata_laterkeys" // their keys
	tFix       = "pg_temp.strata_corrections"
)

// Hidden columns of the temporary tables.
const (
	colID   = "__strata_id"   // strata_expected: the winning record's id
	colLive = "__strata_live" // strata_actual: found in Layer 2
	colOrd  = "__strata_ord"  // strata_actual: archived rows in read order
	colKind = "__strata_kind" // strata_diff: changed, missing, unexpected, later
)

func qi(name string) string { return pgx.Identifier{name}.Sanitize() }

// prepare resolves the tables and learns their columns.
func (s *session) prepare(ctx context.Context) error {
	if err := s.conn.QueryRow(ctx, `SELECT now()`).Scan(&s.started); err != nil {
		return err
	}
	var err error
	if s.l2, err = pgsource.Resolve(ctx, s.conn, s.spec.AnalyticsTable); err != nil {
		if errors.Is(err, pgsource.ErrNoTable) {
			return fmt.Errorf("%w: analytics %v", ErrInvalid, err)
		}
		return err
	}
	if s.l2Cols, err = parquetio.LoadColumns(ctx, s.conn, s.l2.Ident()); err != nil {
		return err
	}
	for _, k := range append(slices.Clone(s.spec.Key), s.spec.AnalyticsTime) {
		if _, ok := s.l2Col(k); !ok {
			return fmt.Errorf("%w: analytics table %s has no column %q (analytics.key / analytics.time_column)", ErrInvalid, s.l2, k)
		}
	}
	l3, err := pgsource.Resolve(ctx, s.conn, s.spec.SourceTable)
	switch {
	case errors.Is(err, pgsource.ErrNoTable):
		s.log.Warn("the Layer 3 table does not exist: reading the source archive alone", "table", s.spec.SourceTable)
		err = s.archivedSourceColumns(ctx)
	case err == nil:
		s.l3 = &l3
		err = s.liveSourceColumns(ctx)
	}
	if err != nil {
		return err
	}
	for _, c := range s.srcCols {
		if c.Name == s.spec.PayloadColumn {
			s.payload = c
		}
	}
	if s.payload.Name == "" || !hasColumn(s.srcCols, s.spec.IDColumn) {
		return fmt.Errorf("%w: the source records have no column %q or %q (source.payload_column, source.id_column)",
			ErrInvalid, s.spec.PayloadColumn, s.spec.IDColumn)
	}
	return nil
}

// liveSourceColumns: the Layer 3 columns but the processed flag, plus the
// payload's SHA-256 that every source object carries.
func (s *session) liveSourceColumns(ctx context.Context) error {
	cols, err := parquetio.LoadColumns(ctx, s.conn, s.l3.Ident())
	if err != nil {
		return err
	}
	for _, c := range cols {
		if c.Name != s.spec.ProcessedColumn {
			s.srcCols = append(s.srcCols, c)
		}
	}
	s.srcCols = append(s.srcCols, parquetio.Column{Name: "raw_sha256", TypeOID: 25, TypeName: "text"})
	return nil
}

// archivedSourceColumns: the union of the period's source objects'
// columns, as the catalog records them, newest definition winning.
func (s *session) archivedSourceColumns(ctx context.Context) error {
	from, to := s.from.Truncate(24*time.Hour), s.to.Truncate(24*time.Hour)
	objs, err := catalog.ListObjects(ctx, s.conn, catalog.Filter{Dataset: s.spec.Dataset, Type: catalog.TypeSource, From: &from, To: &to})
	if err != nil {
		return err
	}
	cols, err := schemaUnion(objs)
	if err != nil {
		return err
	}
	for _, c := range cols {
		var ok bool
		if err := s.conn.QueryRow(ctx, `SELECT to_regtype($1) IS NOT NULL`, c.TypeName).Scan(&ok); err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("source archive column %q has type %q, which this database does not know", c.Name, c.TypeName)
		}
	}
	s.srcCols = cols
	return nil
}

// schemaUnion returns the columns of the objects' catalog schemas in
// first-seen order, each with its newest definition.
func schemaUnion(objs []catalog.Object) ([]parquetio.Column, error) {
	var out []parquetio.Column
	at := map[string]int{}
	for _, o := range objs {
		var cols []parquetio.Column
		if err := json.Unmarshal(o.Schema, &cols); err != nil {
			return nil, fmt.Errorf("object %s: catalog schema: %w", o.Key, err)
		}
		for _, c := range cols {
			if i, ok := at[c.Name]; ok {
				out[i] = c
				continue
			}
			at[c.Name] = len(out)
			out = append(out, c)
		}
	}
	return out, nil
}

func hasColumn(cols []parquetio.Column, name string) bool {
	return slices.ContainsFunc(cols, func(c parquetio.Column) bool { return c.Name == name })
}

func (s *session) l2Col(name string) (parquetio.Column, bool) {
	for _, c := range s.l2Cols {
		if c.Name == name {
			return c, true
		}
	}
	return parquetio.Column{}, false
}

// l2Named returns the Layer 2 definitions of the named columns.
func (s *session) l2Named(names []string) []parquetio.Column {
	out := make([]parquetio.Column, len(names))
	for i, n := range names {
		out[i], _ = s.l2Col(n)
	}
	return out
}

// createTemp creates a temporary table with the columns (types as
// format_type writes them, no constraints) and extra column definitions.
func (s *session) createTemp(ctx context.Context, table string, cols []parquetio.Column, extra ...string) error {
	defs := make([]string, 0, len(cols)+len(extra))
	for _, c := range cols {
		defs = append(defs, qi(c.Name)+" "+c.TypeName)
	}
	defs = append(defs, extra...)
	name := strings.TrimPrefix(table, "pg_temp.")
	if _, err := s.conn.Exec(ctx, `CREATE TEMP TABLE `+name+` (`+strings.Join(defs, ", ")+`)`); err != nil {
		return fmt.Errorf("create %s: %w", table, err)
	}
	return nil
}

// copyIn streams the rows of req into table's columns req.Columns and
// returns how many there were. Nothing is held in memory: the CSV goes
// through a pipe from the retrieval straight into COPY.
func (s *session) copyIn(ctx context.Context, table string, req FetchRequest) (int64, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := s.c.Fetch(ctx, pw, req)
		pw.CloseWithError(err) // nil: the reader sees EOF
		done <- err
	}()
	tag, err := s.conn.PgConn().CopyFrom(ctx, pr, `COPY `+table+` (`+identList("", req.Columns)+`) FROM STDIN (FORMAT csv, HEADER true)`)
	pr.CloseWithError(errCopyEnded) // a writer still blocked on the pipe returns
	if ferr := <-done; ferr != nil && !errors.Is(ferr, errCopyEnded) {
		return 0, fmt.Errorf("read %s rows: %w", req.Type, ferr)
	}
	if err != nil {
		return 0, fmt.Errorf("copy %s rows into %s: %w", req.Type, table, err)
	}
	return tag.RowsAffected(), nil
}

var errCopyEnded = errors.New("the copy ended")

// identList quotes names, each prefixed by alias (with its dot) when set.
func identList(alias string, names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = qualify(alias, n)
	}
	return strings.Join(out, ", ")
}

func qualify(alias, name string) string {
	if alias == "" {
		return qi(name)
	}
	return alias + "." + qi(name)
}

// joinOn is the equality of the key columns of two aliases.
func (s *session) joinOn(a, b string) string {
	out := make([]string, len(s.spec.Key))
	for i, k := range s.spec.Key {
		out[i] = qualify(a, k) + " = " + qualify(b, k)
	}
	return strings.Join(out, " AND ")
}

// keyNotNull says every key column of alias is set.
func (s *session) keyNotNull(alias string) string {
	out := make([]string, len(s.spec.Key))
	for i, k := range s.spec.Key {
		out[i] = qualify(alias, k) + " IS NOT NULL"
	}
	return strings.Join(out, " AND ")
}

// textCompared are types without an equality operator (json, xml and the
// geometric types), compared by their text form: equal text, equal value.
var textCompared = map[uint32]bool{114: true, 142: true, 600: true, 601: true, 602: true, 603: true,
	604: true, 628: true, 718: true}

// same is the SQL saying column c of aliases a and b holds the same value
// (NULL and NULL being the same).
func same(a, b string, c parquetio.Column) string {
	x, y := qualify(a, c.Name), qualify(b, c.Name)
	if textCompared[c.TypeOID] || textCompared[c.BaseOID] || textCompared[c.ElemOID] {
		x, y = x+"::text", y+"::text"
	}
	return x + " IS NOT DISTINCT FROM " + y
}

// allSame is same over the compared columns.
func (s *session) allSame(a, b string) string {
	out := make([]string, len(s.out))
	for i, c := range s.l2Named(s.out) {
		out[i] = same(a, b, c)
	}
	return strings.Join(out, " AND ")
}

func (s *session) count(ctx context.Context, sql string, args ...any) (int64, error) {
	var n int64
	if err := s.conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
		return 0, err
	}
	return n, nil
}

func (s *session) exec(ctx context.Context, what, sql string, args ...any) error {
	if _, err := s.conn.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
