package parquetio_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/pgtest"
)

// scalarKinds are the kinds of every supported type.
var scalarKinds = []parquetio.Kind{
	parquetio.KindBool, parquetio.KindInt16, parquetio.KindInt32, parquetio.KindInt64,
	parquetio.KindFloat32, parquetio.KindFloat64, parquetio.KindNumeric, parquetio.KindText,
	parquetio.KindEnum, parquetio.KindBytea, parquetio.KindJSON, parquetio.KindJSONB,
	parquetio.KindUUID, parquetio.KindDate, parquetio.KindTime, parquetio.KindTimestamp,
	parquetio.KindTimestamptz, parquetio.KindInterval,
}

// fuzzSeeds are the edge cases every run of go test tries: extremes and
// infinities of each kind, NaN, -0, control characters, invalid UTF-8,
// quotes, backslashes, CSV's end-of-data marker, JSON with line breaks.
func fuzzSeeds(f *testing.F) {
	f.Add(int64(0), 0.0, "", []byte{}, uint64(0))
	f.Add(int64(1), math.Copysign(0, -1), `\.`, []byte(`\.`), uint64(0))
	f.Add(int64(math.MaxInt64), math.NaN(), "a \"quoted\", back\\slash\r\n", []byte("{\n\"a\": [1, 2.50, {}]\n}"), uint64(1)<<63)
	f.Add(int64(math.MinInt64), math.Inf(1), "\x00\x01\x1f\x7f \u2028 日本 🎉", []byte("\xff\xfe"), uint64(0xAAAAAAAAAAAAAAAA))
	f.Add(int64(math.MaxInt32), math.Inf(-1), "NULL", []byte("null"), uint64(0x5555555555555555))
	f.Add(int64(math.MinInt32), 5e-324, "{a,b}", []byte(`"x"`), uint64(math.MaxUint64))
	f.Add(int64(-1), 1e15, " ", []byte("[1e400, -0.0]"), uint64(0x1234567800000002))
	f.Add(int64(-2440588*86400000000-1), 123456.7, "\xc3", []byte{0, 0xff}, uint64(0xFFFFFFFF00000004))
	f.Add(int64(86400000000), 1e-5, "x,y", []byte("  {} "), uint64(0x5A5A5A5A00000008))
}

// fuzzRow builds a row with a value of every kind and an array of every
// kind from the fuzz inputs; bit k of nulls makes column k NULL, and the
// arrays hold the value, a NULL, or nothing.
func fuzzRow(i int64, fl float64, s string, b []byte, nulls uint64) (cols []string, row []parquetio.Value) {
	for n, k := range scalarKinds {
		v := fuzzValue(k, i, fl, s, b)
		if nulls&(1<<n) != 0 {
			v = parquetio.NullValue(k)
		}
		cols, row = append(cols, k.String()), append(row, v)
		var elems []parquetio.Value
		switch nulls >> 32 >> (n % 16) & 3 {
		case 1:
			elems = []parquetio.Value{v}
		case 2:
			elems = []parquetio.Value{parquetio.NullValue(k), v}
		case 3:
			elems = []parquetio.Value{v, v, parquetio.NullValue(k)}
		}
		cols, row = append(cols, k.String()+"[]"), append(row, parquetio.NewArray(k, elems))
	}
	return append(cols, s), append(row, parquetio.NewValue(parquetio.KindText, 0, []byte(s)))
}

// fuzzValue is a value of kind k made from the fuzz inputs, within what
// PostgreSQL can hold where the encoders rely on it (json is valid JSON).
func fuzzValue(k parquetio.Kind, i int64, fl float64, s string, b []byte) parquetio.Value {
	switch k {
	case parquetio.KindBool:
		return parquetio.NewValue(k, i&1, nil)
	case parquetio.KindInt16:
		return parquetio.NewValue(k, int64(int16(i)), nil)
	case parquetio.KindInt32, parquetio.KindDate:
		return parquetio.NewValue(k, int64(int32(i)), nil)
	case parquetio.KindFloat32:
		return parquetio.NewValue(k, int64(math.Float32bits(float32(fl))), nil)
	case parquetio.KindFloat64:
		return parquetio.NewValue(k, int64(math.Float64bits(fl)), nil)
	case parquetio.KindTime:
		return parquetio.NewValue(k, int64(uint64(i)%86400000001), nil)
	case parquetio.KindInt64, parquetio.KindTimestamp, parquetio.KindTimestamptz:
		return parquetio.NewValue(k, i, nil)
	case parquetio.KindNumeric:
		return parquetio.NewValue(k, 0, []byte(strconv.FormatInt(i, 10)+"."+strconv.FormatUint(uint64(i)%1000, 10)))
	case parquetio.KindBytea:
		return parquetio.NewValue(k, 0, b)
	case parquetio.KindUUID:
		return parquetio.NewValue(k, 0, append(append([]byte(nil), b...), make([]byte, 16)...)[:16])
	case parquetio.KindJSON, parquetio.KindJSONB:
		if json.Valid(b) {
			return parquetio.NewValue(k, 0, b)
		}
		j, _ := json.Marshal(s)
		return parquetio.NewValue(k, 0, j)
	}
	return parquetio.NewValue(k, 0, []byte(s)) // text, enum, interval
}

