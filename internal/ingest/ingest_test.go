package ingest

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// collect runs scan over input and returns the records fn received, as
// strings, with their line or record numbers.
func collect(t *testing.T, scan func(io.Reader, int64, func(int, []byte) error) error, input string, maxRecord int64) ([]int, []string, error) {
	t.Helper()
	var nums []int
	var recs []string
	err := scan(strings.NewReader(input), maxRecord, func(n int, rec []byte) error {
		nums = append(nums, n)
		recs = append(recs, string(rec))
		return nil
	})
	return nums, recs, err
}

func equal[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestScanPassesRecordsExactlyAsReceived(t *testing.T) {
	tests := []struct {
		name  string
		input string
		lines []int
		recs  []string
	}{
		{"key order, spacing and escapes are kept", `{"b":1,  "a":"\u00e9"}` + "\n",
			[]int{1}, []string{`{"b":1,  "a":"\u00e9"}`}},
		{"literal unicode is kept", "{\"name\":\"Zoë 日本 🎉\"}\n",
			[]int{1}, []string{"{\"name\":\"Zoë 日本 🎉\"}"}},
		{"escaped quotes, slashes and control escapes are kept", `{"s":"a\"b\\c\/d\n\t"}` + "\n",
			[]int{1}, []string{`{"s":"a\"b\\c\/d\n\t"}`}},
		{"CRLF line ends are stripped", "{\"a\":1}\r\n{\"a\":2}\r\n",
			[]int{1, 2}, []string{`{"a":1}`, `{"a":2}`}},
		{"only one CR before the LF is a line end", "{\"a\":1}\r\r\n",
			[]int{1}, []string{"{\"a\":1}\r"}},
		{"the last line needs no line end", "{\"a\":1}\n{\"a\":2}",
			[]int{1, 2}, []string{`{"a":1}`, `{"a":2}`}},
		{"blank lines are skipped but counted", "\n{\"a\":1}\n   \n\t\r\n\r\n{\"a\":2}\n\n",
			[]int{2, 6}, []string{`{"a":1}`, `{"a":2}`}},
		{"white space around a record is part of what was received", "  {\"a\":1}\t\n",
			[]int{1}, []string{"  {\"a\":1}\t"}},
		{"nested objects and arrays are one record", `{"a":{"b":[1,{"c":null}]},"d":[]}` + "\n",
			[]int{1}, []string{`{"a":{"b":[1,{"c":null}]},"d":[]}`}},
		{"empty input has no records", "", nil, nil},
		{"white space only has no records", "\n \n\t", nil, nil},
		{"the smallest record fits the smallest limit", "{}\n", []int{1}, []string{"{}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lines, recs, err := collect(t, Scan, tt.input, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if !equal(lines, tt.lines) || !equal(recs, tt.recs) {
				t.Errorf("got lines %v %q\nwant      %v %q", lines, recs, tt.lines, tt.recs)
			}
		})
	}
}

func TestScanLimitIsExactAndExcludesTheLineEnd(t *testing.T) {
	rec := `{"a":"` + strings.Repeat("x", 100-8) + `"}` // 100 bytes
	for _, end := range []string{"", "\n", "\r\n"} {
		_, recs, err := collect(t, Scan, rec+end, 100)
		if err != nil || len(recs) != 1 || recs[0] != rec {
			t.Errorf("a 100-byte record ending %q at limit 100: %v", end, err)
		}
	}
	_, _, err := collect(t, Scan, rec+"\n", 99)
	if want := "line 1: 100 B, over the 99 B limit (source.max_record_bytes)"; err == nil || err.Error() != want {
		t.Errorf("at limit 99: %v, want %s", err, want)
	}
}

