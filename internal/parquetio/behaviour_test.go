package parquetio_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"

	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgtest"
)

func TestUnsupportedTypesAreRefusedNamingTheColumn(t *testing.T) {
	_, pool := pgtest.NewDB(t)
	mustExec(t, pool, `CREATE TYPE pair AS (x int, y int);
	  CREATE TABLE odd (id int, loc point, doc tsvector, p pair, tz timetz, r int4range, ok text)`)
	cols, err := parquetio.LoadColumns(context.Background(), pool, "odd")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cols {
		_, err := parquetio.NewSchema([]parquetio.Column{c})
		switch c.Name {
		case "id", "ok":
			if err != nil {
				t.Errorf("column %s: %v", c.Name, err)
			}
		default:
			want := `column "` + c.Name + `" has type ` + c.TypeName + `, which Strata cannot archive yet (supported: `
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("column %s: error %v, want it to contain %q", c.Name, err, want)
			}
		}
	}
}

func TestMultiDimensionalAndOffsetArraysFailNamingTheColumn(t *testing.T) {
	_, pool := pgtest.NewDB(t)
	mustExec(t, pool, `CREATE TABLE arr (id int, a int[]);
	  INSERT INTO arr VALUES (1, '{1,2}'), (2, '{{1,2},{3,4}}'), (3, '[0:1]={5,6}')`)
	cols, err := parquetio.LoadColumns(context.Background(), pool, "arr")
	if err != nil {
		t.Fatal(err)
	}
	s, err := parquetio.NewSchema(cols)
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[int]string{2: "2 dimensions", 3: "lower bound 0"} {
		w, _ := parquetio.NewWriter(&bytes.Buffer{}, s, parquetio.WriterOptions{})
		rows, err := pool.Query(context.Background(), "SELECT "+s.SelectList()+" FROM arr WHERE id = $1",
			append([]any{}, queryFormats(s), id)...)
		if err != nil {
			t.Fatal(err)
		}
		rows.Next()
		err = w.WriteRaw(rows.RawValues())
		rows.Close()
		if err == nil || !strings.Contains(err.Error(), `column "a"`) || !strings.Contains(err.Error(), want) {
			t.Errorf("row %d: error %v, want it to name column a and say %q", id, err, want)
		}
	}
}

func TestSameRowsGiveByteIdenticalFiles(t *testing.T) {
	pool, s := setupAllTypes(t)
	opts := parquetio.WriterOptions{RowGroupRows: 700, TimeColumn: "ts", Metadata: map[string]string{
		parquetio.KeyDataset: "d", parquetio.KeyTable: "a", parquetio.KeyPartitionDay: "2024-11-01"}}
	first, _ := archive(t, pool, s, "FROM a ORDER BY id", opts)
	second, _ := archive(t, pool, s, "FROM a ORDER BY id", opts)
	if !bytes.Equal(first, second) {
		t.Fatalf("two files of the same rows differ (%d and %d bytes)", len(first), len(second))
	}
}

