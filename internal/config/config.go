package config

import (
	"path/filepath"
	"time"

	"github.com/stratahq/strata/internal/storage"
)

// Config is the parsed strata.yaml. Build one with Default or Load; check a
// hand-built one with Validate.
type Config struct {
	Database Database  `yaml:"database"`
	Storage  Storage   `yaml:"storage"`
	Server   Server    `yaml:"server"`
	Log      Log       `yaml:"log"`
	Lineage  Lineage   `yaml:"lineage"`
	Erasure  Erasure   `yaml:"erasure"`
	Audit    Audit     `yaml:"audit"`
	Tables   Tables    `yaml:"tables"`
	Datasets []Dataset `yaml:"datasets"`

	// File names the configuration in error messages ("config FILE: ...");
	// empty when the configuration did not come from a file.
	File string `yaml:"-"`
	// Dir is the folder that relative paths (Dataset.Transform) are
	// resolved against: the config file's folder, or "" for the working
	// directory.
	Dir string `yaml:"-"`
}

// Database says where the PostgreSQL database (Layers 2 and 3, and the
// catalog in schema strata) is.
type Database struct {
	// URL is a postgres:// or postgresql:// connection URL. It may carry a
	// password; Redacted and all error messages mask it.
	URL string `yaml:"url"`
}

// Storage says where the archive (Layer 2a) is.
type Storage struct {
	// URL is file:///abs/path, azblob://CONTAINER?account=NAME[&endpoint=URL]
	// or s3://BUCKET?region=R[&endpoint=URL][&path_style=true].
	URL string `yaml:"url"`
	// Prefix is the folder inside the bucket or container that holds all
	// objects: {prefix}/analytics/... and {prefix}/source/.... The default
	// "" puts them at the root; set it (the spec uses analytics_service) to
	// share a bucket between services.
	Prefix string `yaml:"prefix"`
}

// Server configures strata serve.
type Server struct {
	// Listen is the HTTP address, host:port. Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// Scheduler is on (default) or off: whether serve runs each dataset's
	// lifecycle jobs on their Schedule.
	Scheduler string `yaml:"scheduler"`
	// MaxBodyBytes bounds a request body (an ingest). Default 64 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxResultRows bounds the rows one retrieval returns over HTTP.
	// Default 10000000.
	MaxResultRows int64 `yaml:"max_result_rows"`
	// MaxSpan bounds the time range of one retrieval. Default 3660d.
	MaxSpan Duration `yaml:"max_span"`
	// RequestTimeout bounds how long one request may run. Default 15m.
	RequestTimeout Duration `yaml:"request_timeout"`
	// ShutdownTimeout is how long serve waits on SIGTERM for requests and
	// jobs in flight before it abandons them. Default 60s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// Tokens are the bearer tokens the API accepts (strata token create
	// makes one). With none, every route is open and serve listens only on
	// loopback.
	Tokens []Token `yaml:"tokens"`
	// MetricsOpen serves /metrics without a token (a scraper on a trusted
	// network). Default false: /metrics needs a token with the read scope.
	MetricsOpen bool `yaml:"metrics_open"`
	// TLSCert and TLSKey are PEM files: serve answers HTTPS (TLS 1.2 or
	// later) when both are set.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
}

// Token is one bearer token of the HTTP API. The configuration holds the
// SHA-256 of its secret, never the secret.
type Token struct {
	// Name says whose token it is; the audit trail records it.
	Name string `yaml:"name"`
	// SHA256 is the hex SHA-256 of the secret.
	SHA256 string `yaml:"sha256"`
	// Scopes are what the token may do: read, ingest, replay, admin.
	Scopes []string `yaml:"scopes"`
	// Datasets are the datasets it may touch, or ["*"] for every one.
	Datasets []string `yaml:"datasets"`
}

