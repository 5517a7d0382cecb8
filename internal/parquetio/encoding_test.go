package parquetio_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"

	"github.com/stratahq/strata/internal/parquetio"
)

// encodingColumns are one repetitive and one distinct column of each kind
// that may be dictionary encoded, and a column that repeats in the file's
// first rows only.
var encodingColumns = []parquetio.Column{
	{Name: "status", TypeOID: 25, TypeName: "text"}, {Name: "note", TypeOID: 25, TypeName: "text"},
	{Name: "qty", TypeOID: 23, TypeName: "integer"}, {Name: "id", TypeOID: 23, TypeName: "integer"},
	{Name: "score", TypeOID: 701, TypeName: "double precision"}, {Name: "measure", TypeOID: 701, TypeName: "double precision"},
	{Name: "price", TypeOID: 1700, TypeName: "numeric"}, {Name: "late", TypeOID: 25, TypeName: "text"},
}

// encodingRow is row i of encodingColumns in PostgreSQL's binary format.
// Every 7th status is NULL.
func encodingRow(i int) [][]byte {
	be32 := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	be64 := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	var status []byte
	if i%7 != 0 {
		status = []byte([]string{"new", "paid", "shipped", "delivered", "cancelled"}[i*i%5])
	}
	late := []byte("same")
	if i >= 5000 {
		late = fmt.Appendf(nil, "%0100d", i) // distinct, 100 bytes: outgrows the dictionary cap
	}
	// numeric 12.50 * (1 + i%37): ndigits, weight, sign, dscale, digits (base 10000)
	cents := 1250 * (1 + i%37)
	price := binary.BigEndian.AppendUint16(nil, 2)
	price = binary.BigEndian.AppendUint16(price, 0)
	price = binary.BigEndian.AppendUint16(price, 0)
	price = binary.BigEndian.AppendUint16(price, 2)
	price = binary.BigEndian.AppendUint16(price, uint16(cents/100))
	price = binary.BigEndian.AppendUint16(price, uint16(cents%100*100))
	return [][]byte{
		status,
		fmt.Appendf(nil, "order %d for customer %d", i, i*7919%100003),
		be32(uint32(1 + i%20)),
		be32(uint32(i)),
		be64(math.Float64bits(float64(i*31%1000) / 10)),
		be64(math.Float64bits(math.Sqrt(float64(i) + 0.5))),
		price,
		late,
	}
}

