package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/hold"
	"github.com/stratahq/strata/internal/pgsource"
)

// ErrRestoreConflict is returned when restored rows would collide with
// rows of the target: a key already in Layer 2, or a key archived more than
// once in the range. Nothing is changed.
var ErrRestoreConflict = errors.New("restore conflict")

// ErrRestoreTarget is returned for an --into table that cannot take the
// rows: a reserved schema, the dataset's own table, a table that is not
// empty or lacks archived columns. Nothing is changed.
var ErrRestoreTarget = errors.New("unsuitable restore target")

// RestoreOptions say what Restore copies and where to.
type RestoreOptions struct {
	// From and To select the objects by their UTC day, inclusive: any
	// time within a day selects the whole day's objects.
	From, To time.Time
	// Into, when set, names a table to copy the rows into instead of
	// Layer 2 ({table} or {schema, table}); it is created when missing
	// and must be empty otherwise. The catalog is left unchanged.
	Into pgx.Identifier
}

// RestoreDay is what Restore copied from one day's objects.
type RestoreDay struct {
	Day     time.Time
	Objects int
	Rows    int64
}

// RestoreReport says what Restore copied.
type RestoreReport struct {
	Dataset string
	// From and To are the first and last day (UTC midnight) asked for.
	From, To time.Time
	// Table is where the rows went (schema.table).
	Table string
	// Layer2 is true when Table is the dataset's Layer 2 table: the
	// objects are then marked restored and a lineage record written.
	Layer2 bool
	// Created is true when Table did not exist and Restore created it.
	Created bool
	Days    []RestoreDay
	Objects []int64
	Rows    int64
	// LineageID is the lineage record of a restore into Layer 2.
	LineageID int64
}

// Restore copies the rows of every committed, current analytics object of
// spec.Dataset whose day lies in [opts.From, opts.To] (whole days) back into
// the database, checking each object against its catalog SHA-256 and row
// count first and the rows copied after, in one transaction: all of it
// happens or none.
//
// Into Layer 2 (opts.Into empty) the objects are marked restored in the
// same transaction, so retrieval reads the rows from the table and never
// from the objects too, and a lineage record (kind restore) lists them. A
// restored row whose key is already in the table, or a key archived twice
// in the range, makes the whole restore fail with ErrRestoreConflict. Rows
// still past analytics.retention are archived again, as new objects, by the
// next archive run; a restored object stays in storage until it expires.
//
// Into another table nothing in the catalog changes: the rows are a copy.
func (a *Archiver) Restore(ctx context.Context, spec AnalyticsSpec, opts RestoreOptions) (RestoreReport, error) {
	from, to := utcDay(opts.From), utcDay(opts.To)
	rep := RestoreReport{Dataset: spec.Dataset, From: from, To: to}
	if to.Before(from) {
		return rep, fmt.Errorf("%w: --to %s is before --from %s", ErrRestoreTarget, to.Format(time.DateOnly), from.Format(time.DateOnly))
	}
	conn, err := a.Pool.Acquire(ctx)
	if err != nil {
		return rep, err
	}
	defer conn.Release()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return rep, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	objs, err := catalog.ListObjects(ctx, tx, catalog.Filter{Dataset: spec.Dataset, Type: catalog.TypeAnalytics, From: &from, To: &to})
	if err != nil {
		return rep, err
	}
	if len(opts.Into) > 0 {
		err = a.restoreInto(ctx, tx, spec, opts.Into, objs, &rep)
	} else {
		err = a.restoreLayer2(ctx, tx, spec, objs, &rep)
	}
	if err != nil {
		return rep, fmt.Errorf("restore %s %s..%s: %w", spec.Dataset, from.Format(time.DateOnly), to.Format(time.DateOnly), err)
	}
	return rep, nil
}