// Schedule says how often serve runs a dataset's lifecycle jobs. Each
// job takes the same per-dataset locks and row claims as the commands, so
// several serve processes share the work without doing anything twice.
type Schedule struct {
	// SourceArchive is how often rows written to Layer 3 by other programs
	// are archived (and transformed). Default 1m.
	SourceArchive Duration `yaml:"source_archive"`
	// AnalyticsArchive is how often Layer 2 rows past retention are
	// archived and removed. Default 1h.
	AnalyticsArchive Duration `yaml:"analytics_archive"`
	// Purge is how often archived Layer 3 rows past retention are purged
	// and expired archive objects removed. Default 1h.
	Purge Duration `yaml:"purge"`
}

// Log configures structured logging (log/slog).
type Log struct {
	// Level is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format is auto (default: text on a terminal, json otherwise), text or json.
	Format string `yaml:"format"`
}

// Lineage configures where OpenLineage run events go. Lineage records in
// the catalog (strata lineage) are kept whatever this says; these keys only
// add a copy for OpenLineage consumers such as Marquez. With neither
// OpenLineageURL nor OpenLineageFile set, no event is emitted.
type Lineage struct {
	// OpenLineageURL receives each event as an HTTP POST (JSON), e.g.
	// http://marquez:5000/api/v1/lineage. A slow or failing endpoint is
	// logged and counted, never fails or holds up a run.
	OpenLineageURL string `yaml:"openlineage_url"`
	// OpenLineageFile gets each event appended as one JSON line; a relative
	// path is resolved against the config file's folder (LineageFilePath).
	OpenLineageFile string `yaml:"openlineage_file"`
	// Namespace is the OpenLineage job namespace of Strata's jobs
	// (strata.ingest.orders, ...). Default strata.
	Namespace string `yaml:"namespace"`
}

// Audit configures the audit trail (strata.audit, docs/COMPLIANCE.md).
type Audit struct {
	// AnchorEvery is how often, at least, while there is activity, the
	// audit chain's head is written to the archive storage under
	// {prefix}/audit/ (it is also written at every archive run). Default 1h.
	AnchorEvery Duration `yaml:"anchor_every"`
}

// Tables configures the lakehouse tables every dataset's archive is
// published as (internal/tables, docs/LAKEHOUSE.md).
type Tables struct {
	// Delta is "on" (the default) or "off": a Delta Lake log under each
	// archive type's folder of each dataset.
	Delta string `yaml:"delta"`
	// Iceberg is "on" (the default) or "off": an Apache Iceberg table per
	// dataset and archive type in an SQL catalog in the same database.
	Iceberg string `yaml:"iceberg"`
	// CheckpointEvery is how many Delta versions apart checkpoints are
	// written. Default 10.
	CheckpointEvery int `yaml:"checkpoint_every"`
}

// On reports whether the format named ("delta" or "iceberg") is on.
func (t Tables) On(format string) bool {
	switch format {
	case "delta":
		return t.Delta != "off"
	case "iceberg":
		return t.Iceberg != "off"
	}
	return false
}

// Dataset is one data set: its Layer 3 source table, its Layer 2 analytics
// table, the transform between them and how both are archived. At least one
// of Source and Analytics is set.
type Dataset struct {
	// Name identifies the dataset in commands, object paths and metric
	// labels: ^[a-z][a-z0-9_]{0,62}$.
	Name      string         `yaml:"name"`
	Source    *SourceSpec    `yaml:"source,omitempty"`
	Analytics *AnalyticsSpec `yaml:"analytics,omitempty"`
	// Transform is the path of a SQL file (a SELECT over {{source}} yielding
	// analytics rows), relative to Config.Dir; see Config.TransformPath.
	Transform string      `yaml:"transform,omitempty"`
	Archive   ArchiveSpec `yaml:"archive"`
	Schedule  Schedule    `yaml:"schedule"`
	// Subject says how a data subject's rows and records are found, for
	// strata erase; nil: the dataset cannot be erased from.
	Subject *SubjectSpec `yaml:"subject,omitempty"`
	// RetentionBasis names the legal obligation (a statute, free text)
	// that requires keeping the dataset's records; a dataset with one
	// refuses erasure, saying this text.
	RetentionBasis string `yaml:"retention_basis,omitempty"`
}

