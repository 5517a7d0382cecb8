package main

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// The DuckDB check: after the sections ran, DuckDB decodes every value of
// every Parquet object they archived, folder by folder (COPY (SELECT * FROM
// read_parquet([...])) TO '/dev/null' (FORMAT csv)), and its row count must
// equal the objects' footers. For the archive section's folders, each
// holding every row of the generated template, DuckDB's count and sums of
// the integer and time columns must also equal PostgreSQL's over the
// template: an encoding DuckDB misread would show there.

// thisRunsArchive reports whether name is a folder the archive section
// wrote in this run (snappy-1 .. snappy-<reps>, the same for zstd).
func (b *bench) thisRunsArchive(name string) bool {
	for i := 1; i <= b.reps; i++ {
		if name == fmt.Sprintf("snappy-%d", i) || (b.zstd && name == fmt.Sprintf("zstd-%d", i)) {
			return true
		}
	}
	return false
}

// duckSums is the sums query, in DuckDB's SQL and in PostgreSQL's, over the
// bench table's integer and time columns (microseconds since 1970).
const (
	duckSums = `SELECT count(*)::VARCHAR, sum(id)::VARCHAR, sum(customer_id)::VARCHAR, sum(quantity)::VARCHAR,
		sum(epoch_us(updated_at))::VARCHAR, sum(epoch_us(created_at))::VARCHAR`
	pgSums = `SELECT count(*)::text, sum(id)::text, sum(customer_id)::text, sum(quantity)::text,
		round(sum(extract(epoch FROM updated_at) * 1000000))::text, round(sum(extract(epoch FROM created_at) * 1000000))::text FROM ` + template
)

// duckFolder is one folder's check.
type duckFolder struct {
	name           string
	objects        int
	footerRows     int64
	duckRows       int64
	sums, pg       string // the archive section's folders only
	failed, passed bool
}

// duckCheck is the check's outcome; missing says why it did not run.
type duckCheck struct {
	folders []*duckFolder
	missing string
}

// duckReadAll runs the check over the folders under state/archive.
func (b *bench) duckReadAll(ctx context.Context) *duckCheck {
	dc := &duckCheck{}
	root := filepath.Join(b.state, "archive")
	entries, err := os.ReadDir(root)
	if err != nil {
		dc.missing = err.Error()
		return dc
	}
	var job duckJob
	var pg string
	for _, e := range entries {
		files := parquetFiles(filepath.Join(root, e.Name()))
		if !e.IsDir() || len(files) == 0 {
			continue
		}
		f := &duckFolder{name: e.Name(), objects: len(files)}
		if cs, err := columnBytes(filepath.Join(root, e.Name())); err == nil {
			f.footerRows = cs.rows
		}
		from := " FROM read_parquet([" + strings.Join(files, ", ") + "])"
		job.Queries = append(job.Queries, duckQuery{Name: f.name, SQL: "SELECT *" + from, Modes: []string{"csv"}})
		if b.has("archive") && b.thisRunsArchive(f.name) {
			if pg == "" {
				pg = b.pgSums(ctx)
			}
			f.pg = pg
			job.Queries = append(job.Queries, duckQuery{Name: f.name, SQL: duckSums + from, Modes: []string{"values"}})
		}
		dc.folders = append(dc.folders, f)
	}
	if len(dc.folders) == 0 {
		return dc
	}
	job.Threads, job.Reps = 2, 1
	b.step("DuckDB reads every archived object: %d folders", len(dc.folders))
	res, err := b.runDuckJob(ctx, job)
	if err != nil {
		dc.missing = err.Error()
		return dc
	}
	for _, f := range dc.folders {
		for _, run := range res.Runs {
			if run.Name != f.name {
				continue
			}
			if run.Mode == "values" {
				f.sums = strings.Join(run.Values, " ")
			} else {
				f.duckRows = run.Rows
			}
		}
		f.passed = f.duckRows == f.footerRows && f.sums == f.pg
		f.failed = !f.passed
	}
	return dc
}

// pgSums is PostgreSQL's answer to pgSums, space-separated.
func (b *bench) pgSums(ctx context.Context) string {
	v := make([]string, 6)
	if err := b.pg.pool.QueryRow(ctx, pgSums).Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5]); err != nil {
		return "error: " + err.Error()
	}
	return strings.Join(v, " ")
}

// parquetFiles lists the Parquet objects under dir as quoted SQL strings
// (the catalog's metadata copies left out).
func parquetFiles(dir string) []string {
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".parquet") && !strings.Contains(p, ".strata-") {
			files = append(files, "'"+strings.ReplaceAll(p, "'", "''")+"'")
		}
		return nil
	})
	slices.Sort(files)
	return files
}

// reportDuckCheck prints the check.
func (b *bench) reportDuckCheck(dc *duckCheck) {
	if dc == nil || (len(dc.folders) == 0 && dc.missing == "") {
		return
	}
	w := b.out
	fmt.Fprintf(w, "\nDuckDB reading every archived object (COPY (SELECT * ...) TO '/dev/null' (FORMAT csv), rows against the footers;\n"+
		"archive section's folders: count and sums of id, customer_id, quantity, updated_at, created_at against PostgreSQL's over %s):\n", template)
	if dc.missing != "" {
		fmt.Fprintf(w, "  not measured: %s\n", dc.missing)
		return
	}
	for _, f := range dc.folders {
		verdict := "PASS"
		if f.failed {
			verdict = "FAIL"
		}
		sums := ""
		switch {
		case f.pg == "":
		case f.sums == f.pg:
			sums = ", count and sums equal to PostgreSQL's"
		default:
			sums = fmt.Sprintf(", count and sums %s, PostgreSQL's %s", f.sums, f.pg)
		}
		fmt.Fprintf(w, "  %-20s %4d objects, DuckDB %s rows, footers %s%s  %s\n", f.name, f.objects, thousands(float64(f.duckRows)), thousands(float64(f.footerRows)), sums, verdict)
	}
}
