package lineage

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// PlaceColumn is the boolean column of the corrections table a Superseder
// gets that says a moved row is to be placed in an object of its day
// (archive.PlaceColumn).
const PlaceColumn = "__strata_place"

// tMoved holds the changed archived keys whose expected row lies on
// another UTC day than the archived row found (a time column that moved).
const tMoved = "pg_temp.strata_moved"

// Columns of strata_moved besides the key.
const (
	colFromDay = "__strata_from_day" // the archived row's day
	colToDay   = "__strata_to_day"   // the expected row's day
	colToLive  = "__strata_to_live"  // on apply, the row goes to Layer 2
)

// MovedSample is one key whose archived row lies on another day than the
// one its records give it: From is the archived row's day, To the day the
// transform gives it, both UTC dates; Layer2 says an apply puts the row in
// Layer 2 (younger than the retention) rather than in an object of To.
type MovedSample struct {
	Key    map[string]string `json:"key"`
	From   string            `json:"from_day"`
	To     string            `json:"to_day"`
	Layer2 bool              `json:"layer2,omitempty"`
}

// MovedDetail is what a replay's lineage record says (detail "moved") of
// the rows it moved between days: how many, where they went, samples.
type MovedDetail struct {
	Rows      int64         `json:"rows"`
	ToLayer2  int64         `json:"to_layer2"`
	InArchive int64         `json:"in_archive"`
	Samples   []MovedSample `json:"samples"`
}

// findMoved fills strata_moved and Report.Moved from the changed archived
// rows, when the transform yields the time column (else no row can move).
func (s *session) findMoved(ctx context.Context) error {
	if s.rep.ChangedArchived == 0 || !slices.Contains(s.out, s.spec.AnalyticsTime) {
		return nil
	}
	day := func(alias string) string {
		return `date_trunc('day', ` + qualify(alias, s.spec.AnalyticsTime) + `::timestamptz, 'UTC')::date`
	}
	if err := s.exec(ctx, "find the rows that moved between days", `CREATE TEMP TABLE strata_moved AS
		SELECT `+identList("d", s.spec.Key)+`, `+day("a")+` AS `+colFromDay+`, `+day("e")+` AS `+colToDay+`, false AS `+colToLive+
		s.changedRows()+` AND NOT d.`+colLive+` AND `+day("a")+` IS DISTINCT FROM `+day("e")); err != nil {
		return err
	}
	n, err := s.count(ctx, `SELECT count(*) FROM `+tMoved)
	if err != nil {
		return fmt.Errorf("count the rows that moved: %w", err)
	}
	s.rep.Moved = n
	if n == 0 {
		return nil
	}
	if err := s.exec(ctx, "index the moved rows", `CREATE UNIQUE INDEX ON `+tMoved+` (`+identList("", s.spec.Key)+`)`); err != nil {
		return err
	}
	if err := s.markDestinations(ctx, s.conn); err != nil {
		return err
	}
	s.rep.Samples.Moved, err = s.movedSamples(ctx)
	return err
}

// movedSamples returns the first moved keys, in key order.
func (s *session) movedSamples(ctx context.Context) ([]MovedSample, error) {
	rows, err := s.conn.Query(ctx, `SELECT `+s.keyText("m")+`, m.`+colFromDay+`::text, coalesce(m.`+colToDay+`::text, ''), m.`+colToLive+`
		FROM `+tMoved+` m ORDER BY `+identList("m", s.spec.Key)+fmt.Sprintf(` LIMIT %d`, SampleLimit))
	if err != nil {
		return nil, fmt.Errorf("sample moved rows: %w", err)
	}
	defer rows.Close()
	out := []MovedSample{}
	for rows.Next() {
		keys := make([]string, len(s.spec.Key))
		var m MovedSample
		dst := make([]any, 0, len(keys)+3)
		for i := range keys {
			dst = append(dst, &keys[i])
		}
		if err := rows.Scan(append(dst, &m.From, &m.To, &m.Layer2)...); err != nil {
			return nil, fmt.Errorf("sample moved rows: %w", err)
		}
		m.Key = s.keyMap(keys)
		out = append(out, m)
	}
	return out, rows.Err()
}

