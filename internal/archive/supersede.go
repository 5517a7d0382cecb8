package archive

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/hold"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgsource"
)

// KeySupersedes is the Parquet metadata key of a corrected object: the ids
// of the objects it supersedes, comma separated.
const KeySupersedes = "strata.supersedes"

// PlaceColumn is the optional boolean column of a corrections table that
// lets a correction move a row between days: see Supersede.
const PlaceColumn = "__strata_place"

// SupersedeReport says what Supersede wrote.
type SupersedeReport struct {
	Days       []time.Time // days rewritten
	Written    []int64     // new object ids
	Superseded []int64     // old object ids now superseded
	Rows       int64       // rows in the new objects
	Corrected  int64       // rows whose values changed
}

// Supersede rewrites, for each given UTC day, the committed, current
// analytics objects of spec.Dataset for that day that hold at least one key
// present in the relation `corrections` (a table — usually a temporary table
// on tx's connection — with the Layer 2 columns, one row per key) and whose
// rows differ from the corrections: one new object per day holds every row of
// those objects, each row whose key is in corrections replaced by its
// corrected row, in the same column layout and order discipline as an archive
// run. The new object is written with the archive protocol (intent, create-only
// upload, stat back) and committed in tx, together with superseded_by on the
// old objects (which stay in storage, immutable, until they expire). Nothing
// is written when no row would change (idempotent). The caller commits tx.
//
// Details of the contract:
//   - corrections must have every column of the Layer 2 table with the same
//     type (format_type), and at most one row per key; extra columns are
//     ignored. Rows are compared with IS DISTINCT FROM over every Layer 2
//     column (json by its text).
//   - The new object has the Layer 2 table's current columns. An old object
//     with a column the table no longer has is an error (its values would be
//     lost); a table column an old object lacks reads as NULL. Its rows are
//     ordered by the time column, then the key. It expires when the latest of
//     the objects it replaces would have.
//   - Without PlaceColumn in corrections, a corrected row must stay in its
//     day: a time column value outside the day of the object it replaces is
//     an error. With it (a boolean), a row whose correction lies outside its
//     object's day is removed from that day's new object (it moved), and a
//     correction with PlaceColumn true whose time lies in a given day and
//     whose key no object of that day holds is added to that day's new
//     object (a day without objects to rewrite gets a new object that
//     supersedes nothing). The caller passes both the days rows leave and
//     the days they go to; a correction with PlaceColumn false is placed
//     nowhere (the caller puts it in Layer 2).
//   - Objects of a day that hold no changed row are left alone: they stay
//     current next to the new object.
//   - Supersede records no lineage: the caller records what it replayed,
//     with Written and Superseded.
//   - The uploads belong to a run whose liveness lock is taken in tx, so no
//     other process mistakes them for orphans before tx ends. If tx rolls
//     back, they become orphans that the next run or `strata verify
//     --repair` settles and removes. On error the caller must roll tx back:
//     the uploads Supersede made are marked orphaned at once.
func (a *Archiver) Supersede(ctx context.Context, tx pgx.Tx, spec AnalyticsSpec, corrections string, days []time.Time) (SupersedeReport, error) {
	var rep SupersedeReport
	if len(days) == 0 {
		return rep, nil
	}
	// A killed correction's uploads become orphans here, so that this one,
	// writing the same bytes, adopts them instead of uploading a second
	// copy (write-once storage keeps every copy).
	if _, err := a.Catalog.SettleDeadRuns(ctx, spec.Dataset, catalog.TypeAnalytics); err != nil {
		return rep, fmt.Errorf("supersede %s: %w", spec.Dataset, err)
	}
	sp, err := a.newSuperseder(ctx, tx, spec, corrections)
	if err != nil {
		return rep, fmt.Errorf("supersede %s: %w", spec.Dataset, err)
	}
	defer sp.close(ctx)
	var staged []*staged
	err = a.supersedeDays(ctx, sp, days, &rep, &staged)
	for _, s := range staged {
		s.cleanup()
	}
	if err != nil {
		a.orphan(context.WithoutCancel(ctx), staged)
		err = fmt.Errorf("supersede %s: %w", spec.Dataset, err)
	}
	if sp.runID == 0 {
		return rep, err // nothing was uploaded
	}
	var bytes int64
	for _, s := range staged {
		bytes += s.bytes
	}
	if ferr := a.Catalog.FinishRun(context.WithoutCancel(ctx), sp.runID,
		catalog.RunTotals{Rows: rep.Rows, Objects: len(rep.Written), Bytes: bytes}, err); ferr != nil && err == nil {
		err = ferr
	}
	return rep, err
}

