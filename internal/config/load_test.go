package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/storage"
)

// minimalYAML is a valid strata.yaml with one dataset and every default left out.
const minimalYAML = `
database:
  url: postgres://strata@127.0.0.1:5432/app
storage:
  url: file:///var/lib/strata/archive
datasets:
  - name: customers
    source:
      table: source_customers
      id_column: raw_id
      time_column: ingested_at
    analytics:
      table: customers
      key: [customer_id]
      time_column: updated_at
`

// writeConfig writes text as strata.yaml in a fresh folder and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "strata.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// envMap returns an env lookup serving m.
func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestLoadFillsDefaults(t *testing.T) {
	c, err := Load(writeConfig(t, minimalYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != "127.0.0.1:8080" || c.Log.Level != "info" || c.Log.Format != "auto" || c.Storage.Prefix != "" {
		t.Errorf("top-level defaults: %+v %+v %+v", c.Server, c.Log, c.Storage)
	}
	ds, ok := c.Dataset("customers")
	if !ok {
		t.Fatal(`Dataset("customers") not found`)
	}
	s, a, ar := ds.Source, ds.Analytics, ds.Archive
	if s.Retention != DurationOf(7*Day) || !s.ArchiveAfter.IsImmediate() || s.BatchMaxRows != 100000 ||
		s.BatchMaxBytes != 64<<20 || s.BatchMaxWait != DurationOf(time.Hour) ||
		s.PayloadColumn != "raw_data" || s.ProcessedColumn != "processed" || s.MaxRecordBytes != 1<<20 ||
		s.OnTransformError != OnTransformErrorReject {
		t.Errorf("source defaults: %+v", s)
	}
	if a.Retention != DurationOf(90*Day) {
		t.Errorf("analytics retention = %v, want 90d", a.Retention)
	}
	if ar.Format != "parquet" || ar.Compression != CompressionSnappy || ar.Retention != DurationOf(7*Year) || ar.RowGroupRows != 122880 ||
		ar.Immutability != "off" || ar.RetentionMode() != storage.RetentionOff {
		t.Errorf("archive defaults: %+v", ar)
	}
	if _, ok := c.Dataset("nope"); ok {
		t.Error(`Dataset("nope") found`)
	}
}

func TestLoadReportsFileProblems(t *testing.T) {
	tests := []struct {
		name, text string
		msgs       []string
	}{
		{
			"an unknown key is named with its line",
			minimalYAML + "    colour: blue\n",
			[]string{`: line 16: unknown key "colour" in datasets[] (check the spelling; docs/CONFIG.md lists every key)`},
		},
		{
			"a misspelt nested key is named with its section",
			strings.Replace(minimalYAML, "id_column", "idcolumn", 1),
			[]string{`: line 10: unknown key "idcolumn" in datasets[].source`},
		},
		{
			"a duration without a unit names the key's path",
			minimalYAML + "      retention: 90\n",
			[]string{`: datasets[0].analytics.retention: "90" has no unit (use 90d)`},
		},
		{
			"a bad table name names the key's path",
			strings.Replace(minimalYAML, "table: customers", "table: a.b.c", 1),
			[]string{`: datasets[0].analytics.table: "a.b.c" has too many dots (use table or schema.table)`},
		},
		{
			"a wrong type names the line",
			minimalYAML + "    archive:\n      row_group_rows: many\n",
			[]string{": line 17: cannot unmarshal !!str `many` into int"},
		},
		{
			"broken YAML says so",
			"database: [\n",
			[]string{": is not valid YAML: line 1: did not find expected node content"},
		},
		{
			"two documents are refused",
			minimalYAML + "---\nlog: {level: debug}\n",
			[]string{": holds more than one YAML document (remove the extra ---)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.text)
			_, err := Load(path, nil)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load error = %v, want one matching ErrInvalid", err)
			}
			for _, m := range tt.msgs {
				if !strings.Contains(err.Error(), "config "+path+m) {
					t.Errorf("error:\n%v\nwant it to contain:\nconfig %s%s", err, path, m)
				}
			}
		})
	}
}

func TestLoadOfAMissingFileSaysWhichFile(t *testing.T) {
	_, err := Load("/nonexistent/strata.yaml", nil)
	if !errors.Is(err, os.ErrNotExist) || !strings.HasPrefix(err.Error(), "config /nonexistent/strata.yaml: ") {
		t.Errorf("error = %v", err)
	}
}

func TestLoadOfAnEmptyFileNeedsTheEnvironment(t *testing.T) {
	path := writeConfig(t, "")
	_, err := Load(path, nil)
	want := "config " + path + ": database.url: is required (set it in the file or in STRATA_DATABASE_URL)"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %v, want %s", err, want)
	}
	c, err := Load(path, envMap(map[string]string{"STRATA_DATABASE_URL": "postgres://h/db", "STRATA_STORAGE_URL": "s3://bucket?region=eu-west-1"}))
	if err != nil || c.Database.URL != "postgres://h/db" {
		t.Errorf("Load = %+v, %v", c, err)
	}
}

