package testenv

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// EnvDuckDB names the folder where scripts/duckdb/install.sh put
// @duckdb/node-api; scripts/services.sh sets it.
const EnvDuckDB = "STRATA_TEST_DUCKDB"

const duckdbMissing = "DuckDB is not installed for the tests: run them with `make test` (or scripts/services.sh start), which sets " + EnvDuckDB

// DuckDB runs sql in a fresh in-memory DuckDB (scripts/duckdb/query.mjs)
// and returns its column names and rows, each value as DuckDB renders it
// in JSON (numbers that fit, strings for timestamps, decimals and large
// integers). Without DuckDB the test is skipped (failed when CI is set).
func DuckDB(t testing.TB, sql string) (columns []string, rows [][]any) {
	t.Helper()
	dir := os.Getenv(EnvDuckDB)
	if dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatal(duckdbMissing)
		}
		t.Skip(duckdbMissing)
	}
	job, _ := json.Marshal(map[string]string{"modules": dir, "sql": sql})
	cmd := exec.Command("node", filepath.Join(moduleRoot(t), "scripts", "duckdb", "query.mjs"))
	cmd.Stdin = bytes.NewReader(job)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("duckdb: %v: %s\nSQL: %s", err, stderr.Bytes(), sql)
	}
	var res struct {
		Columns []string `json:"columns"`
		Rows    [][]any  `json:"rows"`
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("duckdb: decode its answer: %v", err)
	}
	return res.Columns, res.Rows
}

// moduleRoot is the folder of go.mod above the working directory.
func moduleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}
