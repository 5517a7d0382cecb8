package parquetio_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgtest"
)

// TestCSVIsQuotedWhereCopyQuotes compares the CSV encoder with COPY ... TO
// (FORMAT csv, HEADER) on the fields whose quoting differs by context: the
// end-of-data marker \. alone or among other columns, empty strings, NULL,
// delimiters, quotes, line breaks and header names that need quotes.
func TestCSVIsQuotedWhereCopyQuotes(t *testing.T) {
	_, pool := pgtest.NewDB(t)
	text := func(s string) parquetio.Value { return parquetio.NewValue(parquetio.KindText, 0, []byte(s)) }
	null := parquetio.NullValue(parquetio.KindText)
	cases := []struct {
		name string
		sql  string
		cols []string
		row  []parquetio.Value
	}{
		{"the end-of-data marker as the only column", `SELECT E'\\.' AS t`, []string{"t"}, []parquetio.Value{text(`\.`)}},
		{"the end-of-data marker among columns", `SELECT E'\\.' AS t, E'\\.' AS u`, []string{"t", "u"}, []parquetio.Value{text(`\.`), text(`\.`)}},
		{"a header named \\.", `SELECT 1::text AS "\."`, []string{`\.`}, []parquetio.Value{text("1")}},
		{"empty, NULL and blank", `SELECT ''::text AS a, NULL::text AS b, ' '::text AS c`, []string{"a", "b", "c"}, []parquetio.Value{text(""), null, text(" ")}},
		{"delimiters, quotes and line breaks", `SELECT 'x,y'::text AS "a,b", E'q"q'::text AS "q""", E'\r'::text AS cr, E'\n'::text AS lf`,
			[]string{"a,b", `q"`, "cr", "lf"}, []parquetio.Value{text("x,y"), text(`q"q`), text("\r"), text("\n")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var want, got bytes.Buffer
			conn, err := pool.Acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Release()
			if _, err := conn.Conn().PgConn().CopyTo(context.Background(), &want, "COPY ("+c.sql+") TO STDOUT (FORMAT csv, HEADER)"); err != nil {
				t.Fatal(err)
			}
			enc := parquetio.NewCSVEncoder(&got, c.cols)
			if err := enc.Encode(c.row); err != nil {
				t.Fatal(err)
			}
			if err := enc.Flush(); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("CSV %q, COPY writes %q", got.String(), want.String())
			}
		})
	}
}
