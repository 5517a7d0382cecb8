package pgcast_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgcast"
	"github.com/stratahq/strata/internal/pgtest"
)

var (
	numberTypes = []string{"smallint", "integer", "bigint", "real", "double precision", "numeric", "numeric(12,3)", "numeric(5,2)", "numeric(3,-1)"}
	numbers     = []string{"0", "1", "-1", "2.5", "3.5", "-2.5", "0.0005", "-0.0015", "12.345", "999.995", "32767", "32768", "-32769",
		"2147483647", "2147483648", "9223372036854775807", "-9223372036854775808", "1e10", "0.1", "123.4567", "1234567.5",
		"1e-5", "1.5e-5", "1e20", "1e300", "1e-300", "1e-40", "3.4e38", "1e39", "100000000000000.5", "1234567.89012345678",
		"16777217", "9007199254740993", "-0", "NaN", "Infinity", "-Infinity"}
	stringTypes = []string{"text", "varchar", "varchar(5)", "varchar(10)", "char(5)", "char(3)", "bpchar", "name"}
	strs        = []string{"", "a", "ab  ", "abcde", "abcdef", "abc   ", "héllo", "héllo!", "hé   !", " x ", "a\tb", "   ",
		"a\u00a0", "0123456789012345678901234567890123456789012345678901234567890123456789"}
	timeTypes = []string{"date", "timestamp", "timestamptz", "timestamp(0)", "timestamptz(3)", "time", "time(0)"}
	times     = []string{"2024-03-10", "2024-03-10 12:34:56.789567", "1999-12-31 23:59:59.5", "1985-06-01 00:00:00.5",
		"1985-06-01 00:00:00.4999", "2000-01-01 00:00:00.0005", "1969-12-31 23:59:59.999999", "0044-03-15 BC",
		"0044-03-15 10:00:00.5 BC", "infinity", "-infinity", "12:34:56.5", "23:59:59.7"}
	jsons = []string{`{"b":1,"a":[1,2.50,1e2,-0,1E-2],"a":null}`, `"x\u0041\n\/"`, `  [ ]`, `{"\u00e9": "\ud83d\ude00 ü"}`,
		`{"a":"\u0000"}`, `-0`, `{"aa":1,"b":2,"":{}}`, `{"k":"tab\there","ctl":"\u001f"}`, `true`, `null`, `1.000e3`}
	others = map[string][]string{
		"boolean": {"true", "false"}, "uuid": {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}, "bytea": {`\x00ff41`, ""},
		"interval": {"1 year 2 mons 3 days 04:05:06.5", "-00:00:01"}, "mood": {"happy", "sad"},
	}
)

// castCase is a change of type and the values to try it on.
type castCase struct {
	from, to string
	values   []string
}

func cases() []castCase {
	var cs []castCase
	pairs := func(types, values []string) {
		for _, f := range types {
			for _, t := range types {
				if f != t {
					cs = append(cs, castCase{f, t, values})
				}
			}
		}
	}
	pairs(numberTypes, numbers)
	pairs(stringTypes, strs)
	pairs(timeTypes, times)
	pairs([]string{"json", "jsonb"}, jsons)
	for _, f := range numberTypes {
		for _, t := range []string{"text", "varchar(6)", "char(12)"} {
			cs = append(cs, castCase{f, t, numbers})
		}
	}
	for _, f := range timeTypes {
		cs = append(cs, castCase{f, "text", times})
	}
	for _, f := range []string{"json", "jsonb"} {
		cs = append(cs, castCase{f, "text", jsons})
	}
	for f, vals := range others {
		cs = append(cs, castCase{f, "text", vals}, castCase{f, "varchar(4)", vals})
	}
	return append(cs,
		castCase{"integer[]", "bigint[]", []string{"{1,NULL,3}", "{}"}},
		castCase{"double precision[]", "numeric(6,2)[]", []string{"{1.005,NULL,2.5}", "{1e10}"}},
		castCase{"text[]", "varchar(3)[]", []string{`{abc,"ab  ",NULL}`, "{abcd}"}},
		castCase{"integer[]", "text[]", []string{"{1,2}"}},
		// No cast that ALTER COLUMN TYPE applies without USING.
		castCase{"text", "integer", []string{"1"}},
		castCase{"uuid", "integer", others["uuid"]},
		castCase{"date", "time", []string{"2024-03-10"}},
		castCase{"integer", "boolean", []string{"1"}},
		castCase{"boolean", "integer", []string{"true"}},
		castCase{"text", "date", []string{"2024-03-10"}},
		castCase{"integer", "integer[]", []string{"1"}},
		castCase{"text", "jsonb", []string{"{}"}},
	)
}

// TestCastsAgreeWithPostgreSQL casts every value of every case with Go and
// by INSERT into a column of the target type (an assignment, as ALTER
// COLUMN TYPE applies) and checks that both give the same value, or both
// refuse: PostgreSQL with a cast error on the value, Go with a ValueError;
// or PostgreSQL with "is of type" (no such cast), Go with ErrNoCast.
func TestCastsAgreeWithPostgreSQL(t *testing.T) {
	_, pool := pgtest.NewDB(t)
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, s := range []string{"SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, MDY'", "SET IntervalStyle = 'postgres'",
		"CREATE TYPE mood AS ENUM ('sad', 'happy')"} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	checked, refused := 0, 0
	for i, c := range cases() {
		t.Run(c.from+" to "+c.to, func(t *testing.T) {
			n, r := checkCase(t, conn, c, i)
			checked, refused = checked+n, refused+r
		})
	}
	t.Logf("checked %d values, %d of them refused by both", checked, refused)
	if checked < 2000 || refused < 100 {
		t.Fatalf("checked %d values, %d of them refused: the cases do not cover enough", checked, refused)
	}
}

