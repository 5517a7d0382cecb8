package lineage

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Kinds of difference (strata_diff.__strata_kind).
const (
	kindChanged    = "changed"
	kindMissing    = "missing"
	kindUnexpected = "unexpected"
	kindLater      = "later"
)

// farFuture bounds "every record ingested after the period".
var farFuture = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// diff puts the keys whose expected and actual rows are not the same into
// strata_diff, with the kind of difference, and counts the matches. Keys
// with a record ingested after the period then become "later".
func (s *session) diff(ctx context.Context) error {
	keys := make([]string, len(s.spec.Key))
	for i, k := range s.spec.Key {
		keys[i] = "coalesce(e." + qi(k) + ", a." + qi(k) + ") AS " + qi(k)
	}
	sql := `CREATE TEMP TABLE strata_diff AS
		SELECT ` + strings.Join(keys, ", ") + `,
			CASE WHEN a.` + colLive + ` IS NULL THEN '` + kindMissing + `'
			     WHEN e.` + colID + ` IS NULL THEN '` + kindUnexpected + `'
			     ELSE '` + kindChanged + `' END AS ` + colKind + `,
			coalesce(a.` + colLive + `, false) AS ` + colLive + `
		FROM ` + tExpected + ` e FULL JOIN ` + tActual + ` a ON ` + s.joinOn("e", "a") + `
		WHERE e.` + colID + ` IS NULL OR a.` + colLive + ` IS NULL OR NOT (` + s.allSame("e", "a") + `)`
	if err := s.exec(ctx, "compare", sql); err != nil {
		return err
	}
	var differing, notMatched int64
	err := s.conn.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE `+colKind+` <> '`+kindUnexpected+`') FROM `+tDiff).Scan(&differing, &notMatched)
	if err != nil {
		return fmt.Errorf("count differences: %w", err)
	}
	s.rep.Matched = s.rep.AnalyticsRows.Expected - notMatched
	if differing == 0 {
		return nil
	}
	if err := s.exec(ctx, "index the differences", `CREATE UNIQUE INDEX ON `+tDiff+` (`+identList("", s.spec.Key)+`)`); err != nil {
		return err
	}
	return s.markLater(ctx)
}

// laterMargin reaches back from the start of a session for records that
// were committed after the period's records were read although their
// ingestion time (their transaction's start) lies in the period.
const laterMargin = time.Hour

// markLater reads the records ingested after the period, and those the
// period's read did not see (committed since), and turns the differing
// keys that any of them names (in its payload or through the transform)
// into kind "later": their analytics row comes from that record, or soon
// will.
func (s *session) markLater(ctx context.Context) error {
	from := s.to.Add(time.Nanosecond)
	if recent := s.started.Add(-laterMargin); recent.Before(from) {
		from = recent
	}
	n, err := s.loadRecords(ctx, tLater, from, farFuture)
	if err != nil || n == 0 {
		return err
	}
	id := qi(s.spec.IDColumn)
	tag, err := s.conn.Exec(ctx, `DELETE FROM `+tLater+` l WHERE EXISTS (SELECT 1 FROM `+tSrc+` p WHERE p.`+id+` = l.`+id+`)`)
	if err != nil {
		return fmt.Errorf("drop the period's own records: %w", err)
	}
	s.log.Info("read the records ingested after the period, for their keys", "records", n-tag.RowsAffected())
	cast := make([]string, len(s.spec.Key))
	for i, c := range s.l2Named(s.spec.Key) {
		cast[i] = "__strata_t." + qi(c.Name) + "::" + c.TypeName
	}
	if err := s.createTemp(ctx, tLaterKeys, s.l2Named(s.spec.Key)); err != nil {
		return err
	}
	if _, err := s.runTransform(ctx, "run over the records ingested after the period, for their keys", `INSERT INTO `+tLaterKeys+`
		SELECT `+s.payloadKeys("l")+` FROM `+tLater+` l
		UNION SELECT `+strings.Join(cast, ", ")+s.lateral(tLater)); err != nil {
		return err
	}
	return s.exec(ctx, "mark keys with later records", `UPDATE `+tDiff+` d SET `+colKind+` = '`+kindLater+`'
		WHERE EXISTS (SELECT 1 FROM `+tLaterKeys+` l WHERE `+s.joinOn("l", "d")+`)`)
}

// summarise fills the report's counts and samples from strata_diff.
func (s *session) summarise(ctx context.Context) error {
	r := s.rep
	err := s.conn.QueryRow(ctx, `SELECT
			count(*) FILTER (WHERE `+colKind+` = 'changed'),
			count(*) FILTER (WHERE `+colKind+` = 'changed' AND NOT `+colLive+`),
			count(*) FILTER (WHERE `+colKind+` = 'missing'),
			count(*) FILTER (WHERE `+colKind+` = 'unexpected'),
			count(*) FILTER (WHERE `+colKind+` = 'later')
		FROM `+tDiff).Scan(&r.Changed, &r.ChangedArchived, &r.Missing, &r.Unexpected, &r.Later)
	if err != nil {
		return fmt.Errorf("count differences: %w", err)
	}
	r.Agree = r.Changed == 0 && r.Missing == 0 && r.Unexpected == 0
	if err := s.findMoved(ctx); err != nil {
		return err
	}
	if r.Changed > 0 {
		if err := s.columnCounts(ctx); err != nil {
			return err
		}
		if err := s.changedSamples(ctx); err != nil {
			return err
		}
	}
	for _, k := range []struct {
		kind string
		n    int64
		into *[]KeySample
	}{{kindMissing, r.Missing, &r.Samples.Missing}, {kindUnexpected, r.Unexpected, &r.Samples.Unexpected}, {kindLater, r.Later, &r.Samples.Later}} {
		if k.n == 0 {
			continue
		}
		if *k.into, err = s.keySamples(ctx, k.kind); err != nil {
			return err
		}
	}
	return nil
}

// changedRows joins the changed keys with their expected (e) and actual
// (a) rows.
func (s *session) changedRows() string {
	return ` FROM ` + tDiff + ` d JOIN ` + tExpected + ` e ON ` + s.joinOn("d", "e") + ` JOIN ` + tActual + ` a ON ` + s.joinOn("d", "a") +
		` WHERE d.` + colKind + ` = '` + kindChanged + `'`
}

// columnCounts counts, in one pass, the changed rows per differing column.
func (s *session) columnCounts(ctx context.Context) error {
	sums := make([]string, len(s.out))
	for i, c := range s.l2Named(s.out) {
		sums[i] = "count(*) FILTER (WHERE NOT (" + same("e", "a", c) + "))"
	}
	counts := make([]int64, len(s.out))
	dst := make([]any, len(s.out))
	for i := range counts {
		dst[i] = &counts[i]
	}
	if err := s.conn.QueryRow(ctx, `SELECT `+strings.Join(sums, ", ")+s.changedRows()).Scan(dst...); err != nil {
		return fmt.Errorf("count differing columns: %w", err)
	}
	for i, n := range counts {
		if n > 0 {
			s.rep.Columns[s.out[i]] = n
		}
	}
	return nil
}

// keyText is the select list of alias's key columns as text.
func (s *session) keyText(alias string) string {
	out := make([]string, len(s.spec.Key))
	for i, k := range s.spec.Key {
		out[i] = qualify(alias, k) + "::text"
	}
	return strings.Join(out, ", ")
}

// changedSamples keeps the first changed rows, in key order, with the
// columns that differ.
func (s *session) changedSamples(ctx context.Context) error {
	sel := []string{s.keyText("d"), "d." + colLive}
	for _, c := range s.l2Named(s.out) {
		sel = append(sel, "NOT ("+same("e", "a", c)+")", qualify("e", c.Name)+"::text", qualify("a", c.Name)+"::text")
	}
	rows, err := s.conn.Query(ctx, `SELECT `+strings.Join(sel, ", ")+s.changedRows()+
		` ORDER BY `+identList("d", s.spec.Key)+fmt.Sprintf(` LIMIT %d`, SampleLimit))
	if err != nil {
		return fmt.Errorf("sample changed rows: %w", err)
	}
	defer rows.Close()
	nk := len(s.spec.Key)
	for rows.Next() {
		keys := make([]string, nk)
		var live bool
		differs := make([]bool, len(s.out))
		exp, act := make([]*string, len(s.out)), make([]*string, len(s.out))
		dst := []any{}
		for i := range keys {
			dst = append(dst, &keys[i])
		}
		dst = append(dst, &live)
		for i := range s.out {
			dst = append(dst, &differs[i], &exp[i], &act[i])
		}
		if err := rows.Scan(dst...); err != nil {
			return fmt.Errorf("sample changed rows: %w", err)
		}
		cs := ChangedSample{Key: s.keyMap(keys), Archived: !live, Columns: map[string]Values{}}
		for i, c := range s.out {
			if differs[i] {
				cs.Columns[c] = Values{Expected: exp[i], Actual: act[i]}
			}
		}
		s.rep.Samples.Changed = append(s.rep.Samples.Changed, cs)
	}
	return rows.Err()
}

// keySamples returns the first keys of a kind, in key order.
func (s *session) keySamples(ctx context.Context, kind string) ([]KeySample, error) {
	rows, err := s.conn.Query(ctx, `SELECT `+s.keyText("d")+` FROM `+tDiff+` d WHERE d.`+colKind+` = $1
		ORDER BY `+identList("d", s.spec.Key)+fmt.Sprintf(` LIMIT %d`, SampleLimit), kind)
	if err != nil {
		return nil, fmt.Errorf("sample %s keys: %w", kind, err)
	}
	defer rows.Close()
	out := []KeySample{}
	for rows.Next() {
		keys := make([]string, len(s.spec.Key))
		dst := make([]any, len(keys))
		for i := range keys {
			dst[i] = &keys[i]
		}
		if err := rows.Scan(dst...); err != nil {
			return nil, fmt.Errorf("sample %s keys: %w", kind, err)
		}
		out = append(out, KeySample{Key: s.keyMap(keys)})
	}
	return out, rows.Err()
}

func (s *session) keyMap(vals []string) map[string]string {
	m := make(map[string]string, len(vals))
	for i, k := range s.spec.Key {
		m[k] = vals[i]
	}
	return m
}
