package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// validConfig returns a valid configuration with two datasets, as Load
// would return it.
func validConfig() Config {
	c := Default()
	c.File = "strata.yaml"
	c.Database.URL = "postgres://strata:s3cret@db.example.com:5432/app?sslmode=require"
	c.Storage = Storage{URL: "azblob://archive?account=acme&sig=SECRETSIG", Prefix: "analytics_service"}
	c.Datasets = []Dataset{
		{
			Name:      "customers",
			Source:    &SourceSpec{Table: TableName{Name: "source_customers"}, IDColumn: "raw_id", TimeColumn: "ingested_at"},
			Analytics: &AnalyticsSpec{Table: TableName{Name: "customers"}, Key: []string{"customer_id"}, TimeColumn: "updated_at"},
			Transform: "transforms/customers.sql",
		},
		{
			Name:      "orders",
			Analytics: &AnalyticsSpec{Table: TableName{Schema: "sales", Name: "orders"}, Key: []string{"order_id"}, TimeColumn: "ordered_at"},
		},
	}
	c.applyDefaults()
	return c
}

func TestValidateAcceptsGoodConfigs(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
	}{
		{"the base configuration is valid", func(c *Config) {}},
		{"a dataset may have only a source", func(c *Config) {
			c.Datasets[1].Analytics = nil
			c.Datasets[1].Source = &SourceSpec{Table: TableName{Name: "raw_orders"}, IDColumn: "id", TimeColumn: "t"}
			c.applyDefaults()
		}},
		{"an S3 bucket is a storage", func(c *Config) {
			c.Storage.URL = "s3://bucket?region=eu-west-1&endpoint=http://127.0.0.1:9000&path_style=true"
		}},
		{"a local folder is a storage", func(c *Config) { c.Storage.URL = "file:///var/lib/strata/archive" }},
		{"a nested prefix is fine", func(c *Config) { c.Storage.Prefix = "team-a/analytics_service" }},
		{"no datasets at all is fine", func(c *Config) { c.Datasets = nil }},
		{"source retention may be immediate", func(c *Config) { c.Datasets[0].Source.Retention = Immediate() }},
		{"postgresql:// is a database URL too", func(c *Config) { c.Database.URL = "postgresql:///app?host=/var/run/postgresql" }},
		{"every interface may be served", func(c *Config) { c.Server.Listen = ":8080" }},
		{"a record limit may be as small as {}", func(c *Config) { c.Datasets[0].Source.MaxRecordBytes = 2 }},
		{"a record limit may be as large as 64 MiB", func(c *Config) { c.Datasets[0].Source.MaxRecordBytes = 64 << 20 }},
		{"payload and processed columns may be renamed", func(c *Config) {
			c.Datasets[0].Source.PayloadColumn = "body"
			c.Datasets[0].Source.ProcessedColumn = "is_done"
		}},
		{"every codec is accepted", func(c *Config) {
			c.Datasets[0].Archive.Compression = CompressionNone
			c.Datasets[1].Archive.Compression = CompressionZstd
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestValidateReportsWhatIsWrongAndHowToFixIt(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
		want   string
	}{
		{"a missing database URL", func(c *Config) { c.Database.URL = "" },
			"database.url: is required (set it in the file or in STRATA_DATABASE_URL)"},
		{"a database URL of another scheme", func(c *Config) { c.Database.URL = "mysql://root:pw@h/db" },
			`database.url: has scheme "mysql" (use postgres://USER@HOST:5432/DB)`},
		{"a database URL that does not parse, without echoing its password", func(c *Config) { c.Database.URL = "postgres://u:pw@h:port/db" },
			`database.url: is not a URL: invalid port ":port" after host (use postgres://USER@HOST:5432/DB)`},
		{"a missing storage URL", func(c *Config) { c.Storage.URL = "" },
			"storage.url: is required (set it in the file or in STRATA_STORAGE_URL)"},
		{"an unknown storage scheme", func(c *Config) { c.Storage.URL = "gs://bucket" },
			`storage.url: has scheme "gs" (use file://, azblob:// or s3://)`},
		{"a relative file path", func(c *Config) { c.Storage.URL = "file://archive" },
			"storage.url: needs an absolute folder path (use file:///var/lib/strata/archive, with three slashes)"},
		{"an Azure URL without a container", func(c *Config) { c.Storage.URL = "azblob://?account=acme" },
			"storage.url: names no container (use azblob://CONTAINER?account=NAME)"},
		{"an S3 URL without a bucket", func(c *Config) { c.Storage.URL = "s3:///?region=x" },
			"storage.url: names no bucket (use s3://BUCKET?region=REGION)"},
		{"an S3 URL without a region", func(c *Config) { c.Storage.URL = "s3://bucket" },
			"storage.url: names no region (use s3://BUCKET?region=REGION[&endpoint=URL][&path_style=true])"},
		{"a prefix that climbs out", func(c *Config) { c.Storage.Prefix = "../etc" },
			`storage.prefix: "../etc" is not a safe object path (use segments of letters, digits, _ - . = joined by /, no leading or trailing /)`},
		{"a prefix with a trailing slash", func(c *Config) { c.Storage.Prefix = "svc/" },
			`storage.prefix: "svc/" is not a safe object path`},
		{"a listen address without a port", func(c *Config) { c.Server.Listen = "localhost" },
			`server.listen: "localhost" is not host:port (use 127.0.0.1:8080, or :8080 for every interface)`},
		{"a listen port out of range", func(c *Config) { c.Server.Listen = ":70000" },
			`server.listen: ":70000" has an invalid port (use a number from 0 to 65535)`},
		{"an unknown log level", func(c *Config) { c.Log.Level = "verbose" },
			`log.level: "verbose" is not a level (use debug, info, warn or error)`},
		{"an unknown log format", func(c *Config) { c.Log.Format = "xml" },
			`log.format: "xml" is not a format (use auto, text or json)`},
		{"a dataset name with capitals", func(c *Config) { c.Datasets[1].Name = "Orders" },
			`datasets[1].name: "Orders" is not a dataset name (use lower-case letters, digits and _, starting with a letter, at most 63)`},
		{"a dataset without a name", func(c *Config) { c.Datasets[1].Name = "" },
			"datasets[1].name: is required (use lower-case letters, digits and _, starting with a letter)"},
		{"two datasets with one name", func(c *Config) { c.Datasets[1].Name = "customers" },
			`datasets[1].name: "customers" is already the name of datasets[0] (names must be unique)`},
		{"a dataset with neither layer", func(c *Config) { c.Datasets[1].Analytics = nil },
			"datasets[1]: has neither source nor analytics (configure at least one)"},
		{"a transform without a source", func(c *Config) { c.Datasets[1].Transform = "t.sql" },
			"datasets[1].transform: needs both source and analytics (it turns source rows into analytics rows)"},
		{"a source without a table", func(c *Config) { c.Datasets[0].Source.Table = TableName{} },
			"datasets[0].source.table: is required (use table or schema.table)"},
		{"a source table with a bad schema", func(c *Config) { c.Datasets[0].Source.Table.Schema = "my-schema" },
			`datasets[0].source.table: schema "my-schema" contains '-' (use ASCII letters, digits, _ or $)`},
		{"a source without an id column", func(c *Config) { c.Datasets[0].Source.IDColumn = "" },
			"datasets[0].source.id_column: is required (name a column)"},
		{"a source time column that is not an identifier", func(c *Config) { c.Datasets[0].Source.TimeColumn = "now()" },
			`datasets[0].source.time_column: "now()" contains '(' (use ASCII letters, digits, _ or $)`},
		{"a payload column that is not an identifier", func(c *Config) { c.Datasets[0].Source.PayloadColumn = "raw data" },
			`datasets[0].source.payload_column: "raw data" contains ' ' (use ASCII letters, digits, _ or $)`},
		{"a payload column left empty", func(c *Config) { c.Datasets[0].Source.PayloadColumn = "" },
			"datasets[0].source.payload_column: is required (name a column)"},
		{"a processed column that is too long", func(c *Config) { c.Datasets[0].Source.ProcessedColumn = strings.Repeat("p", 64) },
			`datasets[0].source.processed_column: "pppppppppppppppppppp"... is longer than 63 bytes (PostgreSQL would truncate it)`},
		{"a payload column that is also the id column", func(c *Config) { c.Datasets[0].Source.PayloadColumn = "raw_id" },
			`datasets[0].source.payload_column: "raw_id" is already the id_column (each role needs its own column)`},
		{"a processed column that is also the payload column", func(c *Config) { c.Datasets[0].Source.ProcessedColumn = "raw_data" },
			`datasets[0].source.processed_column: "raw_data" is already the payload_column (each role needs its own column)`},
		{"a record limit below the smallest record", func(c *Config) { c.Datasets[0].Source.MaxRecordBytes = 1 },
			"datasets[0].source.max_record_bytes: 1 is out of range (use 2 to 67108864)"},
		{"a record limit over 64 MiB", func(c *Config) { c.Datasets[0].Source.MaxRecordBytes = 64<<20 + 1 },
			"datasets[0].source.max_record_bytes: 67108865 is out of range (use 2 to 67108864)"},
		{"a source retention shorter than archive_after", func(c *Config) {
			c.Datasets[0].Source.Retention = DurationOf(Day)
			c.Datasets[0].Source.ArchiveAfter = DurationOf(2 * Day)
		}, "datasets[0].source.retention: 1d is shorter than archive_after 2d (rows are purged only once archived: use at least 2d)"},
		{"a batch of zero rows", func(c *Config) { c.Datasets[0].Source.BatchMaxRows = -1 },
			"datasets[0].source.batch_max_rows: -1 is out of range (use 1 to 100000000)"},
		{"an unknown answer to transform errors", func(c *Config) { c.Datasets[0].Source.OnTransformError = "ignore" },
			`datasets[0].source.on_transform_error: "ignore" is not supported (use reject, the default, or quarantine)`},
		{"a tiny batch size in bytes", func(c *Config) { c.Datasets[0].Source.BatchMaxBytes = 10 },
			"datasets[0].source.batch_max_bytes: 10 is out of range (use 1024 to 17179869184)"},
		{"analytics without a key", func(c *Config) { c.Datasets[1].Analytics.Key = nil },
			"datasets[1].analytics.key: is required (list the columns that identify a row, e.g. [customer_id])"},
		{"a key column listed twice", func(c *Config) { c.Datasets[1].Analytics.Key = []string{"a", "a"} },
			`datasets[1].analytics.key[1]: "a" is listed twice`},
		{"an empty key column", func(c *Config) { c.Datasets[1].Analytics.Key = []string{""} },
			"datasets[1].analytics.key[0]: is required (name a column)"},
		{"analytics without a time column", func(c *Config) { c.Datasets[1].Analytics.TimeColumn = "" },
			"datasets[1].analytics.time_column: is required (name a column)"},
		{"an immediate analytics retention", func(c *Config) { c.Datasets[1].Analytics.Retention = Immediate() },
			"datasets[1].analytics.retention: cannot be immediate (use a positive duration such as 90d)"},
		{"an analytics retention without a unit", func(c *Config) { c.Datasets[1].Analytics.Retention = Duration{invalid: "90"} },
			`datasets[1].analytics.retention: "90" has no unit (use 90d)`},
		{"one table for both layers", func(c *Config) { c.Datasets[0].Source.Table = TableName{Name: "customers"} },
			`datasets[0].analytics.table: "customers" is already used by datasets[0].source.table (every layer needs its own table)`},
		{"one table for two datasets", func(c *Config) { c.Datasets[1].Analytics.Table = TableName{Name: "customers"} },
			`datasets[1].analytics.table: "customers" is already used by datasets[0].analytics.table`},
		{"an archive format other than parquet", func(c *Config) { c.Datasets[0].Archive.Format = "csv" },
			`datasets[0].archive.format: "csv" is not supported (use parquet)`},
		{"an unknown codec", func(c *Config) { c.Datasets[0].Archive.Compression = "lz4" },
			`datasets[0].archive.compression: "lz4" is not supported (use snappy, zstd, gzip or none)`},
		{"an unset archive retention", func(c *Config) { c.Datasets[0].Archive.Retention = Duration{} },
			"datasets[0].archive.retention: is required (use a duration such as 90d)"},
		{"row groups of zero rows", func(c *Config) { c.Datasets[0].Archive.RowGroupRows = 0 },
			"datasets[0].archive.row_group_rows: 0 is out of range (use 1 to 100000000)"},
		{"an unknown immutability mode", func(c *Config) { c.Datasets[0].Archive.Immutability = "worm" },
			`datasets[0].archive.immutability: "worm" is not a mode (use off, governance or compliance; docs/CONFIG.md explains them)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validConfig()
			tt.mutate(&c)
			err := c.Validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want an ErrInvalid", err)
			}
			if want := "config strata.yaml: " + tt.want; !strings.Contains(err.Error(), want) {
				t.Errorf("Validate:\n%v\nwant it to contain:\n%s", err, want)
			}
			if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "pw@") {
				t.Errorf("Validate echoed a password: %v", err)
			}
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	c := validConfig()
	c.Database.URL = ""
	c.Datasets[1].Analytics.Retention = Duration{invalid: "90"}
	c.Datasets[0].Archive.Compression = "lz4"
	var fe *FieldError
	err := c.Validate()
	if !errors.As(err, &fe) || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("Validate = %v, want three FieldErrors", err)
	}
}

// fakeStat serves the named files, relative to the current folder.
func fakeStat(names ...string) StatFunc {
	fsys := fstest.MapFS{}
	for _, n := range names {
		fsys[n] = &fstest.MapFile{Data: []byte("SELECT 1")}
	}
	return func(name string) (fs.FileInfo, error) { return fs.Stat(fsys, filepath.ToSlash(filepath.Clean(name))) }
}

func TestCheckFiles(t *testing.T) {
	c := validConfig()
	if err := c.CheckFiles(fakeStat("transforms/customers.sql")); err != nil {
		t.Errorf("CheckFiles with the file present: %v", err)
	}
	err := c.CheckFiles(fakeStat())
	want := "config strata.yaml: datasets[0].transform: transforms/customers.sql does not exist (the path is relative to the config file's folder)"
	if err == nil || err.Error() != want {
		t.Errorf("CheckFiles = %v, want %s", err, want)
	}
	err = c.CheckFiles(fakeStat("transforms/customers.sql/x"))
	if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("CheckFiles on a folder = %v", err)
	}
}

func TestDefaultDurationsAreThoseOfTheSpec(t *testing.T) {
	if DefaultSourceRetention != 7*24*time.Hour || DefaultAnalyticsRetain != 90*24*time.Hour || DefaultArchiveRetention != 7*365*24*time.Hour {
		t.Error("defaults drifted from the spec (7 days, 90 days, 7 years)")
	}
}