func TestCreatedByIsFixedNotTheBuildsParquetGoVersion(t *testing.T) {
	pool, s := setupAllTypes(t)
	file, _ := archive(t, pool, s, "FROM a ORDER BY id", parquetio.WriterOptions{})
	f, err := parquet.OpenFile(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Metadata().CreatedBy; got != parquetio.CreatedBy {
		t.Fatalf("created_by %q, want %q", got, parquetio.CreatedBy)
	}
	if bytes.Contains(file, []byte("parquet-go")) {
		t.Fatal("the file names parquet-go (its version would change the bytes across builds)")
	}
}

func TestJSONOfARowRendersEachType(t *testing.T) {
	pool, s := setupAllTypes(t)
	file, _ := archive(t, pool, s, "FROM a WHERE id IN (2, 3) ORDER BY id", parquetio.WriterOptions{})
	cols := []string{"id", "b", "f8", "num", "tstz", "ts", "d", "tm", "by", "j", "jb", "ai", "at", "af8", "ab", "u", "iv"}
	it, err := open(t, file).Rows(context.Background(), cols, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	enc := parquetio.NewJSONLEncoder(&out, it.Columns())
	for it.Next() {
		if err := enc.Encode(it.Row()); err != nil {
			t.Fatal(err)
		}
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	_ = enc.Flush()
	want := `{"id":2,"b":true,"f8":2.25,"num":"12.340","tstz":"2024-11-01T12:34:56.789012+00:00","ts":"2024-11-01T12:34:56.789012",` +
		`"d":"2024-11-01","tm":"12:34:56.789","by":"\\x00ff00","j":{"b": 1,   "a" : [1, 2] , "a": "dup"},` +
		`"jb":{"a": [1, 2], "b": 1},"ai":[1,null,3],"at":["a b",null,"","NULL","x,y","q\"uote","back\\slash","{br}"],` +
		`"af8":["NaN","Infinity",-0,1e+300],"ab":[true,false,null],"u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","iv":"1 year 2 mons 3 days 04:05:06.789"}
{"id":3,"b":false,"f8":"NaN","num":"NaN","tstz":"infinity","ts":"infinity","d":"infinity","tm":"24:00:00","by":"\\x",` +
		`"j":{"spaced":true,"nl":"x"},"jb":{},"ai":[],"at":[],"af8":null,"ab":null,"u":null,"iv":"-178000000 years"}
`
	if out.String() != want {
		t.Errorf("JSON lines:\n%s\nwant:\n%s", out.String(), want)
	}
}

func TestProjectionReadsOnlyTheNamedColumnsInTheGivenOrder(t *testing.T) {
	pool, s := setupAllTypes(t)
	file, _ := archive(t, pool, s, "FROM a WHERE id >= 100 ORDER BY id", parquetio.WriterOptions{RowGroupRows: 1000})
	r := open(t, file)
	// Damage every byte of the chunks of column t: a projection without it
	// must still read, which proves unread columns are not decoded.
	damaged := append([]byte(nil), file...)
	corruptColumn(t, r, damaged, s.Index("t"))
	it, err := open(t, damaged).Rows(context.Background(), []string{"tstz", "id"}, func(rg int) bool { return rg != 1 })
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for it.Next() {
		row := it.Row()
		if len(row) != 2 || row[0].Kind() != parquetio.KindTimestamptz || row[1].Kind() != parquetio.KindInt64 {
			t.Fatalf("row %v is not (tstz, id)", row)
		}
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if n != 2000 {
		t.Errorf("read %d rows from row groups 0 and 2, want 2000", n)
	}
	if _, err := r.Rows(context.Background(), []string{"nope"}, nil); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown column: error %v", err)
	}
}

func TestRowGroupStatsGiveMinMaxAndNulls(t *testing.T) {
	pool, s := setupAllTypes(t)
	file, _ := archive(t, pool, s, "FROM a WHERE id >= 100 ORDER BY id", parquetio.WriterOptions{RowGroupRows: 1000})
	r := open(t, file)
	st := r.RowGroupStats(1)
	id := st["id"]
	if !id.HasMinMax || id.Min.Int64() != 1100 || id.Max.Int64() != 2099 || id.NullCount != 0 {
		t.Errorf("id stats = %+v, want 1100..2099 without NULLs", id)
	}
	ts := st["tstz"]
	lo, _ := ts.Min.Time()
	hi, _ := ts.Max.Time()
	if !ts.HasMinMax || lo.Format(parquetio.TimeLayout) != "2024-11-01T00:18:20.000000Z" || hi.Format(parquetio.TimeLayout) != "2024-11-01T00:34:59.000000Z" {
		t.Errorf("tstz stats = %v .. %v", lo, hi)
	}
	if f8 := st["f8"]; f8.NullCount != 1000 {
		t.Errorf("f8 null count = %d, want 1000", f8.NullCount)
	}
	if st["num"].HasMinMax {
		t.Errorf("numeric has min/max, but text order is not numeric order")
	}
}

// corruptColumn overwrites the data of column c in every row group.
func corruptColumn(t *testing.T, r *parquetio.Reader, file []byte, c int) {
	t.Helper()
	for _, rg := range parquetio.ColumnChunkRanges(r, c) {
		for i := rg[0]; i < rg[1]; i++ {
			file[i] = 0xA5
		}
	}
}