// restoreLayer2 copies objs into the dataset's table through a staging
// table, refuses key conflicts, marks the objects restored and commits.
func (a *Archiver) restoreLayer2(ctx context.Context, tx pgx.Tx, spec AnalyticsSpec, objs []catalog.Object, rep *RestoreReport) error {
	rel, err := pgsource.Resolve(ctx, tx, spec.Table)
	if err != nil {
		return err
	}
	rep.Table, rep.Layer2 = rel.String(), true
	if len(objs) == 0 {
		return nil
	}
	// A restored object is no longer read (its rows live in Layer 2, where
	// they can change): a held one stays as it is.
	if err := hold.Check(ctx, tx, "restore into "+rel.String(), objectIDs(objs)); err != nil {
		return err
	}
	runID, err := a.Catalog.StartRun(ctx, "restore", spec.Dataset, catalog.TypeAnalytics)
	if err != nil {
		return err
	}
	done := a.ObserveRun(ctx, RunInfo{ID: runID, Kind: catalog.LineageRestore, Dataset: spec.Dataset, From: rep.From, To: rep.To})
	err = a.restoreLayer2Tx(ctx, tx, spec, rel, objs, runID, rep)
	if ferr := a.Catalog.FinishRun(context.WithoutCancel(ctx), runID,
		catalog.RunTotals{Rows: rep.Rows, Objects: len(rep.Objects)}, err); ferr != nil && err == nil {
		err = ferr
	}
	done(RunResult{Rows: rep.Rows, Objects: len(rep.Objects), Err: err})
	return err
}