// SourceSpec is Layer 3: the staging table of raw records as received.
type SourceSpec struct {
	Table    TableName `yaml:"table"`
	IDColumn string    `yaml:"id_column"`
	// TimeColumn is the ingestion time; the source archive is partitioned by
	// its UTC day.
	TimeColumn string `yaml:"time_column"`
	// Retention is how long rows stay in Layer 3; only rows already
	// archived are purged. Default 7d; "immediate" purges right after
	// archiving.
	Retention Duration `yaml:"retention"`
	// ArchiveAfter is how old a row must be before it is archived.
	// Default immediate.
	ArchiveAfter Duration `yaml:"archive_after"`
	// PayloadColumn holds the raw record exactly as received. Its type must
	// be json, text or bytea (jsonb would normalise the record: key order,
	// spacing, escapes, duplicate keys); Strata checks that against the
	// database, not here. Default raw_data.
	PayloadColumn string `yaml:"payload_column"`
	// ProcessedColumn is a boolean column that the transform step sets once
	// a row's analytics rows are in Layer 2; purge keeps unprocessed rows.
	// Default processed.
	ProcessedColumn string `yaml:"processed_column"`
	// MaxRecordBytes is the largest raw record accepted on ingest, in bytes
	// (2 B to 64 MiB). Default 1 MiB.
	MaxRecordBytes int64 `yaml:"max_record_bytes"`
	// A source batch (one source_batch_{id}.parquet) is closed at whichever
	// comes first: BatchMaxRows rows, about BatchMaxBytes bytes of row
	// data, or BatchMaxWait after its oldest row became due for archiving.
	// Defaults 100000 rows, 64 MiB, 1h: a steady trickle makes a few
	// objects a day, not thousands of small ones.
	BatchMaxRows  int      `yaml:"batch_max_rows"`
	BatchMaxBytes int64    `yaml:"batch_max_bytes"`
	BatchMaxWait  Duration `yaml:"batch_max_wait"`
	// OnTransformError says what happens to a well-formed record that the
	// transform cannot map (the database refuses its analytics row: a NULL
	// in a NOT NULL column, a failed cast). reject (default): the ingest is
	// refused (HTTP 422, exit 2) naming the record, and nothing is stored.
	// quarantine: the batch is stored and archived as received, the failing
	// records stay unprocessed in Layer 3 with their error in
	// strata.quarantine until a replay --apply processes them.
	OnTransformError string `yaml:"on_transform_error"`
	// GroupWait is the longest an ingest request waits for others to
	// join its batch (group commit, up to the batch limits); immediate
	// never waits (requests still join while a batch is written). Default
	// 20ms.
	GroupWait Duration `yaml:"group_wait"`
	// IdempotencyWindow is how long an ingest's Idempotency-Key is kept
	// (purge removes it after); a retry within it gets the first answer.
	// Default 24h.
	IdempotencyWindow Duration `yaml:"idempotency_window"`
}

// The values of source.on_transform_error.
const (
	OnTransformErrorReject     = "reject"
	OnTransformErrorQuarantine = "quarantine"
)

// AnalyticsSpec is Layer 2: the table of transformed rows.
type AnalyticsSpec struct {
	Table TableName `yaml:"table"`
	// Key lists the columns that identify a row, for upserts and comparisons.
	Key []string `yaml:"key,flow"`
	// TimeColumn is the row's time; the analytics archive is partitioned by
	// its UTC day and rows age out by it.
	TimeColumn string `yaml:"time_column"`
	// Retention is how long rows stay in Layer 2 before they are archived
	// and removed. Default 90d; must be a positive duration.
	Retention Duration `yaml:"retention"`
}

