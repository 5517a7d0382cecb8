package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// colStats are the Parquet objects under one folder, column by column,
// from their footers.
type colStats struct {
	names []string
	bytes []int64    // compressed column chunks
	encs  [][]string // data page encodings met (dictionary pages left out)
	rows  int64
	files int
}

// columnBytes reads the footers of the Parquet objects under dir and sums
// each column's compressed bytes, in column order.
func columnBytes(dir string) (*colStats, error) {
	cs := &colStats{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), "_") {
			return filepath.SkipDir // a lakehouse table's log (_delta_log), not archive objects
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") || strings.Contains(p, ".strata-") {
			return err
		}
		return cs.add(p)
	})
	if err == nil && cs.files == 0 {
		err = fmt.Errorf("no Parquet object under %s", dir)
	}
	return cs, err
}

func (cs *colStats) add(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	md := pf.Metadata()
	for _, rg := range md.RowGroups {
		for ci, c := range rg.Columns {
			if ci == len(cs.names) {
				cs.names = append(cs.names, strings.Join(c.MetaData.PathInSchema, "."))
				cs.bytes, cs.encs = append(cs.bytes, 0), append(cs.encs, nil)
			}
			cs.bytes[ci] += c.MetaData.TotalCompressedSize
			for _, es := range c.MetaData.EncodingStats {
				e := shortEncoding(es.Encoding)
				if (es.PageType == format.DataPage || es.PageType == format.DataPageV2) && !slices.Contains(cs.encs[ci], e) {
					cs.encs[ci] = append(cs.encs[ci], e)
				}
			}
		}
	}
	cs.rows += md.NumRows
	cs.files++
	return nil
}

// shortEncoding names an encoding in a few letters: dict, delta (binary
// packed), dlba (delta length byte array), dba, bss, plain.
func shortEncoding(e format.Encoding) string {
	switch e {
	case format.RLEDictionary, format.PlainDictionary:
		return "dict"
	case format.DeltaBinaryPacked:
		return "delta"
	case format.DeltaLengthByteArray:
		return "dlba"
	case format.DeltaByteArray:
		return "dba"
	case format.ByteStreamSplit:
		return "bss"
	case format.Plain:
		return "plain"
	}
	return strings.ToLower(e.String())
}

// perRow is "name B/row [encodings]" for each column.
func (cs *colStats) perRow() string {
	parts := make([]string, len(cs.names))
	for i, n := range cs.names {
		parts[i] = fmt.Sprintf("%s %.2f [%s]", n, float64(cs.bytes[i])/float64(max(cs.rows, 1)), strings.Join(cs.encs[i], "+"))
	}
	return strings.Join(parts, ", ")
}

// columnBytesAll is perRow of the objects under dir, or "" when they cannot
// be read.
func columnBytesAll(dir string) string {
	cs, err := columnBytes(dir)
	if err != nil {
		return ""
	}
	return cs.perRow()
}

// printColumnBytes prints bytes per row of each column of the objects of
// the named archive runs, with the data pages' encodings.
func (b *bench) printColumnBytes(w io.Writer, runs ...string) {
	header := false
	for _, run := range runs {
		cs, err := columnBytes(filepath.Join(b.state, "archive", run))
		if err != nil || cs.rows == 0 {
			continue
		}
		if !header {
			fmt.Fprintf(w, "\nParquet bytes per row by column [data page encodings] (compressed column chunks; the rest is footer, page headers and bloom filters):\n")
			header = true
		}
		fmt.Fprintf(w, "  %-8s %s\n", run, cs.perRow())
	}
}
