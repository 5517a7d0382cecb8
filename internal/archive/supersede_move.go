package archive

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
)

// moveOut handles the day's rows whose correction lies on another day:
// without PlaceColumn that is an error; with it they leave the day's new
// object. It returns how many left.
func (sp *superseder) moveOut(ctx context.Context, day time.Time) (int64, error) {
	col := `c.` + pgx.Identifier{sp.spec.TimeColumn}.Sanitize()
	outside := `(` + col + ` >= $1 AND ` + col + ` < $2) IS NOT TRUE`
	if sp.place {
		tag, err := sp.tx.Exec(ctx, `DELETE FROM `+supKeep+` o USING `+sp.corr.Ident()+` c WHERE `+sp.keyEq+` AND `+outside,
			day, day.AddDate(0, 0, 1))
		if err != nil {
			return 0, fmt.Errorf("move rows out of %s: %w", day.Format(time.DateOnly), err)
		}
		return tag.RowsAffected(), nil
	}
	var moved []string
	r, err := sp.tx.Query(ctx, `SELECT concat_ws(', ', `+quoteAll("c.", sp.spec.Key)+`) FROM `+supKeep+` o JOIN `+
		sp.corr.Ident()+` c ON `+sp.keyEq+` WHERE `+outside+` LIMIT 3`, day, day.AddDate(0, 0, 1))
	if err == nil {
		moved, err = pgx.CollectRows(r, pgx.RowTo[string])
	}
	if err != nil {
		return 0, fmt.Errorf("check corrected times: %w", err)
	}
	if len(moved) > 0 {
		return 0, fmt.Errorf("the corrected rows of key(s) %s have a %s outside %s: a correction stays in its day (nothing was written)",
			strings.Join(moved, "; "), sp.spec.TimeColumn, day.Format(time.DateOnly))
	}
	return 0, nil
}

// placeIn adds to the day's new object the corrections to place on this
// day (PlaceColumn true, time in the day) whose key no object of the day
// holds. It returns how many it added.
func (sp *superseder) placeIn(ctx context.Context, day time.Time) (int64, error) {
	if !sp.place {
		return 0, nil
	}
	col := `c.` + pgx.Identifier{sp.spec.TimeColumn}.Sanitize()
	names := make([]string, len(sp.cols))
	for i, c := range sp.cols {
		names[i] = c.Name
	}
	tag, err := sp.tx.Exec(ctx, `INSERT INTO `+supKeep+` (`+quoteAll("", names)+`) SELECT `+quoteAll("c.", names)+` FROM `+sp.corr.Ident()+` c
		WHERE c.`+pgx.Identifier{PlaceColumn}.Sanitize()+` AND `+col+` >= $1 AND `+col+` < $2
		AND NOT EXISTS (SELECT 1 FROM `+supSeen+` o WHERE `+sp.keyEq+`)`, day, day.AddDate(0, 0, 1))
	if err != nil {
		return 0, fmt.Errorf("place rows on %s: %w", day.Format(time.DateOnly), err)
	}
	return tag.RowsAffected(), nil
}

// write writes the day's merged rows to a spool file, as writeDay does.
func (sp *superseder) write(ctx context.Context, day time.Time, old []int64, rows int64) (*staged, error) {
	ids := make([]string, len(old))
	for i, id := range old {
		ids[i] = strconv.FormatInt(id, 10)
	}
	spec := sp.spec
	opts := spec.dayWriterOptions(sp.rel.String(), day)
	opts.Metadata[KeySupersedes] = strings.Join(ids, ",")
	sw, err := sp.a.newSpoolWriter(sp.schema, opts)
	if err != nil {
		return nil, err
	}
	if err := copyRows(ctx, sp.tx, sw.w, sp.selectSQL, pgx.QueryResultFormats(sp.schema.ResultFormats())); err != nil {
		sw.abort()
		return nil, err
	}
	s, _, err := sw.finish()
	if err != nil {
		return nil, err
	}
	if s.rows != rows {
		s.cleanup()
		return nil, fmt.Errorf("wrote %d rows, the objects it replaces hold %d (less rows moved out, plus rows placed)", s.rows, rows)
	}
	s.day = day
	s.obj.Dataset, s.obj.Type, s.obj.Day, s.obj.SourceTable = spec.Dataset, catalog.TypeAnalytics, day, sp.rel.String()
	s.obj.SchemaFingerprint, s.obj.Schema = sp.schema.Fingerprint(), sp.schemaJSON
	s.setExpiry(spec.ArchiveRetention, spec.Immutability)
	return s, nil
}
