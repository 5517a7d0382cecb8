package tables

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
)

// Spec names one table: a dataset, an archive type and the column whose
// UTC day partitions it.
type Spec struct {
	Dataset, Type, TimeColumn string
}

// Load builds the Table of spec from the catalog alone: its committed,
// current objects (in one snapshot, with the version they reflect), their
// schema, and each object's column statistics. Statistics not yet recorded
// (objects archived before migration 11) are read once from the object's
// footer, by ranged reads, and recorded.
func Load(ctx context.Context, pool *pgxpool.Pool, b storage.Backend, prefix storage.Key, spec Spec) (Table, error) {
	root, err := prefix.Join(spec.Type, spec.Dataset)
	if err != nil {
		return Table{}, fmt.Errorf("table %s/%s: %w", spec.Type, spec.Dataset, err)
	}
	t := Table{Dataset: spec.Dataset, Type: spec.Type, Root: root.String(), TimeColumn: spec.TimeColumn}
	var objs []catalog.Object
	var recorded map[int64][]byte
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if t.Snapshot, err = catalog.Snapshot(ctx, tx); err != nil {
			return err
		}
		if objs, err = catalog.ListObjects(ctx, tx, catalog.Filter{Dataset: spec.Dataset, Type: spec.Type}); err != nil {
			return err
		}
		if t.Version, err = catalog.TableVersion(ctx, tx, spec.Dataset, spec.Type); err != nil {
			return err
		}
		ids := make([]int64, len(objs))
		for i, o := range objs {
			ids[i] = o.ID
		}
		recorded, err = catalog.ObjectStats(ctx, tx, ids)
		return err
	})
	if err != nil {
		return Table{}, fmt.Errorf("table %s/%s: %w", spec.Type, spec.Dataset, err)
	}
	uses := make([]catalog.SchemaUse, len(objs))
	for i, o := range objs {
		uses[i] = catalog.SchemaUse{Schema: o.Schema, First: o.ID, Last: o.ID}
	}
	if t.Columns, err = mergeSchemas(uses); err != nil {
		return Table{}, fmt.Errorf("table %s/%s: %w", spec.Type, spec.Dataset, err)
	}
	for _, o := range objs {
		obj, err := tableObject(root.String(), o)
		if err != nil {
			return Table{}, err
		}
		if obj.Columns, err = objectStats(ctx, pool, b, o, recorded[o.ID]); err != nil {
			return Table{}, fmt.Errorf("table %s/%s: %w", spec.Type, spec.Dataset, err)
		}
		t.Objects = append(t.Objects, obj)
	}
	t.Count = int64(len(t.Objects))
	return t, nil
}

// LoadChanges builds the Table of spec as the changes since pub, a
// publication recorded with its snapshot: Objects are the objects that
// became committed and current since (with their statistics), Removed
// those there then that stopped being so (one committed and gone since
// was never listed), Columns the schema of every current object. Its cost is that of the changes, not of the archive: one query
// for the changed objects, one for the distinct schemas, the statistics
// of the added objects only.
func LoadChanges(ctx context.Context, pool *pgxpool.Pool, b storage.Backend, prefix storage.Key, spec Spec, pub catalog.Publication) (Table, error) {
	root, err := prefix.Join(spec.Type, spec.Dataset)
	if err != nil {
		return Table{}, fmt.Errorf("table %s/%s: %w", spec.Type, spec.Dataset, err)
	}
	t := Table{Dataset: spec.Dataset, Type: spec.Type, Root: root.String(), TimeColumn: spec.TimeColumn, Incremental: true}
	var changed []catalog.Change
	var uses []catalog.SchemaUse
	var recorded map[int64][]byte
	err = pgx.BeginTxFunc(ctx, pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if t.Snapshot, err = catalog.Snapshot(ctx, tx); err != nil {
			return err
		}
		if changed, err = catalog.ChangedObjects(ctx, tx, spec.Dataset, spec.Type, pub.Version, pub.Snapshot); err != nil {
			return err
		}
		if uses, t.Count, err = catalog.CurrentSchemas(ctx, tx, spec.Dataset, spec.Type); err != nil {
			return err
		}
		if t.Version, err = catalog.TableVersion(ctx, tx, spec.Dataset, spec.Type); err != nil {
			return err
		}
		var ids []int64
		for _, o := range changed {
			if o.IsCurrent() {
				ids = append(ids, o.ID)
			}
		}
		recorded, err = catalog.ObjectStats(ctx, tx, ids)
		return err
	})
	if err != nil {
		return Table{}, fmt.Errorf("table %s/%s: %w", spec.Type, spec.Dataset, err)
	}
	if t.Columns, err = mergeSchemas(uses); err != nil {
		return Table{}, fmt.Errorf("table %s/%s: %w", spec.Type, spec.Dataset, err)
	}
	for _, c := range changed {
		obj, err := tableObject(root.String(), c.Object)
		if err != nil {
			return Table{}, err
		}
		switch {
		case !c.IsCurrent() && c.New:
			continue // committed and gone since: never listed
		case !c.IsCurrent():
			t.Removed = append(t.Removed, obj)
			continue
		case !c.New:
			// There before, current now and changed: it left the current
			// objects and came back (an expiry undone), listed or not.
			t.Unsure = true
		}
		if obj.Columns, err = objectStats(ctx, pool, b, c.Object, recorded[c.ID]); err != nil {
			return Table{}, fmt.Errorf("table %s/%s: %w", spec.Type, spec.Dataset, err)
		}
		t.Objects = append(t.Objects, obj)
	}
	return t, nil
}

