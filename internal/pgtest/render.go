package pgtest

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/parquetio"
)

// Rendered is a table's rows as PostgreSQL itself writes them, captured
// before an archive run moves rows out of the table, to check what a
// retrieval writes against: row_to_json of each row, and each record of
// COPY ... TO STDOUT (FORMAT csv, HEADER), both by key.
type Rendered struct {
	// Columns are the table's columns in order.
	Columns []string
	key     int
	numeric []bool            // numeric columns (arrays, domains included): strings in retrieval's JSON
	json    map[string]string // key -> row_to_json
	header  []byte
	csv     map[string][]byte // key -> the record as COPY wrote it
}

// Render captures table's rows in a session with the settings retrieval
// writes for (DateStyle ISO, TimeZone UTC, IntervalStyle postgres, the
// default extra_float_digits), keyed by the text of column key.
func Render(t testing.TB, pool *pgxpool.Pool, table, key string) *Rendered {
	t.Helper()
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SET DateStyle = 'ISO, MDY'; SET TimeZone = 'UTC'; SET IntervalStyle = 'postgres'; SET extra_float_digits = 1"); err != nil {
		t.Fatal(err)
	}
	r := &Rendered{key: -1, json: map[string]string{}, csv: map[string][]byte{}}
	r.loadColumns(t, conn.Conn(), table, key)
	rel := pgx.Identifier{table}.Sanitize()
	rows, err := conn.Query(ctx, "SELECT "+pgx.Identifier{key}.Sanitize()+"::text, row_to_json(x)::text FROM "+rel+" x")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, j string
		if err := rows.Scan(&k, &j); err != nil {
			t.Fatal(err)
		}
		r.json[k] = j
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := conn.Conn().PgConn().CopyTo(ctx, &out, "COPY "+rel+" TO STDOUT (FORMAT csv, HEADER)"); err != nil {
		t.Fatal(err)
	}
	header, recs, err := r.csvRecords(out.Bytes())
	if err != nil {
		t.Fatalf("PostgreSQL's own CSV: %v", err)
	}
	r.header, r.csv = header, recs
	return r
}

func (r *Rendered) loadColumns(t testing.TB, conn *pgx.Conn, table, key string) {
	t.Helper()
	cols, err := parquetio.LoadColumns(context.Background(), conn, pgx.Identifier{table}.Sanitize())
	if err != nil {
		t.Fatal(err)
	}
	s, err := parquetio.NewSchema(cols)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cols {
		r.Columns = append(r.Columns, c.Name)
		k, _ := s.Kind(i)
		r.numeric = append(r.numeric, k == parquetio.KindNumeric)
		if c.Name == key {
			r.key = i
		}
	}
	if r.key < 0 {
		t.Fatalf("%s has no column %s", table, key)
	}
}

// Rows is how many rows were captured.
func (r *Rendered) Rows() int { return len(r.json) }

// CheckJSONLines checks that out is JSON lines, each a strict JSON object
// (valid UTF-8, no trailing data) with the columns as keys in order, whose
// values equal row_to_json's of the captured row with the same key, except
// that numeric values are strings holding the exact text row_to_json writes
// as a number; and that no row comes twice. It returns how many lines
// matched.
func (r *Rendered) CheckJSONLines(t testing.TB, out []byte) int {
	t.Helper()
	if len(out) > 0 && out[len(out)-1] != '\n' {
		t.Errorf("JSON lines do not end with a line break: ...%q", out[max(0, len(out)-40):])
	}
	seen := map[string]bool{}
	bad := 0
	for i, line := range bytes.Split(bytes.TrimSuffix(out, []byte("\n")), []byte("\n")) {
		if len(out) == 0 {
			break
		}
		if err := r.checkJSONLine(line, seen); err != nil {
			t.Errorf("line %d: %v\n  got:  %s", i+1, err, line)
			if bad++; bad == 10 {
				t.Fatal("stopping after 10 bad lines")
			}
		}
	}
	return len(seen)
}

