package retrieve

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/filter"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgsource"
)

// tableColumns loads the columns of req.Table (nil when the request names
// no table or, without Live, when the table is gone: the archive outlives
// it).
func (r *Retriever) tableColumns(ctx context.Context, db catalog.DB, req Request) ([]parquetio.Column, error) {
	if req.Table == "" || db == nil {
		if req.Live != nil {
			return nil, fmt.Errorf("retrieve: live rows need the table and a database")
		}
		return nil, nil
	}
	rel, err := pgsource.Resolve(ctx, db, req.Table)
	if err == nil {
		var cols []parquetio.Column
		if cols, err = parquetio.LoadColumns(ctx, db, rel.Ident()); err == nil {
			return cols, nil
		}
	}
	if req.Live != nil {
		return nil, fmt.Errorf("retrieve: live rows of %s: %w", req.Table, err)
	}
	return nil, nil
}

// columns returns the live table's columns as they appear in the archive:
// without the excluded ones, with the computed ones.
func (l *Live) columns(table []parquetio.Column) []parquetio.Column {
	var out []parquetio.Column
	for _, c := range table {
		if !slices.Contains(l.Exclude, c.Name) {
			out = append(out, c)
		}
	}
	if l.Computed != nil {
		for _, c := range l.Computed(table) {
			out = append(out, c.Column)
		}
	}
	return out
}

// parseWhere parses the filter expression; "" means none.
func parseWhere(src string) (filter.Expr, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	e, err := filter.Parse(src)
	if err != nil {
		return nil, badRequest(err)
	}
	return e, nil
}

// bindWhere type-checks the filter against every column the data may
// have, each with its type now (targets): archived values of an older type
// are cast to it before the filter sees them.
func bindWhere(e filter.Expr, targets map[string]parquetio.Column) (*filter.Filter, error) {
	if e == nil {
		return nil, nil
	}
	cols := make([]parquetio.Column, 0, len(targets))
	for _, c := range targets {
		cols = append(cols, c)
	}
	slices.SortFunc(cols, func(a, b parquetio.Column) int { return strings.Compare(a.Name, b.Name) })
	f, err := filter.Bind(e, cols)
	if err != nil {
		return nil, badRequest(err)
	}
	return f, nil
}

// liveQuery reads the rows of the table that are not archived, in the
// stream's snapshot, after the archived rows.
type liveQuery struct {
	table  string
	cols   []parquetio.Column // the table's columns as archived
	rows   pgx.Rows
	schema *parquetio.Schema // of the selected columns
	src    []int             // for each output column, its index in the selected row, or -1
	vals   []parquetio.Value
	arena  []byte
}

// start runs the live query: the output columns the table has, rows in
// the time range that are not archived and match the filter.
func (rs *Rows) startLive() error {
	lq, req := rs.live, rs.req
	rel, err := pgsource.Resolve(rs.ctx, rs.tx, lq.table)
	if err != nil {
		return err
	}
	computed := map[string]string{}
	if req.Live.Computed != nil {
		for _, c := range req.Live.Computed(lq.cols) {
			computed[c.Column.Name] = c.SQL
		}
	}
	var sel []parquetio.Column
	var exprs []string
	lq.src = make([]int, len(rs.cols))
	for i, name := range rs.cols {
		lq.src[i] = -1
		j := slices.IndexFunc(lq.cols, func(c parquetio.Column) bool { return c.Name == name })
		if j < 0 {
			continue
		}
		lq.src[i] = len(sel)
		sel = append(sel, lq.cols[j])
		if sql, ok := computed[name]; ok {
			exprs = append(exprs, sql)
		} else {
			exprs = append(exprs, pgx.Identifier{name}.Sanitize())
		}
	}
	if len(sel) == 0 { // no output column lives in the table: select a constant
		sel = append(sel, parquetio.Column{Name: "strata_none", TypeOID: 16, TypeName: "boolean"})
		exprs = append(exprs, "true")
	}
	if lq.schema, err = parquetio.NewSchema(sel); err != nil {
		return err
	}
	sql, args := rs.liveSQL(rel.Ident(), exprs)
	// Described on every run, never a cached prepared statement: after an
	// ALTER COLUMN ... TYPE the same text returns other types, which a
	// cached statement refuses ("cached plan must not change result type").
	args = append([]any{pgx.QueryExecModeDescribeExec, pgx.QueryResultFormats(lq.schema.ResultFormats())}, args...)
	if lq.rows, err = rs.tx.Query(rs.ctx, sql, args...); err != nil {
		return fmt.Errorf("read live rows of %s: %w", lq.table, err)
	}
	lq.vals = make([]parquetio.Value, len(sel))
	return nil
}

// liveSQL builds the live query and its arguments.
func (rs *Rows) liveSQL(rel string, exprs []string) (string, []any) {
	req := rs.req
	tcol := pgx.Identifier{req.TimeColumn}.Sanitize()
	args := []any{req.From, req.To}
	var b strings.Builder
	b.WriteString("SELECT " + strings.Join(exprs, ", ") + " FROM " + rel + " AS strata_live WHERE ")
	b.WriteString(tcol + " >= $1::timestamptz AND " + tcol + " <= $2::timestamptz")
	if id := req.Live.ArchivedIDColumn; id != "" {
		args = append(args, req.Dataset)
		b.WriteString(" AND NOT EXISTS (SELECT 1 FROM strata.source_archived a WHERE a.dataset = $" +
			strconv.Itoa(len(args)) + " AND a.id = strata_live." + pgx.Identifier{id}.Sanitize() + ")")
	}
	if rs.filter != nil {
		where, fargs := rs.filter.SQL(len(args))
		b.WriteString(" AND (" + where + ")")
		args = append(args, fargs...)
	}
	return b.String(), args
}

// nextLive advances to the next live row.
func (rs *Rows) nextLive() bool {
	lq := rs.live
	if lq.rows == nil {
		if rs.err = rs.startLive(); rs.err != nil {
			return false
		}
	}
	if !lq.rows.Next() {
		rs.err = lq.rows.Err()
		if rs.err != nil {
			rs.err = fmt.Errorf("read live rows of %s: %w", lq.table, rs.err)
		}
		lq.rows.Close()
		rs.liveDone = true
		return false
	}
	lq.arena = lq.arena[:0]
	if err := lq.schema.DecodeRow(lq.rows.RawValues(), lq.vals, &lq.arena); err != nil {
		rs.err = fmt.Errorf("read live rows of %s: %w", lq.table, err)
		return false
	}
	if rs.liveOut == nil {
		rs.liveOut = make([]parquetio.Value, len(rs.cols))
	}
	for i, s := range lq.src {
		if s < 0 {
			rs.liveOut[i] = parquetio.NullValue(parquetio.KindInvalid)
		} else {
			rs.liveOut[i] = lq.vals[s]
		}
	}
	rs.out = rs.liveOut
	return true
}
