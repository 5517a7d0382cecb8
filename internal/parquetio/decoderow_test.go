package parquetio_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/parquetio"
)

// Rows decoded straight from the database must render exactly like the
// same rows read back from an archive file, so a retrieval that merges
// live and archived rows cannot tell them apart.
func TestDecodeRowEqualsTheArchivedRowForEveryType(t *testing.T) {
	pool, s := setupAllTypes(t)
	ctx := context.Background()
	file, _ := archive(t, pool, s, "FROM a ORDER BY id", parquetio.WriterOptions{RowGroupRows: 500})
	it, err := open(t, file).Rows(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	rows, err := pool.Query(ctx, "SELECT "+s.SelectList()+" FROM a ORDER BY id", pgx.QueryResultFormats(s.ResultFormats()))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	live := make([]parquetio.Value, len(s.Columns()))
	var arena []byte
	n := 0
	for rows.Next() {
		if !it.Next() {
			t.Fatalf("row %d: the file has fewer rows than the table: %v", n, it.Err())
		}
		arena = arena[:0]
		if err := s.DecodeRow(rows.RawValues(), live, &arena); err != nil {
			t.Fatalf("row %d: %v", n, err)
		}
		for i, v := range it.Row() {
			if got, want := render(live[i]), render(v); !bytes.Equal(got, want) {
				t.Fatalf("row %d column %s: decoded %s, archived %s", n, s.Columns()[i].Name, got, want)
			}
		}
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if it.Next() {
		t.Fatal("the file has more rows than the table")
	}
	if n != 3007 {
		t.Fatalf("compared %d rows, want 3007", n)
	}
}

func render(v parquetio.Value) []byte {
	out := append(v.AppendJSON(nil), '|')
	if v.IsNull() {
		return append(out, "NULL"...)
	}
	return v.AppendText(out)
}
