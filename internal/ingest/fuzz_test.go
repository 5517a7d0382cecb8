package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// checkAccepted fails t unless rec is a record Scan or ScanArray may pass
// on: valid UTF-8, a JSON object, within the limit and part of the input.
func checkAccepted(t *testing.T, input, rec []byte, maxRecord int64) {
	t.Helper()
	if !json.Valid(rec) || firstNonSpace(rec) != '{' || !utf8.Valid(rec) {
		t.Fatalf("accepted %q, which is not a JSON object in UTF-8", rec)
	}
	if int64(len(rec)) > maxRecord {
		t.Fatalf("accepted %d bytes over the %d limit", len(rec), maxRecord)
	}
	if !bytes.Contains(input, rec) {
		t.Fatalf("accepted %q, which is not in the input", rec)
	}
}

func fuzzLimit(limit uint16) int64 { return int64(limit%4096) + 2 }

func FuzzScan(f *testing.F) {
	for _, s := range []string{
		"{\"b\":1,  \"a\":\"\\u00e9\"}\n", "{\"a\":1}\r\n\r\n{}", "[1]\n", "\"x\"\n", "{\"a\":\"\xff\"}",
		"  {}  \n\t\n", "{\"a\":1} {}", "{\"k\":\"日本\"}\r", "\n\n\n", "{", "{}\n{}\n{}",
	} {
		f.Add([]byte(s), uint16(64))
	}
	f.Fuzz(func(t *testing.T, input []byte, limit uint16) {
		maxRecord := fuzzLimit(limit)
		last := 0
		var n int
		err := Scan(bytes.NewReader(input), maxRecord, func(line int, rec []byte) error {
			if line <= last {
				t.Fatalf("line %d after line %d", line, last)
			}
			last = line
			n++
			checkAccepted(t, input, rec, maxRecord)
			return nil
		})
		var ie *InputError
		switch {
		case err == nil:
			// Every line that is not blank became a record.
			want := 0
			for line := range bytes.SplitSeq(input, []byte{'\n'}) {
				if firstNonSpace(line) != 0 {
					want++
				}
			}
			if n != want {
				t.Fatalf("%d records from %d lines that are not blank", n, want)
			}
		case errors.As(err, &ie):
			if ie.Line <= last || ie.Array || ie.Reason == "" {
				t.Fatalf("bad InputError %+v after line %d", ie, last)
			}
		default:
			t.Fatalf("Scan of bytes = %v", err)
		}
	})
}

func FuzzScanArray(f *testing.F) {
	for _, s := range []string{
		`[{"b":1,  "a":"\u00e9"} ,{"x":"日本"}]`, `[]`, ` [ {} , {} ] `, `[{"a":"]}\"[{"}]`, `[1, {}]`,
		`[{},]`, `[{} {}]`, `[{}`, `[{}] x`, `{}`, "[{\"a\":\"\xc3\"}]", `[[],{}]`, `["a",]`, `[tru]`,
	} {
		f.Add([]byte(s), uint16(64))
	}
	f.Fuzz(func(t *testing.T, input []byte, limit uint16) {
		maxRecord := fuzzLimit(limit)
		var recs [][]byte
		err := ScanArray(bytes.NewReader(input), maxRecord, func(n int, rec []byte) error {
			if n != len(recs)+1 {
				t.Fatalf("record %d after %d records", n, len(recs))
			}
			recs = append(recs, rec)
			checkAccepted(t, input, rec, maxRecord)
			return nil
		})
		var ie *InputError
		switch {
		case err == nil:
			if !json.Valid(input) || firstNonSpace(input) != '[' {
				t.Fatalf("accepted %q, which is not a JSON array", input)
			}
		case errors.As(err, &ie):
			if !ie.Array || ie.Line < 0 || ie.Line > len(recs)+1 || ie.Reason == "" {
				t.Fatalf("bad InputError %+v after %d records", ie, len(recs))
			}
		default:
			t.Fatalf("ScanArray of bytes = %v", err)
		}
		// What encoding/json reads as an array of small objects, ScanArray
		// must accept, element by element.
		var elems []json.RawMessage
		if !utf8.Valid(input) || json.Unmarshal(input, &elems) != nil || firstNonSpace(input) != '[' {
			return
		}
		for _, e := range elems {
			if firstNonSpace(e) != '{' || int64(len(e)) > maxRecord {
				return
			}
		}
		if err != nil || len(recs) != len(elems) {
			t.Fatalf("encoding/json reads %d objects, ScanArray %d records and %v", len(elems), len(recs), err)
		}
		for i := range elems {
			if !bytes.Equal(recs[i], elems[i]) {
				t.Fatalf("record %d = %q, encoding/json reads %q", i+1, recs[i], elems[i])
			}
		}
	})
}