// tableObject is a catalog object as a table lists it.
func tableObject(root string, o catalog.Object) (Object, error) {
	path, ok := strings.CutPrefix(o.Key, root+"/")
	if !ok {
		return Object{}, fmt.Errorf("object %d: key %s is not under the table's root %s", o.ID, o.Key, root)
	}
	obj := Object{ID: o.ID, Key: o.Key, Path: path, Day: o.Day, Rows: o.Rows, Bytes: o.Bytes, Committed: o.CreatedAt}
	if o.CommittedAt != nil {
		obj.Committed = *o.CommittedAt
	}
	return obj, nil
}

// objectStats decodes recorded statistics, or reads and records them.
func objectStats(ctx context.Context, pool *pgxpool.Pool, b storage.Backend, o catalog.Object, recorded []byte) ([]ColumnStats, error) {
	if recorded != nil {
		return decodeStats(recorded)
	}
	st, err := footerStats(ctx, b, o.Key, o.VersionID, o.Bytes)
	if err != nil {
		return nil, err
	}
	enc, err := EncodeStats(st)
	if err != nil {
		return nil, err
	}
	if err := catalog.SetObjectStats(ctx, pool, o.ID, enc); err != nil {
		return nil, err
	}
	return st, nil
}

// mergeSchemas is the table's schema: the columns of the objects in the
// order they were written (by id), a column's type its newest object's,
// columns that appeared later at the end. uses are the distinct schemas,
// each with the first and last object written with it (one per object
// serves as well).
func mergeSchemas(uses []catalog.SchemaUse) ([]parquetio.Column, error) {
	parsed := make([][]parquetio.Column, len(uses))
	for i, u := range uses {
		// The description is parquetio.Schema's JSON object, or (source
		// batches) the bare list of its columns.
		var s struct {
			Columns []parquetio.Column `json:"columns"`
		}
		if err := json.Unmarshal(u.Schema, &s); err != nil {
			if err := json.Unmarshal(u.Schema, &s.Columns); err != nil {
				return nil, fmt.Errorf("schema of object %d: %w", u.First, err)
			}
		}
		parsed[i] = s.Columns
	}
	order := make([]int, len(uses))
	for i := range order {
		order[i] = i
	}
	// A column's place is where it first appeared: the schemas by their
	// first object.
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(uses[a].First, uses[b].First) })
	var cols []parquetio.Column
	at := map[string]int{}
	for _, i := range order {
		for _, c := range parsed[i] {
			if _, ok := at[c.Name]; !ok {
				at[c.Name] = len(cols)
				cols = append(cols, c)
			}
		}
	}
	// Its type is that of the newest object that has it: the schemas by
	// their last object, later ones overwriting.
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(uses[a].Last, uses[b].Last) })
	for _, i := range order {
		for _, c := range parsed[i] {
			cols[at[c.Name]] = c
		}
	}
	return cols, nil
}
