package archive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/pgsource"
)

// This file is restore --into: a copy of archived rows in a table of the
// user's choosing, for investigation; the catalog is left unchanged.

// restoreInto copies objs into another table, creating it when missing;
// the catalog is left unchanged.
func (a *Archiver) restoreInto(ctx context.Context, tx pgx.Tx, spec AnalyticsSpec, into pgx.Identifier, objs []catalog.Object, rep *RestoreReport) error {
	rep.Table = strings.Join(into, ".")
	rel, created, err := a.restoreTarget(ctx, tx, spec, into, objs)
	if err != nil || rel == nil {
		return err
	}
	rep.Table, rep.Created = rel.String(), created
	cols, _, err := tableColumns(ctx, tx, rel.OID)
	if err != nil {
		return err
	}
	if err := a.copyObjects(ctx, tx, objs, rel.Ident(), rel.String(), set(cols), map[string]bool{}, rep); err != nil {
		var mc *missingColumnError
		if errors.As(err, &mc) {
			return fmt.Errorf("%w: %v (restore into a new table instead)", ErrRestoreTarget, err)
		}
		return err
	}
	var n int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+rel.Ident()).Scan(&n); err != nil {
		return err
	}
	if n != rep.Rows {
		return fmt.Errorf("%s holds %d rows after copying %d; rolled back", rel, n, rep.Rows)
	}
	return tx.Commit(ctx)
}

// reservedSchema reports whether a schema belongs to PostgreSQL or Strata.
func reservedSchema(s string) bool {
	return s == "strata" || s == "information_schema" || strings.HasPrefix(s, "pg_")
}

// restoreTarget resolves or creates the --into table. It returns a nil
// relation when there is nothing to restore and the table does not exist.
func (a *Archiver) restoreTarget(ctx context.Context, tx pgx.Tx, spec AnalyticsSpec, into pgx.Identifier, objs []catalog.Object) (*pgsource.Relation, bool, error) {
	name := strings.Join(into, ".")
	if len(into) > 2 || slices.Contains(into, "") {
		return nil, false, fmt.Errorf("%w: --into %q: use table or schema.table", ErrRestoreTarget, name)
	}
	if len(into) == 2 && reservedSchema(into[0]) {
		return nil, false, fmt.Errorf("%w: --into %s: schema %s belongs to PostgreSQL or Strata; choose another", ErrRestoreTarget, name, into[0])
	}
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, into.Sanitize()).Scan(&exists); err != nil {
		return nil, false, err
	}
	created := false
	if !exists {
		if len(objs) == 0 {
			return nil, false, nil
		}
		if err := createRestoreTable(ctx, tx, into, objs); err != nil {
			return nil, false, err
		}
		created = true
	}
	rel, err := pgsource.Resolve(ctx, tx, name)
	if err != nil {
		return nil, false, fmt.Errorf("%w: --into %s: %v", ErrRestoreTarget, name, err)
	}
	if reservedSchema(rel.Schema) {
		return nil, false, fmt.Errorf("%w: --into %s resolves to %s, in a schema of PostgreSQL or Strata; choose another", ErrRestoreTarget, name, rel)
	}
	if l2, err := pgsource.Resolve(ctx, tx, spec.Table); err == nil && l2.OID == rel.OID {
		return nil, false, fmt.Errorf("%w: --into %s is the dataset's Layer 2 table: leave out --into to restore into it", ErrRestoreTarget, rel)
	}
	if !created {
		var full bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+rel.Ident()+`)`).Scan(&full); err != nil {
			return nil, false, fmt.Errorf("read %s: %w", rel, err)
		}
		if full {
			return nil, false, fmt.Errorf("%w: --into %s is not empty: restore into a new table (it is created) or an empty one", ErrRestoreTarget, rel)
		}
	}
	return &rel, created, nil
}

// createRestoreTable creates the --into table with the archived columns
// (the union of the objects' schemas, each column as most recently
// archived). Each type name comes from the catalog and is checked to be a
// single valid type name before it is used.
func createRestoreTable(ctx context.Context, tx pgx.Tx, into pgx.Identifier, objs []catalog.Object) error {
	var names []string
	types := map[string]string{}
	for _, o := range objs {
		var oc []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal(o.Schema, &oc); err != nil {
			return fmt.Errorf("object %s: catalog schema: %w", o.Key, err)
		}
		for _, c := range oc {
			if _, ok := types[c.Name]; !ok {
				names = append(names, c.Name)
			}
			types[c.Name] = c.Type
		}
	}
	defs := make([]string, len(names))
	for i, n := range names {
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT to_regtype($1) IS NOT NULL`, types[n]).Scan(&ok); err != nil || !ok ||
			strings.ContainsAny(types[n], ";'\\") || strings.Contains(types[n], "--") || strings.Contains(types[n], "/*") {
			return fmt.Errorf("column %q: archived type %q is not a type of this database (create the table yourself and pass it to --into)", n, types[n])
		}
		defs[i] = pgx.Identifier{n}.Sanitize() + " " + types[n]
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE `+into.Sanitize()+` (`+strings.Join(defs, ", ")+`)`); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "3F000" || pgErr.Code == "42501") {
			return fmt.Errorf("%w: create table %s: %v", ErrRestoreTarget, into.Sanitize(), err)
		}
		return fmt.Errorf("create table %s: %w", into.Sanitize(), err)
	}
	return nil
}
