package testenv

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
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

// Text renders a value as the tests compare rows, whether strata retrieve
// or DuckDB's JSON (json.Number) gave it: integers, strings and decimals
// as they are, timestamps as microseconds since 1970 (YYYY-MM-DD when date
// is set), bytes in hex, doubles in Go's shortest form (DuckDB writes the
// double 3 as 3.0), lists in brackets, NULL as NULL.
func Text(v any, date bool) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case time.Time:
		if date {
			return v.Format(time.DateOnly)
		}
		return strconv.FormatInt(v.UnixMicro(), 10)
	case []byte:
		return hex.EncodeToString(v)
	case json.RawMessage:
		return string(v)
	case float64:
		return strconv.FormatFloat(v, 'g', -1, 64)
	case json.Number:
		if f, err := v.Float64(); err == nil && strings.ContainsAny(string(v), ".eE") {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
		return string(v)
	case []any:
		f := make([]string, len(v))
		for i, e := range v {
			f[i] = Text(e, date)
		}
		return "[" + strings.Join(f, ",") + "]"
	}
	return fmt.Sprint(v)
}

// TextRow renders a row as one line: each value in Text, joined by |; the
// i-th value is a date when dates[i] (dates may be shorter, or nil).
func TextRow(vals []any, dates []bool) string {
	f := make([]string, len(vals))
	for i, v := range vals {
		f[i] = Text(v, i < len(dates) && dates[i])
	}
	return strings.Join(f, "|")
}

// TextRows renders rows (DuckDB's, as DuckDB returns them) with TextRow,
// sorted, so that they compare with another reader's rows.
func TextRows(rows [][]any) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = TextRow(r, nil)
	}
	slices.Sort(out)
	return out
}
