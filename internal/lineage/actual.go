package lineage

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/stratahq/strata/internal/catalog"
)

// lock takes the dataset's analytics lock (the one analytics archive runs
// take), so that no row moves between Layer 2 and the archive while the
// actual rows are read and, on apply, until the fix commits. Ingest does
// not take it: an upsert meanwhile is a real change, which apply guards
// against row by row.
func (s *session) lock(ctx context.Context) (*catalog.Lock, error) {
	wait := s.c.LockWait
	if wait <= 0 {
		wait = 30 * time.Second
	}
	key := "strata:archive:analytics:" + s.spec.Dataset // as archive.Archiver.Analytics
	deadline := time.Now().Add(wait)
	for {
		l, err := catalog.TryLock(ctx, s.c.Pool, key)
		if err != nil || l != nil {
			return l, err
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: an archive run (or a restore or replay) holds dataset %s and did not finish within %s; retry when it has",
				ErrBusy, s.spec.Dataset, wait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// loadActual reads the analytics rows of the keys in strata_keys, live and
// archived, into strata_actual, and keeps one per key in strata_actual1:
// the live one, else the one read last (the newest day and object).
func (s *session) loadActual(ctx context.Context) error {
	extra := []string{colLive + " boolean NOT NULL", colOrd + " bigint"}
	if err := s.createTemp(ctx, tActualAll, s.l2Cols, extra...); err != nil {
		return err
	}
	cols := identList("", names(s.l2Cols))
	if err := s.exec(ctx, "read the live analytics rows", `INSERT INTO `+tActualAll+` (`+cols+`, `+colLive+`)
		SELECT `+identList("l", names(s.l2Cols))+`, true FROM `+s.l2.Ident()+` l JOIN `+tKeys+` k ON `+s.joinOn("l", "k")); err != nil {
		return err
	}
	if err := s.loadArchived(ctx); err != nil {
		return err
	}
	keys := identList("", s.spec.Key)
	if err := s.exec(ctx, "pick one analytics row per key", `CREATE TEMP TABLE strata_actual1 AS
		SELECT DISTINCT ON (`+keys+`) * FROM `+tActualAll+` ORDER BY `+keys+`, `+colLive+` DESC, `+colOrd+` DESC NULLS LAST`); err != nil {
		return err
	}
	if err := s.exec(ctx, "index the analytics rows", `CREATE UNIQUE INDEX ON `+tActual+` (`+keys+`)`); err != nil {
		return err
	}
	if err := s.exec(ctx, "analyze the analytics rows", `ANALYZE `+tActual); err != nil {
		return err
	}
	a := &s.rep.AnalyticsRows
	err := s.conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE `+colLive+`), count(*) FILTER (WHERE NOT `+colLive+`),
		(SELECT count(*) FROM `+tActualAll+`) - count(*) FROM `+tActual).Scan(&a.Live, &a.Archived, &a.Duplicates)
	if err != nil {
		return fmt.Errorf("count the analytics rows: %w", err)
	}
	s.log.Info("read the analytics rows of the period's keys", "live", a.Live, "archived", a.Archived)
	return nil
}

// loadArchived reads the archived analytics rows of the days where the
// keys' rows should be: the UTC days of the expected rows' time column and
// the period's days, where the catalog has objects. Each run of
// consecutive days is one retrieval, streamed into strata_stage, of which
// only the rows of the keys are kept. Then it searches the rest of the
// archive for the keys (searchArchive): a row whose time column moved to
// another day is found there.
func (s *session) loadArchived(ctx context.Context) error {
	days, err := s.archivedDays(ctx)
	if err != nil {
		return err
	}
	read := make(map[time.Time]bool, len(days))
	for _, r := range dayRuns(days) {
		if err := s.loadArchivedRun(ctx, r[0], r[1]); err != nil {
			return err
		}
	}
	for _, d := range days {
		read[d] = true
	}
	return s.searchArchive(ctx, read)
}

// archivedDays returns, in order, the days to read.
func (s *session) archivedDays(ctx context.Context) ([]time.Time, error) {
	expectedDays := `SELECT NULL::date WHERE false`
	if slices.Contains(s.out, s.spec.AnalyticsTime) {
		expectedDays = `SELECT date_trunc('day', ` + qi(s.spec.AnalyticsTime) + `::timestamptz, 'UTC')::date FROM ` + tExpected
	}
	rows, err := s.conn.Query(ctx, `WITH want(d) AS (`+expectedDays+`
		UNION SELECT generate_series($2::date, $3::date, interval '1 day')::date)
		SELECT DISTINCT o.day FROM strata.objects o JOIN want ON want.d = o.day
		WHERE o.dataset = $1 AND o.archive_type = 'analytics' AND o.state = 'committed' AND o.superseded_by IS NULL
		ORDER BY 1`, s.spec.Dataset, s.from.Truncate(24*time.Hour), s.to.Truncate(24*time.Hour))
	if err != nil {
		return nil, fmt.Errorf("find the archived days: %w", err)
	}
	defer rows.Close()
	var days []time.Time
	for rows.Next() {
		var d time.Time
		if err := rows.Scan(&d); err != nil {
			return nil, err
		}
		days = append(days, d.UTC())
	}
	return days, rows.Err()
}

// dayRuns groups ordered days into runs of consecutive days [first, last].
func dayRuns(days []time.Time) [][2]time.Time {
	var out [][2]time.Time
	for _, d := range days {
		if n := len(out); n > 0 && out[n-1][1].Add(24*time.Hour).Equal(d) {
			out[n-1][1] = d
			continue
		}
		out = append(out, [2]time.Time{d, d})
	}
	return out
}

// loadArchivedRun reads the days [first, last] of the analytics archive.
func (s *session) loadArchivedRun(ctx context.Context, first, last time.Time) error {
	objs, err := catalog.ListObjects(ctx, s.conn, catalog.Filter{Dataset: s.spec.Dataset, Type: catalog.TypeAnalytics, From: &first, To: &last})
	if err != nil {
		return err
	}
	have, err := schemaUnion(objs)
	if err != nil {
		return err
	}
	// Columns Layer 2 has now that the objects lack stay NULL.
	var cols []string
	for _, c := range s.l2Cols {
		if hasColumn(have, c.Name) {
			cols = append(cols, c.Name)
		}
	}
	for _, k := range s.spec.Key {
		if !slices.Contains(cols, k) {
			s.log.Warn("archived objects lack a key column: skipped", "from", first, "to", last, "column", k)
			return nil
		}
	}
	if err := s.ensureStage(ctx); err != nil {
		return err
	}
	n, err := s.copyIn(ctx, tStage, FetchRequest{Type: catalog.TypeAnalytics, From: first,
		To: last.Add(24*time.Hour - time.Microsecond), Columns: cols})
	if err != nil {
		return err
	}
	s.log.Debug("read archived analytics rows", "from", first, "to", last, "rows", n)
	return s.keepStagedRows(ctx)
}
