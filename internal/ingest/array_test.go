package ingest

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestScanArrayPassesElementsExactlyAsTheyAppear(t *testing.T) {
	tests := []struct {
		name  string
		input string
		recs  []string
	}{
		{"key order, spacing and escapes are kept", `[{"b":1,  "a":"\u00e9"} ,{"ü":"日本"}]`,
			[]string{`{"b":1,  "a":"\u00e9"}`, `{"ü":"日本"}`}},
		{"white space between elements is not part of them", "\n[\n  {\"a\":1},\r\n  {\"a\":2}\n]\n",
			[]string{`{"a":1}`, `{"a":2}`}},
		{"brackets and escaped quotes inside strings do not end an element", `[{"a":"]}\"[{","b":"\\"}, {"c":[1,{"d":"}"}]}]`,
			[]string{`{"a":"]}\"[{","b":"\\"}`, `{"c":[1,{"d":"}"}]}`}},
		{"an empty array has no records", " [ ] ", nil},
		{"white space inside an element is kept", "[{ \"a\" :\n 1 }]", []string{"{ \"a\" :\n 1 }"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nums, recs, err := collect(t, ScanArray, tt.input, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if !equal(recs, tt.recs) {
				t.Errorf("got %q\nwant %q", recs, tt.recs)
			}
			for i, n := range nums {
				if n != i+1 {
					t.Errorf("record %d numbered %d", i+1, n)
				}
			}
		})
	}
}

func TestScanArrayRefusesBadArrays(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		maxRecord int64
		want      string
	}{
		{"an empty input", "  \n", 1 << 20,
			"the input is empty (send a JSON array of records, [{...}, {...}])"},
		{"an object instead of an array", `{"a":1}`, 1 << 20,
			`not a JSON array: it starts with '{' (send [{...}, {...}])`},
		{"an element that is not JSON", `[{"a":1}, {"a":tru}]`, 1 << 20,
			"record 2: not valid JSON: invalid character '}' in literal true (expecting 'e') (at byte 9)"},
		{"an element that is a number", `[{"a":1}, 42]`, 1 << 20,
			"record 2: a JSON number, not an object (send an array of objects, [{...}, {...}])"},
		{"an element that is an array", `[[{"a":1}]]`, 1 << 20,
			"record 1: a JSON array, not an object (send an array of objects, [{...}, {...}])"},
		{"an element that is a string", `["{}"]`, 1 << 20,
			"record 1: a JSON string, not an object (send an array of objects, [{...}, {...}])"},
		{"an element that is null", `[{}, null ]`, 1 << 20,
			"record 2: JSON null, not an object (send an array of objects, [{...}, {...}])"},
		{"an element that is not UTF-8", "[{\"a\":\"\xc3\"}]", 1 << 20,
			"record 1: not valid UTF-8 at byte 7 (send JSON text encoded as UTF-8)"},
		{"a missing comma", `[{"a":1} {"a":2}]`, 1 << 20,
			`record 1: is followed by '{', not by , or ] (separate records with commas)`},
		{"a trailing comma", `[{"a":1},]`, 1 << 20,
			"record 1: is followed by a comma and then ] (remove the trailing comma)"},
		{"an array that is never closed", `[{"a":1}`, 1 << 20,
			"record 1: ends the input, but the array is not closed (end it with ])"},
		{"an opening bracket alone", `[`, 1 << 20,
			"the array is not closed (end it with ])"},
		{"an element cut short", `[{"a":1}, {"a":"xy`, 1 << 20,
			"record 2: is cut short: the input ends inside it (send the whole array)"},
		{"data after the array", `[{"a":1}] [{"a":2}]`, 1 << 20,
			`'[' follows the closing ] of the array (send one array, or JSON lines)`},
		{"an element over the limit", `[{"a":1}, {"a":"` + strings.Repeat("x", 2000) + `"}]`, 1 << 10,
			"record 2: more than 1 KiB, over the 1 KiB limit (source.max_record_bytes)"},
		{"a number over the limit", `[1` + strings.Repeat("0", 2000) + `]`, 1 << 10,
			"record 1: more than 1 KiB, over the 1 KiB limit (source.max_record_bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := collect(t, ScanArray, tt.input, tt.maxRecord)
			var ie *InputError
			if !errors.As(err, &ie) || !ie.Array {
				t.Fatalf("ScanArray = %v, want an *InputError with Array set", err)
			}
			if err.Error() != tt.want {
				t.Errorf("ScanArray = %s\nwant        %s", err, tt.want)
			}
		})
	}
}