// ArchiveSpec says how a dataset's archive objects are written.
type ArchiveSpec struct {
	// Format is the object format; only parquet.
	Format string `yaml:"format"`
	// Compression is the Parquet codec: snappy (default), zstd, gzip or none.
	Compression Compression `yaml:"compression"`
	// Retention is how long archive objects are kept. Default 7y.
	Retention Duration `yaml:"retention"`
	// RowGroupRows is the number of rows per Parquet row group. Default 122880.
	RowGroupRows int `yaml:"row_group_rows"`
	// Parallelism is how many goroutines encode the days of an analytics
	// archive run; 0 (default) means the number of cores, at most 4.
	Parallelism int `yaml:"parallelism"`
	// Immutability asks the storage itself to refuse deleting or
	// overwriting each object until its expiry: off (default), governance
	// or compliance (see storage.RetentionMode and docs/CONFIG.md).
	Immutability string `yaml:"immutability"`
}

// RetentionMode is Immutability as a storage.RetentionMode; call it on a
// validated configuration (an unknown word reads as off).
func (a ArchiveSpec) RetentionMode() storage.RetentionMode {
	m, _ := storage.ParseRetentionMode(a.Immutability)
	return m
}

// Compression is a Parquet compression codec.
type Compression string

// The supported codecs.
const (
	CompressionSnappy Compression = "snappy"
	CompressionZstd   Compression = "zstd"
	CompressionGzip   Compression = "gzip"
	CompressionNone   Compression = "none"
)

// Defaults applied to keys left out (or left empty) in strata.yaml.
const (
	DefaultListen           = "127.0.0.1:8080"
	DefaultScheduler        = "on"
	DefaultMaxBodyBytes     = 64 << 20
	DefaultMaxResultRows    = 10_000_000
	DefaultMaxSpan          = 3660 * Day
	DefaultRequestTimeout   = 15 * time.Minute
	DefaultShutdownTimeout  = time.Minute
	DefaultSourceSchedule   = time.Minute
	DefaultAnalyticsSched   = time.Hour
	DefaultPurgeSchedule    = time.Hour
	DefaultLogLevel         = "info"
	DefaultLogFormat        = "auto"
	DefaultFormat           = "parquet"
	DefaultCompression      = CompressionSnappy
	DefaultRowGroupRows     = 122880
	DefaultBatchMaxRows     = 100000
	DefaultBatchMaxBytes    = 64 << 20
	DefaultBatchMaxWait     = time.Hour
	DefaultGroupWait        = 20 * time.Millisecond
	DefaultIdempotencyKeep  = 24 * time.Hour
	DefaultPayloadColumn    = "raw_data"
	DefaultProcessedColumn  = "processed"
	DefaultMaxRecordBytes   = 1 << 20
	DefaultSourceRetention  = 7 * Day
	DefaultAnalyticsRetain  = 90 * Day
	DefaultArchiveRetention = 7 * Year
	DefaultImmutability     = "off"
	DefaultLineageNamespace = "strata"
	DefaultAnchorEvery      = time.Hour
	// DefaultCheckpointEvery is tables.checkpoint_every's default.
	DefaultCheckpointEvery = 10
)

// Default returns the configuration used for every key that strata.yaml and
// the environment leave unset. It has no database, storage or datasets, so
// it does not pass Validate on its own.
func Default() Config {
	return Config{
		Server: Server{
			Listen:          DefaultListen,
			Scheduler:       DefaultScheduler,
			MaxBodyBytes:    DefaultMaxBodyBytes,
			MaxResultRows:   DefaultMaxResultRows,
			MaxSpan:         DurationOf(DefaultMaxSpan),
			RequestTimeout:  DurationOf(DefaultRequestTimeout),
			ShutdownTimeout: DurationOf(DefaultShutdownTimeout),
		},
		Log:     Log{Level: DefaultLogLevel, Format: DefaultLogFormat},
		Lineage: Lineage{Namespace: DefaultLineageNamespace},
		Audit:   Audit{AnchorEvery: DurationOf(DefaultAnchorEvery)},
		Tables:  Tables{Delta: "on", Iceberg: "on", CheckpointEvery: DefaultCheckpointEvery},
	}
}

