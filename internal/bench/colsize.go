package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/parquet-go/parquet-go"
)

// columnBytes reads the footer of the Parquet object under dir and returns
// each column's compressed bytes, in column order.
func columnBytes(dir string) (names []string, bytes []int64, rows int64, err error) {
	var path string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") && !strings.Contains(p, ".strata-") {
			path = p
		}
		return nil
	})
	if path == "" {
		return nil, nil, 0, fmt.Errorf("no Parquet object under %s", dir)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, 0, err
	}
	pf, err := parquet.OpenFile(f, st.Size(), parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, nil, 0, fmt.Errorf("read %s: %w", path, err)
	}
	md := pf.Metadata()
	for gi, rg := range md.RowGroups {
		for ci, c := range rg.Columns {
			if gi == 0 {
				names = append(names, strings.Join(c.MetaData.PathInSchema, "."))
				bytes = append(bytes, 0)
			}
			bytes[ci] += c.MetaData.TotalCompressedSize
		}
	}
	return names, bytes, md.NumRows, nil
}

// printColumnBytes prints bytes per row of each column of the objects of
// the named archive runs.
func (b *bench) printColumnBytes(w io.Writer, runs ...string) {
	var header []string
	cols := map[string][]string{}
	for _, run := range runs {
		names, bytes, rows, err := columnBytes(filepath.Join(b.state, "archive", run))
		if err != nil || rows == 0 {
			continue
		}
		header = names
		for i, n := range names {
			cols[run] = append(cols[run], fmt.Sprintf("%s %.1f", n, float64(bytes[i])/float64(rows)))
		}
	}
	if header == nil {
		return
	}
	fmt.Fprintf(w, "\nParquet bytes per row by column (compressed column chunks; the rest is footer and page headers):\n")
	for _, run := range runs {
		if c, ok := cols[run]; ok {
			fmt.Fprintf(w, "  %-8s %s\n", run, strings.Join(c, ", "))
		}
	}
}
