package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnvironmentOverridesKeys(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		check func(c *Config) bool
	}{
		{"the database URL", map[string]string{"STRATA_DATABASE_URL": "postgres://other/db"},
			func(c *Config) bool { return c.Database.URL == "postgres://other/db" }},
		{"the storage URL and prefix", map[string]string{"STRATA_STORAGE_URL": "s3://b?region=r", "STRATA_STORAGE_PREFIX": "svc"},
			func(c *Config) bool { return c.Storage.URL == "s3://b?region=r" && c.Storage.Prefix == "svc" }},
		{"the listen address and log level", map[string]string{"STRATA_SERVER_LISTEN": ":9090", "STRATA_LOG_LEVEL": "debug", "STRATA_LOG_FORMAT": "json"},
			func(c *Config) bool {
				return c.Server.Listen == ":9090" && c.Log.Level == "debug" && c.Log.Format == "json"
			}},
		{"a dataset's duration, by the dataset's name", map[string]string{"STRATA_DATASETS_CUSTOMERS_ANALYTICS_RETENTION": "30d"},
			func(c *Config) bool { return c.Datasets[0].Analytics.Retention == DurationOf(30*Day) }},
		{"a dataset's table, schema-qualified", map[string]string{"STRATA_DATASETS_CUSTOMERS_SOURCE_TABLE": "staging.raw"},
			func(c *Config) bool { return c.Datasets[0].Source.Table == TableName{Schema: "staging", Name: "raw"} }},
		{"a dataset's key, comma-separated", map[string]string{"STRATA_DATASETS_CUSTOMERS_ANALYTICS_KEY": "tenant_id, customer_id"},
			func(c *Config) bool {
				return slices.Equal(c.Datasets[0].Analytics.Key, []string{"tenant_id", "customer_id"})
			}},
		{"a dataset's numbers", map[string]string{"STRATA_DATASETS_CUSTOMERS_SOURCE_BATCH_MAX_ROWS": "500", "STRATA_DATASETS_CUSTOMERS_ARCHIVE_ROW_GROUP_ROWS": "1000"},
			func(c *Config) bool {
				return c.Datasets[0].Source.BatchMaxRows == 500 && c.Datasets[0].Archive.RowGroupRows == 1000
			}},
		{"a dataset's payload and processed columns and record limit", map[string]string{
			"STRATA_DATASETS_CUSTOMERS_SOURCE_PAYLOAD_COLUMN":   "body",
			"STRATA_DATASETS_CUSTOMERS_SOURCE_PROCESSED_COLUMN": "done",
			"STRATA_DATASETS_CUSTOMERS_SOURCE_MAX_RECORD_BYTES": "4096",
		}, func(c *Config) bool {
			s := c.Datasets[0].Source
			return s.PayloadColumn == "body" && s.ProcessedColumn == "done" && s.MaxRecordBytes == 4096
		}},
		{"a dataset's batch wait", map[string]string{"STRATA_DATASETS_CUSTOMERS_SOURCE_BATCH_MAX_WAIT": "15m"},
			func(c *Config) bool { return c.Datasets[0].Source.BatchMaxWait == DurationOf(15*time.Minute) }},
		{"the archive codec", map[string]string{"STRATA_DATASETS_CUSTOMERS_ARCHIVE_COMPRESSION": "zstd"},
			func(c *Config) bool { return c.Datasets[0].Archive.Compression == CompressionZstd }},
		{"values trimmed of space", map[string]string{"STRATA_DATABASE_URL": " postgres://x/db\n"},
			func(c *Config) bool { return c.Database.URL == "postgres://x/db" }},
		{"nothing when a variable is empty", map[string]string{"STRATA_DATABASE_URL": ""},
			func(c *Config) bool { return c.Database.URL == "postgres://strata@127.0.0.1:5432/app" }},
		{"a variable for an unknown dataset is ignored", map[string]string{"STRATA_DATASETS_NOPE_TRANSFORM": "x.sql"},
			func(c *Config) bool { return len(c.Datasets) == 1 }},
	}
	path := writeConfig(t, minimalYAML)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(path, envMap(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("override not applied: %s", c)
			}
		})
	}
}