// checkCase runs one case and returns how many values it compared and
// how many of those were refused.
func checkCase(t *testing.T, conn *pgxpool.Conn, c castCase, n int) (checked, refused int) {
	t.Helper()
	ctx := context.Background()
	// Tables of their own per case: pgx caches the plans of the queries.
	ct, dt := fmt.Sprintf("c%d", n), fmt.Sprintf("d%d", n)
	for _, s := range []string{"CREATE TEMP TABLE " + ct + " (id int, a " + c.from + ")",
		"CREATE TEMP TABLE " + dt + " (id int, b " + c.to + ")"} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	var ids []int
	for i, v := range c.values {
		if _, err := conn.Exec(ctx, "INSERT INTO "+ct+" VALUES ($1, $2::text::"+c.from+")", i, v); err == nil {
			ids = append(ids, i)
		}
	}
	if len(ids) == 0 {
		t.Fatalf("no value of %v is a valid %s", c.values, c.from)
	}
	from, to := loadColumn(t, conn, ct, 1), loadColumn(t, conn, dt, 1)
	cast, planErr := pgcast.Plan(from, to)
	for _, id := range ids {
		pgVal, pgErr := pgCast(t, conn, ct, dt, to, id)
		var pe *pgconn.PgError
		switch {
		case errors.As(pgErr, &pe) && pe.Code == "42804":
			if !errors.Is(planErr, pgcast.ErrNoCast) {
				t.Fatalf("PostgreSQL has no cast (%s), Plan: %v", pe.Message, planErr)
			}
			return checked, refused
		case planErr != nil:
			t.Fatalf("Plan: %v, but PostgreSQL casts %s: %v", planErr, c.values[id], pgErr)
		}
		goVal, goErr := convert(t, conn, ct, cast, from, id)
		var ve *pgcast.ValueError
		switch {
		case pgErr != nil && goErr == nil:
			t.Errorf("value %q: PostgreSQL refuses it (%v), Go gives %s", c.values[id], pgErr, show(goVal))
		case pgErr != nil && !errors.As(goErr, &ve):
			t.Errorf("value %q: PostgreSQL refuses it (%v), Go fails with %v, want a ValueError", c.values[id], pgErr, goErr)
		case pgErr == nil && goErr != nil:
			t.Errorf("value %q: PostgreSQL gives %s, Go refuses it: %v", c.values[id], show(pgVal), goErr)
		case pgErr == nil && !bytes.Equal(show(pgVal), show(goVal)):
			t.Errorf("value %q: PostgreSQL gives %s, Go %s", c.values[id], show(pgVal), show(goVal))
		}
		checked++
		if pgErr != nil {
			refused++
		}
	}
	return checked, refused
}

func loadColumn(t *testing.T, conn *pgxpool.Conn, table string, i int) parquetio.Column {
	t.Helper()
	cols, err := parquetio.LoadColumns(context.Background(), conn, table)
	if err != nil {
		t.Fatal(err)
	}
	return cols[i]
}

// pgCast assigns row id's value of ct.a to dt.b and reads it back, or
// returns PostgreSQL's error.
func pgCast(t *testing.T, conn *pgxpool.Conn, ct, dt string, to parquetio.Column, id int) (parquetio.Value, error) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), "INSERT INTO "+dt+" SELECT id, a FROM "+ct+" WHERE id = $1", id); err != nil {
		return parquetio.Value{}, err
	}
	return readValue(t, conn, dt, to, id), nil
}

// convert reads row id's value of ct.a and casts it with Go.
func convert(t *testing.T, conn *pgxpool.Conn, ct string, cast *pgcast.Cast, from parquetio.Column, id int) (parquetio.Value, error) {
	t.Helper()
	v := readValue(t, conn, ct, from, id)
	if cast == nil {
		return v, nil
	}
	var arena []byte
	return cast.Convert(v, &arena)
}

// readValue reads the column col of row id of table in binary, as the
// archive stores it.
func readValue(t *testing.T, conn *pgxpool.Conn, table string, col parquetio.Column, id int) parquetio.Value {
	t.Helper()
	s, err := parquetio.NewSchema([]parquetio.Column{col})
	if err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(context.Background(), fmt.Sprintf("SELECT %s FROM %s WHERE id = $1", s.SelectList(), table),
		pgx.QueryResultFormats(s.ResultFormats()), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("row %d of %s is missing: %v", id, table, rows.Err())
	}
	vals := make([]parquetio.Value, 1)
	var arena []byte
	if err := s.DecodeRow(rows.RawValues(), vals, &arena); err != nil {
		t.Fatal(err)
	}
	return vals[0].Clone()
}

// show renders a value with its kind, so that 1 (integer) and '1' (text)
// differ.
func show(v parquetio.Value) []byte {
	out := fmt.Appendf(nil, "%s:", v.Kind())
	if v.IsNull() {
		return append(out, "NULL"...)
	}
	return v.AppendText(out)
}