// FuzzJSONLEncoder checks that a row of random values of every kind is one
// line of strict JSON whose keys are the columns and whose values decode
// back to the values.
func FuzzJSONLEncoder(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, i int64, fl float64, s string, b []byte, nulls uint64) {
		cols, row := fuzzRow(i, fl, s, b, nulls)
		var out bytes.Buffer
		enc := parquetio.NewJSONLEncoder(&out, cols)
		if err := enc.Encode(row); err != nil {
			t.Fatal(err)
		}
		if err := enc.Flush(); err != nil {
			t.Fatal(err)
		}
		line, ok := bytes.CutSuffix(out.Bytes(), []byte("\n"))
		if !ok || bytes.IndexByte(line, '\n') >= 0 {
			t.Fatalf("not one line: %q", out.Bytes())
		}
		keys, vals, err := pgtest.DecodeObject(line)
		if err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if len(keys) != len(cols) {
			t.Fatalf("%d keys for %d columns: %s", len(keys), len(cols), line)
		}
		for n, v := range row {
			if keys[n] != validUTF8(cols[n]) {
				t.Errorf("key %q for column %q", keys[n], cols[n])
			}
			if err := jsonReadsBack(v, vals[n]); err != nil {
				t.Errorf("column %q: %v\n  line: %s", cols[n], err, line)
			}
		}
	})
}

// FuzzCSVEncoder checks that a row of random values of every kind is one
// CSV record that a strict reader splits into as many fields as columns,
// each NULL an empty unquoted field and each other value its text form,
// which reads back to the value; and that a lone column holding the
// end-of-data marker is quoted.
func FuzzCSVEncoder(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, i int64, fl float64, s string, b []byte, nulls uint64) {
		cols, row := fuzzRow(i, fl, s, b, nulls)
		checkCSV(t, cols, row)
		checkCSV(t, cols[len(cols)-1:], row[len(row)-1:])
	})
}

func checkCSV(t *testing.T, cols []string, row []parquetio.Value) {
	t.Helper()
	var out bytes.Buffer
	enc := parquetio.NewCSVEncoder(&out, cols)
	if err := enc.Encode(row); err != nil {
		t.Fatal(err)
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	recs, err := readCSV(out.Bytes())
	if err != nil || len(recs) != 2 || len(recs[0]) != len(cols) || len(recs[1]) != len(cols) {
		t.Fatalf("want a header and one record of %d fields, got %d records (%v):\n%q", len(cols), len(recs), err, out.Bytes())
	}
	for n, v := range row {
		h, f := recs[0][n], recs[1][n]
		if h.text != cols[n] {
			t.Errorf("header field %d = %q, want %q", n, h.text, cols[n])
		}
		if v.IsNull() != (f.text == "" && !f.quoted) {
			t.Errorf("column %q: field %+v for NULL=%v", cols[n], f, v.IsNull())
		}
		if text := string(v.AppendText(nil)); f.text != text {
			t.Errorf("column %q: field %q, want the text form %q", cols[n], f.text, text)
		}
		if err := textReadsBack(v, f.text); !v.IsNull() && err != nil {
			t.Errorf("column %q: %v", cols[n], err)
		}
	}
	if bytes.Contains(append([]byte("\n"), out.Bytes()...), []byte("\n\\.\n")) {
		t.Errorf("a line is the end-of-data marker \\. unquoted: %q", out.Bytes())
	}
}

// jsonReadsBack checks a value's decoded JSON against the value.
func jsonReadsBack(v parquetio.Value, got any) error {
	if v.IsNull() {
		return want(got == nil, got, "null")
	}
	if v.IsArray() {
		a, ok := got.([]any)
		if !ok || len(a) != len(v.Elems()) {
			return want(false, got, "an array of %d", len(v.Elems()))
		}
		for i, e := range v.Elems() {
			if err := jsonReadsBack(e, a[i]); err != nil {
				return err
			}
		}
		return nil
	}
	switch k := v.Kind(); k {
	case parquetio.KindBool:
		return want(got == v.Bool(), got, "%v", v.Bool())
	case parquetio.KindInt16, parquetio.KindInt32, parquetio.KindInt64:
		return want(got == json.Number(strconv.FormatInt(v.Int64(), 10)), got, "%d", v.Int64())
	case parquetio.KindFloat32, parquetio.KindFloat64:
		return floatReadsBack(v, got)
	case parquetio.KindJSON, parquetio.KindJSONB:
		var w any
		err := decodeJSON(v.Bytes(), &w)
		return want(err == nil && jsonEqual(got, w), got, "%s", v.Bytes())
	case parquetio.KindBytea:
		return want(got == `\x`+hex.EncodeToString(v.Bytes()), got, "hex of %x", v.Bytes())
	case parquetio.KindUUID, parquetio.KindDate, parquetio.KindTime, parquetio.KindTimestamp, parquetio.KindTimestamptz:
		s, ok := got.(string)
		if !ok {
			return want(false, got, "a string")
		}
		return textReadsBack(v, s)
	default: // text-like, numeric, interval
		return want(got == validUTF8(string(v.Bytes())), got, "%q", v.Bytes())
	}
}