// placeMoved decides, on apply, where each moved row goes: Layer 2 when
// its corrected time is not older than the analytics retention (an archive
// run would not have moved it out yet), else an object of its own day.
// It returns the days that receive rows.
func (s *session) placeMoved(ctx context.Context, tx pgx.Tx) ([]time.Time, error) {
	if s.rep.Moved == 0 {
		return nil, nil
	}
	if err := s.markDestinations(ctx, tx); err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT DISTINCT `+colToDay+`::timestamptz FROM `+tMoved+` WHERE NOT `+colToLive+` AND `+colToDay+` IS NOT NULL ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("replay: days of the moved rows: %w", err)
	}
	days, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (time.Time, error) {
		var d time.Time
		err := r.Scan(&d)
		return d.UTC(), err
	})
	if err != nil {
		return nil, fmt.Errorf("replay: days of the moved rows: %w", err)
	}
	// The samples again, now that where the rows go is known (the
	// connection is tx's).
	if s.rep.Samples.Moved, err = s.movedSamples(ctx); err != nil {
		return nil, err
	}
	return days, nil
}

// markDestinations sets, for each moved row, whether an apply puts it in
// Layer 2 (its corrected time is not older than the analytics retention, so
// an archive run would not have moved it out yet) or in an object of its own
// day. Compare calls it too, so that its report says where a replay would put
// each row; the apply calls it again in its own transaction.
func (s *session) markDestinations(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
	QueryRow(context.Context, string, ...any) pgx.Row
}) error {
	var cutoff *time.Time
	if s.spec.Retention > 0 {
		var c time.Time
		if err := q.QueryRow(ctx, `SELECT date_trunc('day', now() - $1::interval, 'UTC')`, s.spec.Retention).Scan(&c); err != nil {
			return fmt.Errorf("retention cutoff: %w", err)
		}
		cutoff = &c
	}
	if _, err := q.Exec(ctx, `UPDATE `+tMoved+` m SET `+colToLive+` = ($1::timestamptz IS NULL
		OR e.`+qi(s.spec.AnalyticsTime)+` IS NULL OR e.`+qi(s.spec.AnalyticsTime)+`::timestamptz >= $1)
		FROM `+tExpected+` e WHERE `+s.joinOn("m", "e"), cutoff); err != nil {
		return fmt.Errorf("place the moved rows: %w", err)
	}
	return nil
}

// countMoved counts, on apply, the moved rows by destination.
func (s *session) countMoved(ctx context.Context, tx pgx.Tx) error {
	if s.rep.Moved == 0 {
		return nil
	}
	a := s.rep.Applied
	err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE `+colToLive+`), count(*) FILTER (WHERE NOT `+colToLive+`) FROM `+tMoved).
		Scan(&a.MovedToLayer2, &a.MovedInArchive)
	if err != nil {
		return fmt.Errorf("replay: count the moved rows: %w", err)
	}
	return nil
}

// movedToLayer2 is the upsert's condition for the moved keys of
// strata_diff (alias) that go to Layer 2.
func (s *session) movedToLayer2(alias string) string {
	if s.rep.Moved == 0 {
		return ""
	}
	return ` OR EXISTS (SELECT 1 FROM ` + tMoved + ` m WHERE ` + s.joinOn("m", alias) + ` AND m.` + colToLive + `)`
}

// placeInArchive is the corrections' PlaceColumn value for the key of
// strata_diff (alias): true for a moved row that goes to an object of its
// day.
func (s *session) placeInArchive(alias string) string {
	if s.rep.Moved == 0 {
		return "false"
	}
	return `EXISTS (SELECT 1 FROM ` + tMoved + ` m WHERE ` + s.joinOn("m", alias) + ` AND NOT m.` + colToLive + `)`
}