func (a *Archiver) supersedeDays(ctx context.Context, sp *superseder, days []time.Time, rep *SupersedeReport, staged *[]*staged) error {
	norm := make([]time.Time, 0, len(days))
	for _, d := range days {
		norm = append(norm, utcDay(d))
	}
	slices.SortFunc(norm, func(x, y time.Time) int { return x.Compare(y) })
	norm = slices.Compact(norm)
	for _, day := range norm {
		s, old, corrected, err := sp.day(ctx, day)
		if s != nil {
			*staged = append(*staged, s)
		}
		if err != nil {
			return fmt.Errorf("day %s: %w", day.Format(time.DateOnly), err)
		}
		if s == nil {
			continue
		}
		rep.Days = append(rep.Days, day)
		rep.Written = append(rep.Written, s.obj.ID)
		rep.Superseded = append(rep.Superseded, old...)
		rep.Rows += s.rows
		rep.Corrected += corrected
		a.logger().Info("superseded", "dataset", sp.spec.Dataset, "day", day.Format(time.DateOnly),
			"object", s.obj.Key, "rows", s.rows, "corrected", corrected, "superseded", old)
	}
	return nil
}

// run starts Supersede's run before its first upload. The run is alive
// exactly as long as tx, whose lock it is: SettleDeadRuns leaves its
// uploads alone until tx commits (they are committed) or rolls back
// (orphans).
func (sp *superseder) run(ctx context.Context) (int64, error) {
	if sp.runID != 0 {
		return sp.runID, nil
	}
	id, err := sp.a.Catalog.StartRun(ctx, "supersede", sp.spec.Dataset, catalog.TypeAnalytics)
	if err != nil {
		return 0, err
	}
	sp.runID = id
	var ok bool
	if err := sp.tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))`,
		catalog.RunLockKey(id)).Scan(&ok); err != nil || !ok {
		return 0, fmt.Errorf("take the lock of run %d (taken: %v): %w", id, !ok, err)
	}
	return id, nil
}

// superseder holds what Supersede learns once about the tables.
type superseder struct {
	a    *Archiver
	tx   pgx.Tx
	spec AnalyticsSpec
	rel  pgsource.Relation // Layer 2
	corr pgsource.Relation
	cols []parquetio.Column
	// schema is the Layer 2 table's, which every new object gets.
	schema     *parquetio.Schema
	schemaJSON []byte
	runID      int64  // 0 until the first upload
	place      bool   // corrections has PlaceColumn: rows may move between days
	keyEq      string // o.k = c.k AND ...
	differ     string // ROW(o.a, ...) IS DISTINCT FROM ROW(c.a, ...)
	setList    string // "a" = c."a", ...
	selectSQL  string
}

// Temporary tables on tx's connection: one object's rows, and the rows of
// the day's objects that change.
const (
	supObj  = `pg_temp.strata_supersede_obj`
	supKeep = `pg_temp.strata_supersede_keep`
	supSeen = `pg_temp.strata_supersede_seen` // keys of corrections the day's objects hold
)

func (a *Archiver) newSuperseder(ctx context.Context, tx pgx.Tx, spec AnalyticsSpec, corrections string) (*superseder, error) {
	sp := &superseder{a: a, tx: tx, spec: spec}
	var err error
	if sp.rel, err = pgsource.Resolve(ctx, tx, spec.Table); err != nil {
		return nil, err
	}
	if sp.corr, err = pgsource.Resolve(ctx, tx, corrections); err != nil {
		return nil, fmt.Errorf("corrections: %w", err)
	}
	if sp.cols, err = parquetio.LoadColumns(ctx, tx, sp.rel.Ident()); err != nil {
		return nil, err
	}
	if err := hasColumns(sp.cols, "analytics.time_column", spec.TimeColumn); err != nil {
		return nil, fmt.Errorf("table %s: %w", sp.rel, err)
	}
	if err := hasColumns(sp.cols, "analytics.key", spec.Key...); err != nil {
		return nil, fmt.Errorf("table %s: %w", sp.rel, err)
	}
	if sp.schema, err = parquetio.NewSchema(sp.cols); err != nil {
		return nil, fmt.Errorf("table %s: %w", sp.rel, err)
	}
	if sp.schemaJSON, err = json.Marshal(sp.cols); err != nil {
		return nil, err
	}
	if err := sp.checkCorrections(ctx); err != nil {
		return nil, err
	}
	sp.buildSQL()
	if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS `+supObj+`, `+supKeep+`, `+supSeen+`;
		CREATE TEMP TABLE strata_supersede_obj ON COMMIT DROP AS SELECT * FROM `+sp.rel.Ident()+` WITH NO DATA;
		CREATE TEMP TABLE strata_supersede_keep ON COMMIT DROP AS SELECT * FROM `+sp.rel.Ident()+` WITH NO DATA;
		CREATE TEMP TABLE strata_supersede_seen ON COMMIT DROP AS SELECT `+quoteAll("", spec.Key)+` FROM `+sp.rel.Ident()+` WITH NO DATA;
		ANALYZE `+sp.corr.Ident()); err != nil {
		return nil, fmt.Errorf("temporary tables: %w", err)
	}
	return sp, nil
}

