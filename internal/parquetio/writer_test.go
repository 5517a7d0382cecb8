package parquetio_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/parquetio"
)

// fuzzColumns has one column of every kind, and arrays.
var fuzzColumns = []parquetio.Column{
	{Name: "b", TypeOID: 16, TypeName: "boolean"}, {Name: "i2", TypeOID: 21, TypeName: "smallint"},
	{Name: "i8", TypeOID: 20, TypeName: "bigint"}, {Name: "f4", TypeOID: 700, TypeName: "real"},
	{Name: "n", TypeOID: 1700, TypeName: "numeric"}, {Name: "iv", TypeOID: 1186, TypeName: "interval"},
	{Name: "jb", TypeOID: 3802, TypeName: "jsonb"}, {Name: "u", TypeOID: 2950, TypeName: "uuid"},
	{Name: "ts", TypeOID: 1184, TypeName: "timestamp with time zone"}, {Name: "d", TypeOID: 1082, TypeName: "date"},
	{Name: "an", TypeOID: 1231, TypeName: "numeric[]", ElemOID: 1700},
	{Name: "at", TypeOID: 1009, TypeName: "text[]", ElemOID: 25},
}

// FuzzWriteRawRejectsOrRoundTrips feeds arbitrary bytes as binary values:
// WriteRaw must return an error or accept them, never panic, and what it
// accepts must read back.
func FuzzWriteRawRejectsOrRoundTrips(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 1, 0, 0, 0x40, 0, 0, 2, 0, 42, 0, 0, 0, 1, 0, 0, 0, 0})
	f.Add([]byte("\x00\x00\x00\x01\x00\x00\x00\x01\x00\x00\x06\xa4\x00\x00\x00\x02\x00\x00\x00\x01\x00\x00\x00\x02hi\xff\xff\xff\xff"))
	s, err := parquetio.NewSchema(fuzzColumns)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		row := make([][]byte, len(fuzzColumns))
		for i := range row {
			if len(data) > 0 && data[0]%5 == 0 {
				data = data[1:]
				continue // NULL
			}
			n := 0
			if len(data) > 0 {
				n = min(int(data[0])%40, len(data)-1)
				data = data[1:]
			}
			row[i], data = data[:n:n], data[n:]
		}
		var buf bytes.Buffer
		w, err := parquetio.NewWriter(&buf, s, parquetio.WriterOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.WriteRaw(row); err != nil {
			return
		}
		if _, err := w.Close(); err != nil {
			t.Fatal(err)
		}
		r, err := parquetio.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil {
			t.Fatal(err)
		}
		it, err := r.Rows(context.Background(), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		for it.Next() {
			for _, v := range it.Row() {
				v.AppendJSON(v.AppendText(nil))
			}
		}
		if err := it.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestAnEmptyFileHasMetadataAndNoRows(t *testing.T) {
	s, _ := parquetio.NewSchema(fuzzColumns)
	var buf bytes.Buffer
	w, err := parquetio.NewWriter(&buf, s, parquetio.WriterOptions{TimeColumn: "ts", Compression: "none"})
	if err != nil {
		t.Fatal(err)
	}
	st, err := w.Close()
	if err != nil || st.Rows != 0 || st.HasTime {
		t.Fatalf("stats %+v, %v", st, err)
	}
	r, err := parquetio.Open(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if r.NumRows() != 0 || r.Metadata()[parquetio.KeyRows] != "0" || r.Schema().Fingerprint() != s.Fingerprint() {
		t.Errorf("rows %d, metadata %v", r.NumRows(), r.Metadata())
	}
}

func TestCloseAfterAnErrorInTheFirstRowsReturnsTheError(t *testing.T) {
	s, _ := parquetio.NewSchema([]parquetio.Column{{Name: "i", TypeOID: 23, TypeName: "integer", NotNull: true}})
	w, err := parquetio.NewWriter(&bytes.Buffer{}, s, parquetio.WriterOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteRaw([][]byte{nil}); err == nil {
		t.Fatal("NULL in a NOT NULL column was accepted")
	}
	if _, err := w.Close(); err == nil || !strings.Contains(err.Error(), "NOT NULL") {
		t.Fatalf("Close: %v, want the write's error", err)
	}
}

func TestWriterOptionsAreChecked(t *testing.T) {
	s, _ := parquetio.NewSchema(fuzzColumns)
	for _, tc := range []struct {
		opts parquetio.WriterOptions
		want string
	}{
		{parquetio.WriterOptions{Compression: "lzma"}, "use snappy, zstd, gzip or none"},
		{parquetio.WriterOptions{TimeColumn: "n"}, "use a timestamptz, timestamp or date column"},
		{parquetio.WriterOptions{TimeColumn: "nope"}, "is not a column"},
		{parquetio.WriterOptions{Metadata: map[string]string{parquetio.KeyRows: "1"}}, "set by the writer itself"},
	} {
		if _, err := parquetio.NewWriter(&bytes.Buffer{}, s, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want %q", tc.opts, err, tc.want)
		}
	}
}

func TestADomainWithoutItsBaseTypeIsRefused(t *testing.T) {
	_, err := parquetio.NewSchema([]parquetio.Column{{Name: "x", TypeOID: 99999, TypeName: "posint", TypType: 'd'}})
	if err == nil || !strings.Contains(err.Error(), "BaseOID") {
		t.Errorf("error %v, want it to ask for BaseOID", err)
	}
}
