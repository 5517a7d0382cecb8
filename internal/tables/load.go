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
	if t.Columns, err = mergeSchemas(objs); err != nil {
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
// columns that appeared later at the end.
func mergeSchemas(objs []catalog.Object) ([]parquetio.Column, error) {
	byID := append([]catalog.Object(nil), objs...)
	sortByID(byID)
	var cols []parquetio.Column
	at := map[string]int{}
	for _, o := range byID {
		// The description is parquetio.Schema's JSON object, or (source
		// batches) the bare list of its columns.
		var s struct {
			Columns []parquetio.Column `json:"columns"`
		}
		if err := json.Unmarshal(o.Schema, &s); err != nil {
			if err := json.Unmarshal(o.Schema, &s.Columns); err != nil {
				return nil, fmt.Errorf("schema of object %d: %w", o.ID, err)
			}
		}
		for _, c := range s.Columns {
			if i, ok := at[c.Name]; ok {
				cols[i] = c
				continue
			}
			at[c.Name] = len(cols)
			cols = append(cols, c)
		}
	}
	return cols, nil
}

func sortByID(objs []catalog.Object) {
	slices.SortFunc(objs, func(a, b catalog.Object) int { return cmp.Compare(a.ID, b.ID) })
}
