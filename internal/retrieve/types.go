package retrieve

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgcast"
)

// A column's type may have changed (ALTER TABLE ... ALTER COLUMN ... TYPE)
// between the days of a retrieval: every value is returned, and compared
// by the filter, as the column's type now, the type it has in the table
// (or, for a column the table no longer has, in the newest object). An
// archived value of an older type is cast as PostgreSQL casts it when the
// column changes type (package pgcast), so the result has one type per
// column and a filter selects the rows PostgreSQL would select had they
// stayed in the table.

// objectColumns decodes the column list the catalog keeps for o.
func objectColumns(o catalog.Object) ([]parquetio.Column, error) {
	var cols []parquetio.Column
	if err := json.Unmarshal(o.Schema, &cols); err != nil {
		return nil, fmt.Errorf("object %s: catalog schema: %w", o.Key, err)
	}
	return cols, nil
}

// targetColumns returns every column's type now: the table's (and the
// live query's computed columns'), else the newest object's.
func targetColumns(objs []catalog.Object, table, live []parquetio.Column) (map[string]parquetio.Column, error) {
	byID := slices.Clone(objs)
	slices.SortFunc(byID, func(a, b catalog.Object) int { return cmp.Compare(a.ID, b.ID) })
	defs := map[string]parquetio.Column{}
	for _, o := range byID {
		cols, err := objectColumns(o)
		if err != nil {
			return nil, err
		}
		for _, c := range cols {
			defs[c.Name] = c
		}
	}
	for _, c := range append(slices.Clone(table), live...) {
		defs[c.Name] = c
	}
	return defs, nil
}

// planCasts returns, per object, the casts of the named columns that the
// object holds with another type than their type now. When a column has
// no such cast it fails, as a bad request, naming the column, both types
// and the objects, before any row is read.
func planCasts(objs []catalog.Object, targets map[string]parquetio.Column, names []string) ([]map[string]*pgcast.Cast, error) {
	casts := make([]map[string]*pgcast.Cast, len(objs))
	type problem struct {
		col, from string
		err       error
		keys      []string
	}
	var problems []*problem
	for i, o := range objs {
		cols, err := objectColumns(o)
		if err != nil {
			return nil, err
		}
		for _, c := range cols {
			to, ok := targets[c.Name]
			if !ok || sameType(c, to) || !slices.Contains(names, c.Name) {
				continue
			}
			cast, err := pgcast.Plan(c, to)
			switch {
			case err != nil:
				j := slices.IndexFunc(problems, func(p *problem) bool { return p.col == c.Name && p.from == c.TypeName })
				if j < 0 {
					problems = append(problems, &problem{col: c.Name, from: c.TypeName, err: err})
					j = len(problems) - 1
				}
				problems[j].keys = append(problems[j].keys, o.Key)
			case cast != nil:
				if casts[i] == nil {
					casts[i] = map[string]*pgcast.Cast{}
				}
				casts[i][c.Name] = cast
			}
		}
	}
	if len(problems) == 0 {
		return casts, nil
	}
	p := problems[0]
	return nil, badRequest(fmt.Errorf("column %q is %s now, but %d archived object(s) hold it as %s (%s): %w; "+
		"Strata casts archived values as ALTER COLUMN ... TYPE does without USING, and cannot compare or return these as %s. "+
		"Leave the column out (--columns without it, and no --where on it), narrow --from/--to to the days archived after the change, "+
		"or restore those days into a table of the old type (strata restore --into)",
		p.col, targets[p.col].TypeName, len(p.keys), p.from, listKeys(p.keys), p.err, targets[p.col].TypeName))
}

// sameType reports whether two definitions of a column have the same
// type, so that its values need no cast (the common case: no change).
func sameType(a, b parquetio.Column) bool {
	return a.TypeOID == b.TypeOID && a.TypeName == b.TypeName && a.ElemOID == b.ElemOID && a.BaseOID == b.BaseOID
}

// listKeys names up to three objects and counts the rest.
func listKeys(keys []string) string {
	if len(keys) <= 3 {
		return strings.Join(keys, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(keys[:3], ", "), len(keys)-3)
}

// castError is the error for an archived value that its cast refuses.
func castError(col string, o catalog.Object, err error) error {
	var ve *pgcast.ValueError
	if !errors.As(err, &ve) {
		return fmt.Errorf("column %q of %s: %w", col, o.Key, err)
	}
	return badRequest(fmt.Errorf("column %q: archived object %s holds the %s value %s, which cannot be cast to %s, "+
		"the column's type now (%s), as ALTER COLUMN ... TYPE would refuse it. Leave the column out (--columns without it, "+
		"and no --where on it), narrow --from/--to to avoid that object's day (%s), or restore it into a table of the old type "+
		"(strata restore --into)", col, o.Key, ve.From, ve.Value, ve.To, ve.Reason, o.Day.Format("2006-01-02")))
}

// castStats returns a row group's statistics as they bound the values
// cast to their type now: bounds cast when the cast keeps their order,
// dropped otherwise (the null count holds either way: a cast keeps NULL
// and non-NULL apart).
func castStats(stats map[string]parquetio.ColumnStats, casts map[string]*pgcast.Cast) map[string]parquetio.ColumnStats {
	if len(casts) == 0 {
		return stats
	}
	out := make(map[string]parquetio.ColumnStats, len(stats))
	for name, st := range stats {
		if c, ok := casts[name]; ok && st.HasMinMax {
			st = castBounds(st, c)
		}
		out[name] = st
	}
	return out
}

func castBounds(st parquetio.ColumnStats, c *pgcast.Cast) parquetio.ColumnStats {
	st.HasMinMax = false
	if !c.PreservesOrder() || st.Min.IsNull() || st.Max.IsNull() {
		return st
	}
	var arena []byte
	lo, err1 := c.Convert(st.Min, &arena)
	hi, err2 := c.Convert(st.Max, &arena)
	if err1 == nil && err2 == nil && !lo.IsNull() && !hi.IsNull() {
		st.Min, st.Max, st.HasMinMax = lo, hi, true
	}
	return st
}

// castColumns casts the values of the given columns of row to their type
// now; false, with c.err set, when a value cannot be cast.
func (c *cursor) castColumns(row []parquetio.Value, cols []int) bool {
	for _, j := range cols {
		v, err := c.conv[j].Convert(row[j], &c.castArena)
		if err != nil {
			c.err = castError(c.it.Columns()[j], c.rs.objs[c.obj], err)
			return false
		}
		row[j] = v
	}
	return true
}

// planConversions maps the object's casts to the columns of its rows.
func (c *cursor) planConversions(read []string, casts map[string]*pgcast.Cast) {
	c.conv, c.convF, c.convRest = make([]*pgcast.Cast, len(read)), nil, nil
	for j, name := range read {
		if c.conv[j] = casts[name]; c.conv[j] == nil {
			continue
		}
		if slices.Contains(c.fcols, j) {
			c.convF = append(c.convF, j)
		} else {
			c.convRest = append(c.convRest, j)
		}
	}
}