func TestEnvironmentCreatesAMissingSection(t *testing.T) {
	text := strings.Replace(minimalYAML, "    source:\n      table: source_customers\n      id_column: raw_id\n      time_column: ingested_at\n", "", 1)
	env := map[string]string{
		"STRATA_DATASETS_CUSTOMERS_SOURCE_TABLE":       "source_customers",
		"STRATA_DATASETS_CUSTOMERS_SOURCE_ID_COLUMN":   "raw_id",
		"STRATA_DATASETS_CUSTOMERS_SOURCE_TIME_COLUMN": "ingested_at",
	}
	c, err := Load(writeConfig(t, text), envMap(env))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Datasets[0].Source; s == nil || s.IDColumn != "raw_id" || s.Retention != DurationOf(DefaultSourceRetention) {
		t.Errorf("source = %+v", s)
	}
}

func TestEnvironmentErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"a duration without a unit", map[string]string{"STRATA_DATASETS_CUSTOMERS_ANALYTICS_RETENTION": "90"},
			`STRATA_DATASETS_CUSTOMERS_ANALYTICS_RETENTION: "90" has no unit (use 90d)`},
		{"a number that is not one", map[string]string{"STRATA_DATASETS_CUSTOMERS_SOURCE_BATCH_MAX_BYTES": "64MiB"},
			`STRATA_DATASETS_CUSTOMERS_SOURCE_BATCH_MAX_BYTES: "64MiB" is not a whole number`},
		{"a record limit that is not a number", map[string]string{"STRATA_DATASETS_CUSTOMERS_SOURCE_MAX_RECORD_BYTES": "1MiB"},
			`STRATA_DATASETS_CUSTOMERS_SOURCE_MAX_RECORD_BYTES: "1MiB" is not a whole number`},
		{"a table that is not one", map[string]string{"STRATA_DATASETS_CUSTOMERS_ANALYTICS_TABLE": "x;drop"},
			`STRATA_DATASETS_CUSTOMERS_ANALYTICS_TABLE: "x;drop" contains ';' (use ASCII letters, digits, _ or $)`},
	}
	path := writeConfig(t, minimalYAML)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(path, envMap(tt.env))
			if want := "config " + path + ": " + tt.want; err == nil || err.Error() != want {
				t.Errorf("error = %v\nwant    %s", err, want)
			}
		})
	}
}

func TestEnvironmentRefusesAnAmbiguousVariable(t *testing.T) {
	// Only names that Validate rejects can collide today, but the guard
	// keeps a future key from silently overriding the wrong dataset.
	text := minimalYAML + `  - name: Customers
    analytics:
      table: other
      key: [id]
      time_column: t
`
	path := writeConfig(t, text)
	_, err := Load(path, envMap(map[string]string{"STRATA_DATASETS_CUSTOMERS_TRANSFORM": "x.sql"}))
	want := "config " + path + ": STRATA_DATASETS_CUSTOMERS_TRANSFORM: is ambiguous: two datasets' keys make the same variable (rename one dataset)"
	if err == nil || err.Error() != want {
		t.Errorf("error = %v\nwant    %s", err, want)
	}
}

// TestEveryVariableIsDocumented keeps docs/CONFIG.md in step with Config.
func TestEveryVariableIsDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "CONFIG.md"))
	if err != nil {
		t.Fatal(err)
	}
	c := Config{Datasets: []Dataset{{Name: "<name>"}}} // upper-cased to <NAME>
	targets := c.envTargets()
	if len(targets) < 20 {
		t.Fatalf("only %d variables", len(targets))
	}
	for _, v := range targets {
		if !strings.Contains(string(doc), "`"+v.name+"`") {
			t.Errorf("docs/CONFIG.md does not list `%s`", v.name)
		}
	}
}
