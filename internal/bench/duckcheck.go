package main

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
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
	err            string // DuckDB's or the footer reader's error
	failed, passed bool
}

// duckCheck is the check's outcome; missing says why it did not run.
type duckCheck struct {
	folders []*duckFolder
	missing string
}

// duckReadAll runs the check over the folders under state/archive, one
// query per dataset and archive type (objects of one schema).
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
		if !e.IsDir() {
			continue
		}
		groups := parquetFiles(filepath.Join(root, e.Name()))
		for _, g := range slices.Sorted(maps.Keys(groups)) {
			files := groups[g]
			f := &duckFolder{name: filepath.Join(e.Name(), g), objects: len(files)}
			for _, p := range files {
				n, err := footerRows(p)
				if err != nil {
					f.err = err.Error()
				}
				f.footerRows += n
			}
			from := " FROM read_parquet([" + strings.Join(quoted(files), ", ") + "])"
			job.Queries = append(job.Queries, duckQuery{Name: f.name, SQL: "SELECT *" + from, Modes: []string{"csv"}})
			if b.has("archive") && b.thisRunsArchive(e.Name()) {
				if pg == "" {
					pg = b.pgSums(ctx)
				}
				f.pg = pg
				job.Queries = append(job.Queries, duckQuery{Name: f.name, SQL: duckSums + from, Modes: []string{"values"}})
			}
			dc.folders = append(dc.folders, f)
		}
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
			switch {
			case run.Name != f.name:
			case run.Error != "":
				f.err = run.Error
			case run.Mode == "values":
				f.sums = strings.Join(run.Values, " ")
			default:
				f.duckRows = run.Rows
			}
		}
		f.passed = f.err == "" && f.duckRows == f.footerRows && f.sums == f.pg
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

// parquetFiles lists the Parquet objects under dir (the catalog's
// metadata copies left out, and the lakehouse tables' logs: a Delta
// checkpoint under _delta_log/ is Parquet but not an object), grouped by
// the folder above their year ({prefix}/{type}/{dataset}: the objects of
// one schema).
func parquetFiles(dir string) map[string][]string {
	groups := map[string][]string{}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), "_") {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".parquet") || strings.Contains(p, ".strata-") {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		parts := strings.Split(filepath.ToSlash(rel), "/")
		g := filepath.Dir(rel)
		if len(parts) >= 4 { // .../YYYY/MM/DD/object
			g = strings.Join(parts[:len(parts)-4], "/")
		}
		groups[g] = append(groups[g], p)
		return nil
	})
	for _, files := range groups {
		slices.Sort(files)
	}
	return groups
}

// quoted returns the paths as SQL string literals.
func quoted(paths []string) []string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = "'" + strings.ReplaceAll(p, "'", "''") + "'"
	}
	return q
}

// footerRows is the row count in the footer of the Parquet file at path.
func footerRows(path string) (int64, error) {
	cs := &colStats{}
	err := cs.add(path)
	return cs.rows, err
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
		if f.err != "" {
			sums += ", error: " + f.err
		}
		fmt.Fprintf(w, "  %-40s %4d objects, DuckDB %s rows, footers %s%s  %s\n", f.name, f.objects, thousands(float64(f.duckRows)), thousands(float64(f.footerRows)), sums, verdict)
	}
}
