// Package delta writes a dataset's archive as a Delta Lake table: a
// transaction log under {root}/_delta_log/ whose add actions name the
// archive's existing Parquet objects by their path relative to the table's
// root, so nothing is copied. It is written from the Delta transaction log
// protocol (reader version 1, writer version 2: no column mapping, no
// deletion vectors, no table features), because no well-kept Go writer
// exists.
//
// Every log entry is written create-only: a version somebody else wrote
// first is a conflict, answered by reading the log again and recomputing
// the commit. A publish compares the table the log describes with the one
// the catalog says, and commits the difference (removes, adds and a schema
// change) in one version, or nothing; so a publish interrupted at any point
// is repaired by the next.
package delta

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/stratahq/strata/internal/parquetio"
)

// PartitionColumn is the partition column every table has: the UTC day of
// the object's rows (the archive's day folder), a Delta date. It is not in
// the Parquet files; readers derive it from each add's partitionValues.
const PartitionColumn = "strata_day"

// field is one StructField of Delta's schema serialization.
type field struct {
	Name     string         `json:"name"`
	Type     any            `json:"type"` // a primitive name or an arrayType
	Nullable bool           `json:"nullable"`
	Metadata map[string]any `json:"metadata"`
}

type arrayType struct {
	Type         string `json:"type"` // "array"
	ElementType  string `json:"elementType"`
	ContainsNull bool   `json:"containsNull"`
}

type structType struct {
	Type   string  `json:"type"` // "struct"
	Fields []field `json:"fields"`
}

// primitive is the Delta type of a value of kind k, as the Parquet files
// hold it (parquetio.NewSchema): engines read the file's column through
// this type. Delta writer version 2 has no timestamp without time zone
// (that needs the timestampNtz feature, reader version 3), no time and no
// uuid: see docs/TYPES.md for what each engine then shows.
func primitive(k parquetio.Kind) (string, error) {
	switch k {
	case parquetio.KindBool:
		return "boolean", nil
	case parquetio.KindInt16:
		return "short", nil
	case parquetio.KindInt32:
		return "integer", nil
	case parquetio.KindInt64, parquetio.KindTime:
		return "long", nil
	case parquetio.KindFloat32:
		return "float", nil
	case parquetio.KindFloat64:
		return "double", nil
	case parquetio.KindNumeric, parquetio.KindText, parquetio.KindEnum, parquetio.KindJSON,
		parquetio.KindJSONB, parquetio.KindInterval:
		return "string", nil
	case parquetio.KindBytea, parquetio.KindUUID:
		return "binary", nil
	case parquetio.KindDate:
		return "date", nil
	case parquetio.KindTimestamp, parquetio.KindTimestamptz:
		return "timestamp", nil
	}
	return "", fmt.Errorf("no Delta type for %s", k)
}

// schemaString is the table's schema serialized as Delta wants it: the
// columns in order, then the partition column. It refuses names Delta
// cannot tell apart (column names are case-insensitive there) and a column
// named like the partition column.
func schemaString(cols []parquetio.Column) (string, error) {
	s, err := parquetio.NewSchema(cols)
	if err != nil {
		return "", err
	}
	seen := map[string]string{}
	st := structType{Type: "struct"}
	for i, c := range cols {
		low := strings.ToLower(c.Name)
		if low == PartitionColumn {
			return "", fmt.Errorf("column %q has the name of the Delta partition column: rename it to publish a Delta table", c.Name)
		}
		if strings.ContainsAny(c.Name, " ,;{}()\n\t=") {
			return "", fmt.Errorf("column %q has a character Delta refuses in a column name without column mapping "+
				"(space , ; { } ( ) = tab newline): rename it, or turn tables.delta off", c.Name)
		}
		if other, dup := seen[low]; dup {
			return "", fmt.Errorf("columns %q and %q differ only in case, which Delta does not tell apart: rename one to publish a Delta table", other, c.Name)
		}
		seen[low] = c.Name
		k, array := s.Kind(i)
		p, err := primitive(k)
		if err != nil {
			return "", fmt.Errorf("column %q: %w", c.Name, err)
		}
		// Every column is nullable: a NOT NULL column added to the table
		// later is missing (NULL) in the objects written before it, and
		// nullable=false would promise engines otherwise.
		f := field{Name: c.Name, Type: p, Nullable: true, Metadata: map[string]any{}}
		if array {
			f.Type = arrayType{Type: "array", ElementType: p, ContainsNull: true}
		}
		st.Fields = append(st.Fields, f)
	}
	st.Fields = append(st.Fields, field{Name: PartitionColumn, Type: "date", Nullable: true, Metadata: map[string]any{}})
	b, err := json.Marshal(st)
	return string(b), err
}