func TestScanRefusesBadLines(t *testing.T) {
	long := `{"a":"` + strings.Repeat("x", 1536-8) + `"}`
	tests := []struct {
		name      string
		input     string
		maxRecord int64
		want      string
	}{
		{"a line that is not JSON", "{\"a\":1}\n{\"a\":}\n", 1 << 20,
			"line 2: not valid JSON: invalid character '}' looking for beginning of value (at byte 6)"},
		{"a line cut short", "{\"a\":1", 1 << 20,
			"line 1: not valid JSON: unexpected end of JSON input (at byte 6)"},
		{"two records on one line", "{\"a\":1} {\"a\":2}\n", 1 << 20,
			"line 1: not valid JSON: invalid character '{' after top-level value (at byte 9)"},
		{"an array on a line", "\n\n[{\"a\":1}]\n", 1 << 20,
			"line 3: a JSON array, not an object (one record per line)"},
		{"a string on a line", "\"hello\"\n", 1 << 20,
			`line 1: a JSON string, not an object (one record per line)`},
		{"a number on a line", "{}\n42\n", 1 << 20,
			"line 2: a JSON number, not an object (one record per line)"},
		{"a boolean on a line", "true\n", 1 << 20,
			"line 1: a JSON boolean, not an object (one record per line)"},
		{"null on a line", "null\n", 1 << 20,
			"line 1: JSON null, not an object (one record per line)"},
		{"a record that is not UTF-8", "{\"a\":\"\xff\"}\n", 1 << 20,
			"line 1: not valid UTF-8 at byte 7 (send JSON text encoded as UTF-8)"},
		{"a line over the limit, with its size", long + "\n", 1 << 10,
			"line 1: 1.5 KiB, over the 1 KiB limit (source.max_record_bytes)"},
		{"a line one byte over the limit, in bytes", long[:1025], 1 << 10,
			"line 1: 1025 B, over the 1024 B limit (source.max_record_bytes)"},
		{"a line over the limit and the read buffer", "{}\n" + strings.Repeat(" ", 3<<20) + "{}\n", 1 << 20,
			"line 2: more than 1 MiB, over the 1 MiB limit (source.max_record_bytes)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := collect(t, Scan, tt.input, tt.maxRecord)
			var ie *InputError
			if !errors.As(err, &ie) {
				t.Fatalf("Scan = %v, want an *InputError", err)
			}
			if err.Error() != tt.want {
				t.Errorf("Scan = %s\nwant   %s", err, tt.want)
			}
		})
	}
}

// endless yields an endless line of x and counts the bytes it gave out.
type endless struct{ n int64 }

func (e *endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'x'
	}
	e.n += int64(len(p))
	return len(p), nil
}

func TestScanStopsReadingAHugeLineAtTheLimit(t *testing.T) {
	src := &endless{}
	err := Scan(io.MultiReader(strings.NewReader("{}\n"), src), 1<<20, func(int, []byte) error { return nil })
	want := "line 2: more than 1 MiB, over the 1 MiB limit (source.max_record_bytes)"
	if err == nil || err.Error() != want {
		t.Fatalf("Scan = %v, want %s", err, want)
	}
	if limit := int64(1<<20 + 2*readBufferSize); src.n > limit {
		t.Errorf("read %d bytes of the line, want at most %d", src.n, limit)
	}
}

func TestScanPassesFnErrorsThrough(t *testing.T) {
	stop := errors.New("stop")
	calls := 0
	err := Scan(strings.NewReader("{}\n{}\n{}\n"), 10, func(int, []byte) error {
		calls++
		if calls == 2 {
			return stop
		}
		return nil
	})
	if err != stop || calls != 2 {
		t.Errorf("Scan = %v after %d calls, want stop after 2", err, calls)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestScanWrapsReadErrors(t *testing.T) {
	err := Scan(io.MultiReader(strings.NewReader("{}\n"), failingReader{}), 10, func(int, []byte) error { return nil })
	var ie *InputError
	if err == nil || errors.As(err, &ie) || err.Error() != "read line 2: disk on fire" {
		t.Errorf("Scan = %v, want the read error naming line 2", err)
	}
}

func TestScanGivesFnARecordItMayKeep(t *testing.T) {
	var kept [][]byte
	input := strings.Repeat(`{"k":"`+strings.Repeat("v", 70000)+`"}`+"\n", 3) + "{\"a\":1}\n{\"a\":2}\n"
	err := Scan(strings.NewReader(input), 1<<20, func(_ int, rec []byte) error {
		kept = append(kept, rec)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got := string(bytes.Join(kept, []byte("\n"))) + "\n"
	if got != input {
		t.Errorf("records kept across calls changed: got %d bytes, want %d", len(got), len(input))
	}
}

func TestScanRefusesANonPositiveLimit(t *testing.T) {
	for _, scan := range []func(io.Reader, int64, func(int, []byte) error) error{Scan, ScanArray, ScanAuto} {
		if err := scan(strings.NewReader("{}"), 0, nil); err == nil {
			t.Error("a limit of 0 was accepted")
		}
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1 KiB"}, {1536, "1.5 KiB"},
		{1 << 20, "1 MiB"}, {2202010, "2.1 MiB"}, {64 << 20, "64 MiB"},
	}
	for _, tt := range tests {
		if got := formatSize(tt.n); got != tt.want {
			t.Errorf("formatSize(%d) = %s, want %s", tt.n, got, tt.want)
		}
	}
}

// BenchmarkScan measures Scan on 1 KB records, the size of the ingest
// throughput target (20,000 records/s end to end).
func BenchmarkScan(b *testing.B) {
	rec := `{"customer_id":12345,"name":"Ada Lovelace","note":"` + strings.Repeat("x", 1024-66) + `"}` + "\n"
	input := strings.Repeat(rec, 1000)
	b.SetBytes(int64(len(input)))
	for b.Loop() {
		if err := Scan(strings.NewReader(input), 1<<20, func(int, []byte) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