func writeEncodingFile(t *testing.T, rows int, opts parquetio.WriterOptions) []byte {
	t.Helper()
	s, err := parquetio.NewSchema(encodingColumns)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := parquetio.NewWriter(&buf, s, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		if err := w.WriteRaw(encodingRow(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// encodings returns each column's data page encodings in row group g.
func encodings(t *testing.T, file []byte, g int) map[string][]format.Encoding {
	t.Helper()
	f, err := parquet.OpenFile(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]format.Encoding{}
	for _, c := range f.Metadata().RowGroups[g].Columns {
		for _, es := range c.MetaData.EncodingStats {
			if es.PageType == format.DataPage || es.PageType == format.DataPageV2 {
				out[c.MetaData.PathInSchema[0]] = append(out[c.MetaData.PathInSchema[0]], es.Encoding)
			}
		}
	}
	return out
}

func TestOnlyRepetitiveColumnsGetADictionary(t *testing.T) {
	const rows = 40000
	file := writeEncodingFile(t, rows, parquetio.WriterOptions{RowGroupRows: 30000})
	for g := range 2 {
		encs := encodings(t, file, g)
		for _, c := range []string{"status", "qty", "score", "price"} {
			if !slices.Equal(encs[c], []format.Encoding{format.RLEDictionary}) {
				t.Errorf("row group %d: %s (few distinct values) has data pages %v, want only RLE_DICTIONARY", g, c, encs[c])
			}
		}
		for _, c := range []string{"note", "id", "measure"} {
			if slices.Contains(encs[c], format.RLEDictionary) {
				t.Errorf("row group %d: %s (every value distinct) has data pages %v, want no dictionary", g, c, encs[c])
			}
		}
		// late repeats in the first rows (the sample), then every value is
		// distinct: its dictionary outgrows the cap and the column falls
		// back to PLAIN within the first row group; the next starts again.
		if !slices.Contains(encs["late"], format.RLEDictionary) || !slices.Contains(encs["late"], format.Plain) {
			t.Errorf("row group %d: late has data pages %v, want RLE_DICTIONARY then PLAIN", g, encs["late"])
		}
	}
	checkEncodingRows(t, file, rows)
}

// checkEncodingRows reads the file back and compares every value with the
// row written (numeric by its text form).
func checkEncodingRows(t *testing.T, file []byte, rows int) {
	t.Helper()
	eachRow(t, file, rows, func(n int, row []parquetio.Value) {
		want := encodingRow(n)
		for c, v := range row {
			var got []byte
			switch c {
			case 2, 3:
				got = binary.BigEndian.AppendUint32(nil, uint32(v.Int64()))
			case 4, 5:
				got = binary.BigEndian.AppendUint64(nil, math.Float64bits(v.Float64()))
			case 6:
				cents := 1250 * (1 + n%37)
				want[c] = fmt.Appendf(nil, "%d.%02d", cents/100, cents%100)
				got = v.AppendText(nil)
			default:
				if !v.IsNull() {
					got = v.AppendText(nil)
				}
			}
			if !bytes.Equal(got, want[c]) {
				t.Fatalf("row %d column %s: read %q, wrote %q", n, encodingColumns[c].Name, got, want[c])
			}
		}
	})
}

// eachRow reads file back, calls fn with each row and checks that there
// are rows of them.
func eachRow(t *testing.T, file []byte, rows int, fn func(n int, row []parquetio.Value)) {
	t.Helper()
	r, err := parquetio.Open(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	it, err := r.Rows(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for ; it.Next(); n++ {
		fn(n, it.Row())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if n != rows {
		t.Fatalf("read %d rows, wrote %d", n, rows)
	}
}

// integerColumns are a customer id and a quantity.
var integerColumns = []parquetio.Column{
	{Name: "customer_id", TypeOID: 23, TypeName: "integer", NotNull: true},
	{Name: "qty", TypeOID: 21, TypeName: "smallint"},
}

// TestWideIntegerColumnsAreDeltaEncoded: an integer column with tens of
// thousands of distinct values, a few of them frequent (customer ids), is
// DELTA_BINARY_PACKED rather than dictionary encoded: 16-bit indexes and a
// dictionary page per row group cost more than its 17-bit deltas. A column
// of a handful of values keeps its dictionary.
func TestWideIntegerColumnsAreDeltaEncoded(t *testing.T) {
	s, err := parquetio.NewSchema(integerColumns)
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	const rows = 50000
	want := make([][2]int64, rows)
	var buf bytes.Buffer
	w, err := parquetio.NewWriter(&buf, s, parquetio.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		r := rnd.Float64()
		want[i] = [2]int64{1 + int64(r*r*50000), 1 + int64(rnd.IntN(20))}
		row := [][]byte{binary.BigEndian.AppendUint32(nil, uint32(want[i][0])), binary.BigEndian.AppendUint16(nil, uint16(want[i][1]))}
		if err := w.WriteRaw(row); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	encs := encodings(t, buf.Bytes(), 0)
	if !slices.Equal(encs["customer_id"], []format.Encoding{format.DeltaBinaryPacked}) {
		t.Errorf("customer_id has data pages %v, want only DELTA_BINARY_PACKED", encs["customer_id"])
	}
	if !slices.Equal(encs["qty"], []format.Encoding{format.RLEDictionary}) {
		t.Errorf("qty has data pages %v, want only RLE_DICTIONARY", encs["qty"])
	}
	eachRow(t, buf.Bytes(), rows, func(n int, row []parquetio.Value) {
		if got := [2]int64{row[0].Int64(), row[1].Int64()}; got != want[n] {
			t.Fatalf("row %d: read %v, wrote %v", n, got, want[n])
		}
	})
}

// TestASmallFileWeighsItsDictionaryAgainstItsOwnRows: in a file of 2,000
// rows (a small table's day), 1,500 distinct integers far apart (30-bit
// deltas) would need a dictionary page as large as the values themselves,
// so the column is delta encoded (in a full row group the dictionary would
// pay); 20 distinct statuses keep their dictionary.
func TestASmallFileWeighsItsDictionaryAgainstItsOwnRows(t *testing.T) {
	cols := []parquetio.Column{
		{Name: "device_id", TypeOID: 23, TypeName: "integer", NotNull: true},
		{Name: "status", TypeOID: 25, TypeName: "text", NotNull: true},
	}
	s, err := parquetio.NewSchema(cols)
	if err != nil {
		t.Fatal(err)
	}
	const rows = 2000
	var buf bytes.Buffer
	w, err := parquetio.NewWriter(&buf, s, parquetio.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		row := [][]byte{binary.BigEndian.AppendUint32(nil, uint32(i*7919%1500*654321)), fmt.Appendf(nil, "status-%d", i%20)}
		if err := w.WriteRaw(row); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	encs := encodings(t, buf.Bytes(), 0)
	if !slices.Equal(encs["device_id"], []format.Encoding{format.DeltaBinaryPacked}) {
		t.Errorf("device_id has data pages %v, want only DELTA_BINARY_PACKED", encs["device_id"])
	}
	if !slices.Equal(encs["status"], []format.Encoding{format.RLEDictionary}) {
		t.Errorf("status has data pages %v, want only RLE_DICTIONARY", encs["status"])
	}
	eachRow(t, buf.Bytes(), rows, func(n int, row []parquetio.Value) {
		if got, want := row[0].Int64(), int64(n*7919%1500*654321); got != want {
			t.Fatalf("row %d: device_id %d, wrote %d", n, got, want)
		}
	})
}

// TestIntegersWrittenPlainStillRead: objects archived before integers were
// delta encoded hold INT32 columns PLAIN (and dictionary encoded); the
// reader decodes them as before.
func TestIntegersWrittenPlainStillRead(t *testing.T) {
	s, err := parquetio.NewSchema(integerColumns)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := s.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	old := parquet.NewSchema("strata", parquet.Group{ // as the writer laid them out before
		"customer_id": parquet.Encoded(parquet.Int(32), &parquet.Plain),
		"qty":         parquet.Optional(parquet.Encoded(parquet.Int(16), &parquet.RLEDictionary)),
	})
	var buf bytes.Buffer
	pw := parquet.NewWriter(&buf, old, parquet.KeyValueMetadata(parquetio.KeyFormatVersion, parquetio.FormatVersion),
		parquet.KeyValueMetadata(parquetio.KeySchema, string(desc)))
	const rows = 10000
	for i := range rows {
		qty := parquet.Value{}.Level(0, 0, 1)
		if i%9 != 0 {
			qty = parquet.Int32Value(int32(i%20)).Level(0, 1, 1)
		}
		if _, err := pw.WriteRows([]parquet.Row{{parquet.Int32Value(int32(i*7919%50000)).Level(0, 0, 0), qty}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	encs := encodings(t, buf.Bytes(), 0)
	if !slices.Equal(encs["customer_id"], []format.Encoding{format.Plain}) {
		t.Fatalf("the old-style file's customer_id has data pages %v, want PLAIN", encs["customer_id"])
	}
	eachRow(t, buf.Bytes(), rows, func(n int, row []parquetio.Value) {
		if got, want := row[0].Int64(), int64(n*7919%50000); got != want {
			t.Fatalf("row %d: customer_id %d, wrote %d", n, got, want)
		}
		if n%9 == 0 {
			if !row[1].IsNull() {
				t.Fatalf("row %d: qty %v, wrote NULL", n, row[1].Int64())
			}
		} else if got := row[1].Int64(); got != int64(n%20) {
			t.Fatalf("row %d: qty %d, wrote %d", n, got, n%20)
		}
	})
}