func TestScanArrayStopsReadingAHugeElementAtTheLimit(t *testing.T) {
	src := &endless{}
	err := ScanArray(io.MultiReader(strings.NewReader(`[{}, {"a":"`), src), 1<<20, func(int, []byte) error { return nil })
	want := "record 2: more than 1 MiB, over the 1 MiB limit (source.max_record_bytes)"
	if err == nil || err.Error() != want {
		t.Fatalf("ScanArray = %v, want %s", err, want)
	}
	if limit := int64(1<<20 + 2*readBufferSize); src.n > limit {
		t.Errorf("read %d bytes of the element, want at most %d", src.n, limit)
	}
}

func TestScanAutoChoosesTheForm(t *testing.T) {
	tests := []struct {
		name  string
		input string
		nums  []int
		recs  []string
	}{
		{"an array is read as an array", "\n [{\"a\":1},{\"a\":2}]", []int{1, 2}, []string{`{"a":1}`, `{"a":2}`}},
		{"lines are read as lines", "{\"a\":1}\n{\"a\":2}\n", []int{1, 2}, []string{`{"a":1}`, `{"a":2}`}},
		{"leading blank lines keep their line numbers", "\n\n  \n{\"a\":1}\n", []int{4}, []string{`{"a":1}`}},
		{"leading spaces stay part of the first record", "  {\"a\":1}\n", []int{1}, []string{`  {"a":1}`}},
		{"more blank lines than the read buffer, then lines", strings.Repeat("\n", 3*readBufferSize) + "{\"a\":1}\n",
			[]int{3*readBufferSize + 1}, []string{`{"a":1}`}},
		{"more blank lines than the read buffer, then an array", strings.Repeat(" \n", 2*readBufferSize) + "[{}]",
			[]int{1}, []string{`{}`}},
		{"white space only has no records", " \n\t\n", nil, nil},
		{"an empty input has no records", "", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nums, recs, err := collect(t, ScanAuto, tt.input, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if !equal(nums, tt.nums) || !equal(recs, tt.recs) {
				t.Errorf("got %v %q\nwant %v %q", nums, recs, tt.nums, tt.recs)
			}
		})
	}
}

func TestScanAutoReportsErrorsInTheFormItChose(t *testing.T) {
	_, _, err := collect(t, ScanAuto, "\n{\"a\":1}\n[1]\n", 1<<20)
	if want := "line 3: a JSON array, not an object (one record per line)"; err == nil || err.Error() != want {
		t.Errorf("lines: %v, want %s", err, want)
	}
	_, _, err = collect(t, ScanAuto, "\n[{\"a\":1}, 2]", 1<<20)
	if want := "record 2: a JSON number, not an object (send an array of objects, [{...}, {...}])"; err == nil || err.Error() != want {
		t.Errorf("array: %v, want %s", err, want)
	}
}

// trickle hands out one byte per Read, like a slow network stream.
type trickle struct{ r io.Reader }

func (t trickle) Read(p []byte) (int, error) { return t.r.Read(p[:min(1, len(p))]) }

func TestScanAutoDoesNotWaitForMoreThanItNeeds(t *testing.T) {
	pr, pw := io.Pipe()
	got := make(chan string, 1)
	go func() {
		_ = ScanAuto(trickle{pr}, 1<<20, func(_ int, rec []byte) error {
			got <- string(rec)
			return nil
		})
	}()
	if _, err := pw.Write([]byte("{\"a\":1}\n")); err != nil {
		t.Fatal(err)
	}
	if rec := <-got; rec != `{"a":1}` {
		t.Errorf("first record = %q", rec)
	}
	pw.Close()
}