// checkCorrections checks that corrections has the Layer 2 columns, with
// the same types, and one row per key.
func (sp *superseder) checkCorrections(ctx context.Context) error {
	cc, err := parquetio.LoadColumns(ctx, sp.tx, sp.corr.Ident())
	if err != nil {
		return fmt.Errorf("corrections: %w", err)
	}
	types := map[string]string{}
	for _, c := range cc {
		types[c.Name] = c.TypeName
	}
	switch t, ok := types[PlaceColumn]; {
	case ok && t != "boolean":
		return fmt.Errorf("corrections table %s: column %q is %s, want boolean", sp.corr, PlaceColumn, t)
	case ok:
		sp.place = true
	}
	for _, c := range sp.cols {
		t, ok := types[c.Name]
		switch {
		case !ok:
			return fmt.Errorf("corrections table %s lacks column %q of %s", sp.corr, c.Name, sp.rel)
		case t != c.TypeName:
			return fmt.Errorf("corrections table %s: column %q is %s, in %s it is %s", sp.corr, c.Name, t, sp.rel, c.TypeName)
		}
	}
	keys := quoteAll("c.", sp.spec.Key)
	var dup bool
	if err := sp.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+sp.corr.Ident()+` c GROUP BY `+keys+
		` HAVING count(*) > 1)`).Scan(&dup); err != nil {
		return fmt.Errorf("corrections: %w", err)
	}
	if dup {
		return fmt.Errorf("corrections table %s has more than one row for a key (%s)", sp.corr, strings.Join(sp.spec.Key, ", "))
	}
	return nil
}

func (sp *superseder) buildSQL() {
	var eq, left, right, set []string
	for _, k := range sp.spec.Key {
		q := pgx.Identifier{k}.Sanitize()
		eq = append(eq, `o.`+q+` = c.`+q)
	}
	for _, c := range sp.cols {
		q := pgx.Identifier{c.Name}.Sanitize()
		cast := ""
		if c.TypeOID == 114 || c.BaseOID == 114 || c.ElemOID == 114 { // json has no equality: compare its text
			cast = "::text"
		}
		left = append(left, `o.`+q+cast)
		right = append(right, `c.`+q+cast)
		set = append(set, q+` = c.`+q)
	}
	sp.keyEq = strings.Join(eq, " AND ")
	sp.differ = `ROW(` + strings.Join(left, ", ") + `) IS DISTINCT FROM ROW(` + strings.Join(right, ", ") + `)`
	sp.setList = strings.Join(set, ", ")
	order := pgx.Identifier{sp.spec.TimeColumn}.Sanitize() + `, ` + quoteAll("", sp.spec.Key)
	sp.selectSQL = `SELECT ` + sp.schema.SelectList() + ` FROM ` + supKeep + ` ORDER BY ` + order
}

func quoteAll(prefix string, names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = prefix + pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(q, ", ")
}

// close drops the temporary tables (they go at commit anyway).
func (sp *superseder) close(ctx context.Context) {
	_, _ = sp.tx.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+supObj+`, `+supKeep+`, `+supSeen)
}