func TestLoadWithoutAFileUsesTheEnvironmentOnly(t *testing.T) {
	c, err := Load("", envMap(map[string]string{"STRATA_DATABASE_URL": "postgres://h/db", "STRATA_STORAGE_URL": "file:///srv/archive"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.File != "" || c.Storage.URL != "file:///srv/archive" || len(c.Datasets) != 0 {
		t.Errorf("Load(\"\") = %+v", c)
	}
	_, err = Load("", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "config: database.url: is required") {
		t.Errorf("error = %v", err)
	}
}

func TestLoadChecksThatTheTransformExists(t *testing.T) {
	path := writeConfig(t, minimalYAML+"    transform: transforms/customers.sql\n")
	_, err := Load(path, nil)
	want := "config " + path + ": datasets[0].transform: " + filepath.Join(filepath.Dir(path), "transforms/customers.sql") +
		" does not exist (the path is relative to the config file's folder)"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
	dir := filepath.Join(filepath.Dir(path), "transforms")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "customers.sql"), []byte("SELECT 1"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TransformPath(&c.Datasets[0]); got != filepath.Join(dir, "customers.sql") {
		t.Errorf("TransformPath = %s", got)
	}
}

func TestExampleConfigLoadsAndValidates(t *testing.T) {
	path := filepath.Join("..", "..", "strata.example.yaml")
	c, err := load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ds := range c.Datasets {
		names = append(names, ds.Name)
	}
	if strings.Join(names, ",") != "customers,scor_metrics,orders" {
		t.Errorf("datasets = %v", names)
	}
	orders, _ := c.Dataset("orders")
	if orders.Analytics.Table != (TableName{Schema: "public", Name: "orders"}) || orders.Archive.Compression != CompressionSnappy {
		t.Errorf("orders = %+v", orders.Analytics)
	}
	customers, _ := c.Dataset("customers")
	if s := customers.Source; s.PayloadColumn != "raw_data" || s.ProcessedColumn != "processed" ||
		s.MaxRecordBytes != DefaultMaxRecordBytes || s.BatchMaxWait != DurationOf(DefaultBatchMaxWait) {
		t.Errorf("customers.source = %+v, want the defaults written out", s)
	}
	c.Dir = "" // resolve the transforms against fakeStat's root
	if err := c.CheckFiles(fakeStat("transforms/customers.sql", "transforms/scor_metrics.sql", "transforms/orders.sql")); err != nil {
		t.Errorf("CheckFiles: %v", err)
	}
}

func TestExampleConfigNamesTransformsThatExist(t *testing.T) {
	if _, err := Load(filepath.Join("..", "..", "strata.example.yaml"), nil); err != nil {
		t.Errorf("Load(strata.example.yaml) with the repository's transforms/: %v", err)
	}
}
