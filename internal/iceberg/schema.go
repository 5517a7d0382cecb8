package iceberg

import (
	"fmt"

	"github.com/apache/iceberg-go"

	"github.com/stratahq/strata/internal/parquetio"
)

// icebergType is the Iceberg type engines see for a column of kind k, as
// Strata's Parquet stores it (docs/TYPES.md): where Iceberg has no type of
// the same meaning, the Parquet column is a string and so is the Iceberg
// one (numeric's exact text, interval, json and jsonb, enum labels).
func icebergType(k parquetio.Kind) (iceberg.Type, error) {
	switch k {
	case parquetio.KindBool:
		return iceberg.PrimitiveTypes.Bool, nil
	case parquetio.KindInt16, parquetio.KindInt32:
		return iceberg.PrimitiveTypes.Int32, nil
	case parquetio.KindInt64:
		return iceberg.PrimitiveTypes.Int64, nil
	case parquetio.KindFloat32:
		return iceberg.PrimitiveTypes.Float32, nil
	case parquetio.KindFloat64:
		return iceberg.PrimitiveTypes.Float64, nil
	case parquetio.KindNumeric, parquetio.KindText, parquetio.KindEnum, parquetio.KindInterval,
		parquetio.KindJSON, parquetio.KindJSONB:
		return iceberg.PrimitiveTypes.String, nil
	case parquetio.KindBytea:
		return iceberg.PrimitiveTypes.Binary, nil
	case parquetio.KindUUID:
		return iceberg.PrimitiveTypes.UUID, nil
	case parquetio.KindDate:
		return iceberg.PrimitiveTypes.Date, nil
	case parquetio.KindTime:
		return iceberg.PrimitiveTypes.Time, nil
	case parquetio.KindTimestamp:
		return iceberg.PrimitiveTypes.Timestamp, nil
	case parquetio.KindTimestamptz:
		return iceberg.PrimitiveTypes.TimestampTz, nil
	}
	return nil, fmt.Errorf("no Iceberg type for %s", k)
}

// schemaOf is the Iceberg schema of cols. Field ids are numbered here in
// column order (columns first, then list elements); a new table keeps
// them, and an existing one matches columns by name instead
// (UnionByNameWith), so a column keeps its id for good.
func schemaOf(cols []parquetio.Column) (*iceberg.Schema, error) {
	ps, err := parquetio.NewSchema(cols)
	if err != nil {
		return nil, fmt.Errorf("iceberg: %w", err)
	}
	fields := make([]iceberg.NestedField, len(cols))
	next := len(cols) + 1
	for i, c := range cols {
		k, array := ps.Kind(i)
		t, err := icebergType(k)
		if err != nil {
			return nil, fmt.Errorf("iceberg: column %q: %w", c.Name, err)
		}
		if array {
			t = &iceberg.ListType{ElementID: next, Element: t, ElementRequired: false}
			next++
		}
		fields[i] = iceberg.NestedField{ID: i + 1, Name: c.Name, Type: t, Required: c.NotNull}
	}
	return iceberg.NewSchema(0, fields...), nil
}

// schemaChanged reports whether want has a column cur lacks, of another
// type, or nullable where cur's is required: the changes that
// UnionByNameWith makes. Columns cur has and want lacks stay (old files
// hold them).
func schemaChanged(cur, want *iceberg.Schema) bool {
	for _, f := range want.Fields() {
		g, ok := cur.FindFieldByName(f.Name)
		if !ok || !sameType(g.Type, f.Type) || (g.Required && !f.Required) {
			return true
		}
	}
	return false
}

// sameType compares types ignoring the field ids of list elements.
func sameType(a, b iceberg.Type) bool {
	la, ok1 := a.(*iceberg.ListType)
	lb, ok2 := b.(*iceberg.ListType)
	if ok1 || ok2 {
		return ok1 && ok2 && la.ElementRequired == lb.ElementRequired && sameType(la.Element, lb.Element)
	}
	return a.Equals(b)
}