// day rewrites one day. It returns the staged object (nil when nothing
// changes), the ids it supersedes and the rows corrected; a non-nil staged
// object is returned with an error when the error came after its upload.
func (sp *superseder) day(ctx context.Context, day time.Time) (*staged, []int64, int64, error) {
	old, rows, err := sp.loadChanged(ctx, day)
	if err != nil {
		return nil, nil, 0, err
	}
	if err := hold.Check(ctx, sp.tx, "supersede", objectIDs(old)); err != nil {
		return nil, nil, 0, err // before anything is written
	}
	var corrected, moved, placed int64
	if len(old) > 0 {
		if moved, err = sp.moveOut(ctx, day); err != nil {
			return nil, nil, 0, err
		}
		if err := sp.tx.QueryRow(ctx, `SELECT count(*) FROM `+supKeep+` o JOIN `+sp.corr.Ident()+` c ON `+sp.keyEq+
			` WHERE `+sp.differ).Scan(&corrected); err != nil {
			return nil, nil, 0, fmt.Errorf("count corrected rows: %w", err)
		}
		if _, err := sp.tx.Exec(ctx, `UPDATE `+supKeep+` o SET `+sp.setList+` FROM `+sp.corr.Ident()+` c WHERE `+sp.keyEq); err != nil {
			return nil, nil, 0, fmt.Errorf("apply corrections: %w", err)
		}
	}
	if placed, err = sp.placeIn(ctx, day); err != nil {
		return nil, nil, 0, err
	}
	if len(old) == 0 && placed == 0 {
		return nil, nil, 0, nil
	}
	ids := objectIDs(old)
	s, err := sp.write(ctx, day, ids, rows-moved+placed)
	if err != nil {
		return nil, nil, 0, err
	}
	for _, o := range old {
		s.keepAtLeast(o.ExpiresAt)
	}
	runID, err := sp.run(ctx)
	if err != nil {
		s.cleanup()
		return nil, nil, 0, err
	}
	if err := sp.a.stage(ctx, s, runID); err != nil {
		return nil, nil, 0, err // stage orphaned and removed it
	}
	return s, ids, corrected + placed, sp.commit(ctx, s, ids)
}

// loadChanged loads, one object at a time, the day's current objects and
// keeps (in supKeep) the rows of those holding a row that corrections
// changes. It returns those objects and their rows.
func (sp *superseder) loadChanged(ctx context.Context, day time.Time) ([]catalog.Object, int64, error) {
	objs, err := catalog.ListObjects(ctx, sp.tx, catalog.Filter{Dataset: sp.spec.Dataset, Type: catalog.TypeAnalytics, From: &day, To: &day})
	if err != nil {
		return nil, 0, err
	}
	if _, err := sp.tx.Exec(ctx, `TRUNCATE `+supKeep+`, `+supSeen); err != nil {
		return nil, 0, err
	}
	cols := map[string]bool{}
	for _, c := range sp.cols {
		cols[c.Name] = true
	}
	var changed []catalog.Object
	var rows int64
	for _, o := range objs {
		if _, err := sp.tx.Exec(ctx, `TRUNCATE `+supObj); err != nil {
			return nil, 0, err
		}
		n, err := sp.a.copyObject(ctx, sp.tx, o, supObj, sp.rel.String(), cols)
		if err != nil {
			return nil, 0, err
		}
		var differs bool
		if _, err := sp.tx.Exec(ctx, `ANALYZE `+supObj); err != nil {
			return nil, 0, err
		}
		if _, err := sp.tx.Exec(ctx, `INSERT INTO `+supSeen+` SELECT `+quoteAll("o.", sp.spec.Key)+` FROM `+supObj+` o JOIN `+
			sp.corr.Ident()+` c ON `+sp.keyEq); err != nil {
			return nil, 0, fmt.Errorf("keys of %s: %w", o.Key, err)
		}
		if err := sp.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+supObj+` o JOIN `+sp.corr.Ident()+` c ON `+sp.keyEq+
			` WHERE `+sp.differ+`)`).Scan(&differs); err != nil {
			return nil, 0, fmt.Errorf("compare %s with the corrections: %w", o.Key, err)
		}
		if !differs {
			continue
		}
		if _, err := sp.tx.Exec(ctx, `INSERT INTO `+supKeep+` SELECT * FROM `+supObj); err != nil {
			return nil, 0, err
		}
		changed = append(changed, o)
		rows += n
	}
	return changed, rows, nil
}

// commit inserts the new object and supersedes the old ones, in tx.
func (sp *superseder) commit(ctx context.Context, s *staged, old []int64) error {
	if err := sp.a.Failpoints.Hit("in-commit-before-delete"); err != nil {
		return err
	}
	if err := catalog.Commit(ctx, sp.tx, &s.obj); err != nil {
		return err
	}
	if len(old) == 0 {
		return nil // a day's first object, of rows placed on it
	}
	return catalog.MarkSuperseded(ctx, sp.tx, old, s.obj.ID)
}