func (r *Rendered) checkJSONLine(line []byte, seen map[string]bool) error {
	keys, vals, err := DecodeObject(line)
	if err != nil {
		return err
	}
	if !slices.Equal(keys, r.Columns) {
		return fmt.Errorf("keys %v, want the columns in order %v", keys, r.Columns)
	}
	k := fmt.Sprint(vals[r.key])
	want, ok := r.json[k]
	if !ok || seen[k] {
		return fmt.Errorf("%s %s: no such row, or a second time", r.Columns[r.key], k)
	}
	seen[k] = true
	_, wantVals, err := DecodeObject([]byte(want))
	if err != nil {
		return fmt.Errorf("PostgreSQL's row_to_json: %v", err)
	}
	for i, c := range r.Columns {
		w := wantVals[i]
		if r.numeric[i] {
			w = numbersToStrings(w)
		}
		if !reflect.DeepEqual(vals[i], w) {
			g, _ := json.Marshal(vals[i])
			e, _ := json.Marshal(w)
			return fmt.Errorf("column %s = %s, PostgreSQL's row_to_json has %s\n  row_to_json: %s", c, g, e, want)
		}
	}
	return nil
}

// DecodeObject decodes one JSON object strictly: valid UTF-8, valid JSON,
// numbers kept as their text (json.Number), nothing after the object. It
// returns the keys in order (duplicates included) and their values.
func DecodeObject(b []byte) (keys []string, vals []any, err error) {
	if !utf8.Valid(b) {
		return nil, nil, errors.New("not valid UTF-8")
	}
	if !json.Valid(b) {
		return nil, nil, errors.New("not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("not a JSON object (%v)", err)
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, err
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, err
		}
		keys, vals = append(keys, tok.(string)), append(vals, v)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("data after the object (%v)", err)
	}
	return keys, vals, nil
}

// numbersToStrings turns the numbers of a decoded value into strings of
// their exact text, as retrieval writes numeric.
func numbersToStrings(v any) any {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = numbersToStrings(e)
		}
		return out
	}
	return v
}

// CheckCSV checks that out, parsed as strict CSV, has PostgreSQL's header
// and, for each row, the very bytes COPY ... TO (FORMAT csv) wrote for the
// captured row with the same key (so it also reads back equal: NULL as an
// empty unquoted field, "" an empty string); and that no row comes twice.
// It returns how many records matched.
func (r *Rendered) CheckCSV(t testing.TB, out []byte) int {
	t.Helper()
	header, recs, err := r.csvRecords(out)
	if err != nil {
		t.Fatalf("CSV: %v", err)
	}
	if !bytes.Equal(header, r.header) {
		t.Errorf("CSV header %q, PostgreSQL's is %q", header, r.header)
	}
	bad := 0
	for k, got := range recs {
		if want, ok := r.csv[k]; !ok || !bytes.Equal(got, want) {
			t.Errorf("CSV record of %s %s:\n  got:  %q\n  COPY: %q", r.Columns[r.key], k, got, want)
			if bad++; bad == 10 {
				t.Fatal("stopping after 10 bad records")
			}
		}
	}
	return len(recs)
}

// csvRecords splits CSV into its header and its records by key, each as the
// bytes it was written with, reading it with encoding/csv (strict quotes,
// as many fields as columns). A key seen twice is an error.
func (r *Rendered) csvRecords(b []byte) (header []byte, recs map[string][]byte, err error) {
	cr := csv.NewReader(bytes.NewReader(b))
	cr.FieldsPerRecord = len(r.Columns)
	recs = map[string][]byte{}
	for n := 0; ; n++ {
		start := cr.InputOffset()
		rec, err := cr.Read()
		if err == io.EOF {
			return header, recs, nil
		}
		if err != nil {
			return nil, nil, err
		}
		raw := b[start:cr.InputOffset()]
		if n == 0 {
			if strings.Join(rec, ",") != strings.Join(r.Columns, ",") {
				return nil, nil, fmt.Errorf("header %q, want the columns %v", raw, r.Columns)
			}
			header = raw
			continue
		}
		if _, dup := recs[rec[r.key]]; dup {
			return nil, nil, fmt.Errorf("%s %s comes twice", r.Columns[r.key], rec[r.key])
		}
		recs[rec[r.key]] = raw
	}
}