// applyDefaults fills every unset key with its default.
func (c *Config) applyDefaults() {
	d := Default()
	setDefault(&c.Server.Listen, d.Server.Listen)
	setDefault(&c.Server.Scheduler, d.Server.Scheduler)
	setDefault(&c.Server.MaxBodyBytes, d.Server.MaxBodyBytes)
	setDefault(&c.Server.MaxResultRows, d.Server.MaxResultRows)
	setDefault(&c.Server.MaxSpan, d.Server.MaxSpan)
	setDefault(&c.Server.RequestTimeout, d.Server.RequestTimeout)
	setDefault(&c.Server.ShutdownTimeout, d.Server.ShutdownTimeout)
	setDefault(&c.Log.Level, d.Log.Level)
	setDefault(&c.Log.Format, d.Log.Format)
	setDefault(&c.Lineage.Namespace, d.Lineage.Namespace)
	setDefault(&c.Audit.AnchorEvery, d.Audit.AnchorEvery)
	setDefault(&c.Tables.Delta, d.Tables.Delta)
	setDefault(&c.Tables.Iceberg, d.Tables.Iceberg)
	setDefault(&c.Tables.CheckpointEvery, d.Tables.CheckpointEvery)
	for i := range c.Datasets {
		c.Datasets[i].applyDefaults()
	}
}

func (ds *Dataset) applyDefaults() {
	if s := ds.Source; s != nil {
		setDefault(&s.Retention, DurationOf(DefaultSourceRetention))
		setDefault(&s.ArchiveAfter, Immediate())
		setDefault(&s.PayloadColumn, DefaultPayloadColumn)
		setDefault(&s.ProcessedColumn, DefaultProcessedColumn)
		setDefault(&s.MaxRecordBytes, DefaultMaxRecordBytes)
		setDefault(&s.BatchMaxRows, DefaultBatchMaxRows)
		setDefault(&s.BatchMaxBytes, DefaultBatchMaxBytes)
		setDefault(&s.BatchMaxWait, DurationOf(DefaultBatchMaxWait))
		setDefault(&s.GroupWait, DurationOf(DefaultGroupWait))
		setDefault(&s.IdempotencyWindow, DurationOf(DefaultIdempotencyKeep))
		setDefault(&s.OnTransformError, OnTransformErrorReject)
	}
	if a := ds.Analytics; a != nil {
		setDefault(&a.Retention, DurationOf(DefaultAnalyticsRetain))
	}
	setDefault(&ds.Archive.Format, DefaultFormat)
	setDefault(&ds.Archive.Compression, DefaultCompression)
	setDefault(&ds.Archive.Retention, DurationOf(DefaultArchiveRetention))
	setDefault(&ds.Archive.RowGroupRows, DefaultRowGroupRows)
	setDefault(&ds.Archive.Immutability, DefaultImmutability)
	setDefault(&ds.Schedule.SourceArchive, DurationOf(DefaultSourceSchedule))
	setDefault(&ds.Schedule.AnalyticsArchive, DurationOf(DefaultAnalyticsSched))
	setDefault(&ds.Schedule.Purge, DurationOf(DefaultPurgeSchedule))
}

func setDefault[T comparable](p *T, def T) {
	var zero T
	if *p == zero {
		*p = def
	}
}

// Dataset returns the dataset called name.
func (c *Config) Dataset(name string) (*Dataset, bool) {
	for i := range c.Datasets {
		if c.Datasets[i].Name == name {
			return &c.Datasets[i], true
		}
	}
	return nil, false
}

// TransformPath returns the file of ds's transform, resolved against c.Dir,
// or "" when ds has none.
func (c *Config) TransformPath(ds *Dataset) string {
	if ds.Transform == "" || filepath.IsAbs(ds.Transform) {
		return ds.Transform
	}
	return filepath.Join(c.Dir, ds.Transform)
}

// LineageFilePath returns lineage.openlineage_file resolved against c.Dir,
// or "" when it is not set.
func (c *Config) LineageFilePath() string {
	f := c.Lineage.OpenLineageFile
	if f == "" || filepath.IsAbs(f) {
		return f
	}
	return filepath.Join(c.Dir, f)
}
