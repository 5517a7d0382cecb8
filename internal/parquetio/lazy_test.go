package parquetio_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/parquetio"
)

// rowTexts reads every row with Next and renders each value as JSON.
func rowTexts(t *testing.T, r *parquetio.Reader) [][]string {
	t.Helper()
	it, err := r.Rows(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out [][]string
	for it.Next() {
		out = append(out, renderRow(it.Row()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func renderRow(row []parquetio.Value) []string {
	out := make([]string, len(row))
	for i, v := range row {
		out[i] = string(v.AppendJSON(nil))
	}
	return out
}

// checkLazy reads r with Advance, decoding column first of every row and
// the whole of every keep-th row, and compares those rows with full reads.
func checkLazy(t *testing.T, r *parquetio.Reader, first, keep int) {
	t.Helper()
	want := rowTexts(t, r)
	it, err := r.Rows(context.Background(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n, full := 0, 0
	for ; it.Advance(); n++ {
		if !it.Decode([]int{first}) {
			t.Fatalf("row %d: %v", n, it.Err())
		}
		if got := string(it.Row()[first].AppendJSON(nil)); got != want[n][first] {
			t.Fatalf("row %d column %d: read %s lazily, %s with Next", n, first, got, want[n][first])
		}
		if n%keep != 0 {
			continue
		}
		if !it.Decode(nil) {
			t.Fatalf("row %d: %v", n, it.Err())
		}
		if got := renderRow(it.Row()); !slices.Equal(got, want[n]) {
			t.Fatalf("row %d read lazily:\n%q\nread with Next:\n%q", n, got, want[n])
		}
		full++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(want) || full == 0 {
		t.Fatalf("read %d rows lazily (%d whole), %d with Next", n, full, len(want))
	}
}

func TestSkippedRowsAreNotDecodedAndTheRowsDecodedAreExact(t *testing.T) {
	// Dictionary, PLAIN and fallback pages, NULLs, several pages and row
	// groups: decoding every 1st, 97th and 10,007th row skips values
	// within pages, across pages and across row groups.
	file := writeEncodingFile(t, 40000, parquetio.WriterOptions{RowGroupRows: 30000})
	r, err := parquetio.Open(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	for _, keep := range []int{1, 97, 10007} {
		t.Run(fmt.Sprint(keep), func(t *testing.T) { checkLazy(t, r, 3, keep) })
	}
}

func TestLazyReadingOfEveryTypeEqualsNext(t *testing.T) {
	pool, s := setupAllTypes(t)
	file, _ := archive(t, pool, s, "FROM a ORDER BY id", parquetio.WriterOptions{RowGroupRows: 700})
	r := open(t, file)
	for _, keep := range []int{1, 3, 701} {
		t.Run(fmt.Sprint(keep), func(t *testing.T) { checkLazy(t, r, 0, keep) })
	}
}

// BenchmarkReadRows reads a file of benchRows (snappy, 128K-row row groups)
// from memory: every column of every row with Next ("all"), and as a
// retrieval with a filter does ("filtered": Advance, decode score, decode
// the whole row for the 3% with score >= 139, as value >= 970 keeps 3% of
// make bench's readings); "-readahead" opens the file with ReadAhead, as
// retrieval does (pages decoded in other goroutines: cpu-ns/row counts
// them too).
func BenchmarkReadRows(b *testing.B) {
	s, err := parquetio.NewSchema(benchColumns)
	if err != nil {
		b.Fatal(err)
	}
	rows := benchRows(256 * 1024)
	var buf bytes.Buffer
	w, err := parquetio.NewWriter(&buf, s, parquetio.WriterOptions{Compression: "snappy", TimeColumn: "updated_at"})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range rows {
		if err := w.WriteRaw(r); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		b.Fatal(err)
	}
	file := buf.Bytes()
	score := []int{s.Index("score")}
	for _, mode := range []string{"all", "filtered", "all-readahead", "filtered-readahead"} {
		b.Run(mode, func(b *testing.B) {
			opts := parquetio.OpenOptions{ReadAhead: strings.HasSuffix(mode, "-readahead")}
			r, err := parquetio.OpenWith(bytes.NewReader(file), int64(len(file)), opts)
			if err != nil {
				b.Fatal(err)
			}
			var n, kept int64
			cpu0 := cpuTime()
			for b.Loop() {
				it, err := r.Rows(context.Background(), nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				for it.Advance() {
					n++
					if strings.HasPrefix(mode, "filtered") && (!it.Decode(score) || it.Row()[score[0]].Float64() < 139) {
						continue
					}
					if it.Decode(nil) {
						kept++
					}
				}
				if err := it.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(n), "cpu-ns/row")
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64(kept)/float64(n), "kept")
		})
	}
}