func (a *Archiver) restoreLayer2Tx(ctx context.Context, tx pgx.Tx, spec AnalyticsSpec, rel pgsource.Relation,
	objs []catalog.Object, runID int64, rep *RestoreReport) error {
	ids := objectIDs(objs)
	// First, so the objects are locked against a concurrent restore,
	// correction or expiry while their rows are copied.
	if err := catalog.MarkRestored(ctx, tx, ids); err != nil {
		return err
	}
	cols, generated, err := tableColumns(ctx, tx, rel.OID)
	if err != nil {
		return err
	}
	if err := hasColumnNames(cols, "analytics.key", spec.Key...); err != nil {
		return fmt.Errorf("table %s: %w", rel, err)
	}
	const staging = `pg_temp.strata_restore`
	if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS `+staging+`;
		CREATE TEMP TABLE strata_restore ON COMMIT DROP AS SELECT * FROM `+rel.Ident()+` WITH NO DATA`); err != nil {
		return fmt.Errorf("staging table: %w", err)
	}
	archived := map[string]bool{}
	if err := a.copyObjects(ctx, tx, objs, staging, rel.String(), set(cols), archived, rep); err != nil {
		var mc *missingColumnError
		if errors.As(err, &mc) {
			return fmt.Errorf("%v: the table changed since these rows were archived; restore --into a new table instead", err)
		}
		return err
	}
	if err := checkRestoreKeys(ctx, tx, rel, staging, spec.Key); err != nil {
		return err
	}
	var list []string
	for _, c := range cols { // archived columns, in table order; the rest take their defaults
		if archived[c] && !generated[c] {
			list = append(list, pgx.Identifier{c}.Sanitize())
		}
	}
	names := strings.Join(list, ", ")
	tag, err := tx.Exec(ctx, `INSERT INTO `+rel.Ident()+` (`+names+`) OVERRIDING SYSTEM VALUE SELECT `+names+` FROM `+staging)
	if err != nil {
		return fmt.Errorf("insert restored rows into %s: %w%s", rel, err, partitionHint(err))
	}
	if tag.RowsAffected() != rep.Rows {
		return fmt.Errorf("insert restored rows into %s: inserted %d rows, the objects hold %d; rolled back", rel, tag.RowsAffected(), rep.Rows)
	}
	from, to := rep.From, rep.To.AddDate(0, 0, 1).Add(-time.Microsecond)
	l := &catalog.Lineage{RunID: &runID, Dataset: spec.Dataset, Kind: catalog.LineageRestore, From: &from, To: &to,
		AnalyticsObjects: ids, AnalyticsRows: rep.Rows, Detail: map[string]any{"into": rel.String()}}
	if err := catalog.RecordLineage(ctx, tx, l); err != nil {
		return err
	}
	if err := a.commitRestore(ctx, tx, ids[0]); err != nil {
		return err
	}
	rep.LineageID = l.ID
	return nil
}

// copyObjects copies each object into table, recording per day what it
// copied and, in archived, every column the objects have.
func (a *Archiver) copyObjects(ctx context.Context, tx pgx.Tx, objs []catalog.Object, table, display string,
	cols, archived map[string]bool, rep *RestoreReport) error {
	for _, o := range objs {
		var oc []struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(o.Schema, &oc); err != nil {
			return fmt.Errorf("object %s: catalog schema: %w", o.Key, err)
		}
		for _, c := range oc {
			archived[c.Name] = true
		}
		n, err := a.copyObject(ctx, tx, o, table, display, cols)
		if err != nil {
			return err
		}
		if k := len(rep.Days); k == 0 || !rep.Days[k-1].Day.Equal(o.Day) {
			rep.Days = append(rep.Days, RestoreDay{Day: o.Day})
		}
		d := &rep.Days[len(rep.Days)-1]
		d.Objects++
		d.Rows += n
		rep.Objects = append(rep.Objects, o.ID)
		rep.Rows += n
	}
	return nil
}

// checkRestoreKeys refuses rows whose key is already in the table, or
// appears more than once among the restored rows, naming a few.
func checkRestoreKeys(ctx context.Context, tx pgx.Tx, rel pgsource.Relation, staging string, key []string) error {
	var eq, show, group []string
	for _, k := range key {
		c := pgx.Identifier{k}.Sanitize()
		eq = append(eq, `l.`+c+` = s.`+c)
		show = append(show, `s.`+c+`::text`)
		group = append(group, `s.`+c)
	}
	keys, total, err := sampleKeys(ctx, tx, key, `SELECT count(*) OVER (), `+strings.Join(show, ", ")+` FROM `+staging+` s
		WHERE EXISTS (SELECT 1 FROM `+rel.Ident()+` l WHERE `+strings.Join(eq, " AND ")+`)
		ORDER BY `+strings.Join(group, ", ")+` LIMIT 5`)
	if err != nil {
		return fmt.Errorf("look for restored keys already in %s: %w", rel, err)
	}
	if total > 0 {
		return fmt.Errorf("%w: %d archived row(s) have a key that is already in %s, e.g. %s: a restore never overwrites a newer row, so nothing was restored "+
			"(restore into another table with --into to compare them, or remove those rows from %s first)",
			ErrRestoreConflict, total, rel, strings.Join(keys, "; "), rel)
	}
	keys, total, err = sampleKeys(ctx, tx, key, `SELECT count(*) OVER (), `+strings.Join(show, ", ")+` FROM `+staging+` s
		GROUP BY `+strings.Join(group, ", ")+` HAVING count(*) > 1 ORDER BY `+strings.Join(group, ", ")+` LIMIT 5`)
	if err != nil {
		return fmt.Errorf("look for keys archived twice: %w", err)
	}
	if total > 0 {
		return fmt.Errorf("%w: %d key(s) were archived more than once in the range, e.g. %s: Layer 2 holds one row per key, so nothing was restored "+
			"(restore a narrower range, or use --into to see every archived version)",
			ErrRestoreConflict, total, strings.Join(keys, "; "))
	}
	return nil
}

// sampleKeys runs a query returning (total, key columns as text...) and
// formats each row as "k1=v1, k2=v2".
func sampleKeys(ctx context.Context, tx pgx.Tx, key []string, sql string) ([]string, int64, error) {
	rows, err := tx.Query(ctx, sql)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []string
	var total int64
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, 0, err
		}
		total = vals[0].(int64)
		parts := make([]string, len(key))
		for i, k := range key {
			parts[i] = fmt.Sprintf("%s=%v", k, vals[i+1])
		}
		out = append(out, strings.Join(parts, ", "))
	}
	return out, total, rows.Err()
}

// commitRestore commits and, when the outcome is unknown (connection lost
// during COMMIT), reads the state of one of the objects back.
func (a *Archiver) commitRestore(ctx context.Context, tx pgx.Tx, id int64) error {
	err := tx.Commit(ctx)
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Errorf("commit: %w", err)
	}
	var state string
	if gerr := a.Pool.QueryRow(context.WithoutCancel(ctx), `SELECT state FROM strata.objects WHERE id = $1`, id).Scan(&state); gerr == nil && state == catalog.StateRestored {
		a.logger().Warn("commit reported an error but the catalog shows the restore committed", "err", err)
		return nil
	}
	return fmt.Errorf("commit (outcome read back: not committed): %w", err)
}

// partitionHint explains the usual cause of an insert that finds no
// partition: the archive run dropped the partitions of archived days.
func partitionHint(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23514" && strings.Contains(pgErr.Message, "no partition") {
		return " (the archive dropped the partitions of those days: create them again, or restore --into another table)"
	}
	return ""
}

// hasColumnNames checks that the configured columns exist.
func hasColumnNames(cols []string, setting string, names ...string) error {
	for _, n := range names {
		if !slices.Contains(cols, n) {
			return fmt.Errorf("%s: column %q does not exist (columns: %s)", setting, n, strings.Join(cols, ", "))
		}
	}
	return nil
}

func objectIDs(objs []catalog.Object) []int64 {
	ids := make([]int64, len(objs))
	for i, o := range objs {
		ids[i] = o.ID
	}
	return ids
}

// utcDay is the UTC midnight starting t's UTC day.
func utcDay(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}
