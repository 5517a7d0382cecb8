// Package openlineage writes OpenLineage run events (https://openlineage.io,
// spec 2-0-2) for Strata's runs, so that Marquez or any OpenLineage consumer
// shows which datasets each ingest, archive, replay and restore read and
// wrote. It has the event types and the facets Strata uses (event.go), an
// Emitter that appends events to a JSON-lines file and POSTs them to an HTTP
// endpoint without ever failing or holding up a run (emitter.go), the
// deterministic run id (uuid.go) and a check of the spec's required fields
// (validate.go).
//
// The catalog's strata.lineage records stay the evidence of record; events
// are a copy for lineage tools, and a lost event loses nothing there.
package openlineage

import (
	"time"
)

// SchemaURL is the spec version of every event Strata writes.
const SchemaURL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"

// DefaultProducer identifies Strata as the producer of events and facets.
const DefaultProducer = "https://github.com/stratahq/strata"

// EventType is a run's state transition.
type EventType string

// The transitions Strata emits: one START and then one COMPLETE or FAIL per run.
const (
	Start    EventType = "START"
	Complete EventType = "COMPLETE"
	Fail     EventType = "FAIL"
)

// RunEvent is one OpenLineage run event.
type RunEvent struct {
	EventType EventType       `json:"eventType"`
	EventTime time.Time       `json:"eventTime"`
	Run       Run             `json:"run"`
	Job       Job             `json:"job"`
	Inputs    []InputDataset  `json:"inputs"`
	Outputs   []OutputDataset `json:"outputs"`
	Producer  string          `json:"producer"`
	SchemaURL string          `json:"schemaURL"`
}

// Run identifies the run; RunID is a UUID (see RunID).
type Run struct {
	RunID  string         `json:"runId"`
	Facets map[string]any `json:"facets,omitempty"`
}

// Job identifies the recurring job a run belongs to.
type Job struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    map[string]any `json:"facets,omitempty"`
}

// Dataset is an input or output: Namespace is the data source
// (postgres://host:port, s3://bucket, ...), Name the dataset within it.
type Dataset struct {
	Namespace string         `json:"namespace"`
	Name      string         `json:"name"`
	Facets    map[string]any `json:"facets,omitempty"`
}

// InputDataset is a dataset a run read.
type InputDataset struct {
	Dataset
	InputFacets map[string]any `json:"inputFacets,omitempty"`
}

// OutputDataset is a dataset a run wrote.
type OutputDataset struct {
	Dataset
	OutputFacets map[string]any `json:"outputFacets,omitempty"`
}

// Facet schema URLs of the standard facets Strata writes.
const (
	schemaFacetURL       = "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json#/$defs/SchemaDatasetFacet"
	dataSourceFacetURL   = "https://openlineage.io/spec/facets/1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet"
	outputStatsFacetURL  = "https://openlineage.io/spec/facets/1-0-2/OutputStatisticsOutputDatasetFacet.json#/$defs/OutputStatisticsOutputDatasetFacet"
	errorMessageFacetURL = "https://openlineage.io/spec/facets/1-0-1/ErrorMessageRunFacet.json#/$defs/ErrorMessageRunFacet"
	sqlFacetURL          = "https://openlineage.io/spec/facets/1-0-1/SQLJobFacet.json#/$defs/SQLJobFacet"
	jobTypeFacetURL      = "https://openlineage.io/spec/facets/2-0-2/JobTypeJobFacet.json#/$defs/JobTypeJobFacet"
	processingFacetURL   = "https://openlineage.io/spec/facets/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet"
	// StrataFacetURL is the schema of the custom "strata" run facet, kept
	// in this repository beside the code that writes it.
	StrataFacetURL = "https://github.com/stratahq/strata/blob/main/internal/openlineage/StrataRunFacet.json#/$defs/StrataRunFacet"
)

// BaseFacet is what every facet carries: who wrote it and its schema.
type BaseFacet struct {
	Producer  string `json:"_producer"`
	SchemaURL string `json:"_schemaURL"`
}

// SchemaField is one column of a dataset.
type SchemaField struct {
	Name string `json:"name"`
	Type string `json:"type,omitempty"`
}

// SchemaFacet ("schema", dataset) lists a dataset's columns.
type SchemaFacet struct {
	BaseFacet
	Fields []SchemaField `json:"fields"`
}

// DataSourceFacet ("dataSource", dataset) names the data source.
type DataSourceFacet struct {
	BaseFacet
	Name string `json:"name"`
	URI  string `json:"uri"`
}

// OutputStatisticsFacet ("outputStatistics", output dataset) counts what a
// run wrote.
type OutputStatisticsFacet struct {
	BaseFacet
	RowCount  int64 `json:"rowCount"`
	Size      int64 `json:"size,omitempty"`
	FileCount int64 `json:"fileCount,omitempty"`
}

// ErrorMessageFacet ("errorMessage", run) says why a run failed.
type ErrorMessageFacet struct {
	BaseFacet
	Message             string `json:"message"`
	ProgrammingLanguage string `json:"programmingLanguage"`
}

// SQLFacet ("sql", job) holds the job's SQL: a dataset's transform.
type SQLFacet struct {
	BaseFacet
	Query string `json:"query"`
}

// JobTypeFacet ("jobType", job) classifies the job.
type JobTypeFacet struct {
	BaseFacet
	ProcessingType string `json:"processingType"`
	Integration    string `json:"integration"`
	JobType        string `json:"jobType,omitempty"`
}

// ProcessingEngineFacet ("processing_engine", run) names the program that
// ran the job.
type ProcessingEngineFacet struct {
	BaseFacet
	Version string `json:"version"`
	Name    string `json:"name"`
}

// StrataRunFacet ("strata", run) is what Strata's catalog knows of the run:
// its id in strata.runs, counts, the objects written with their checksums,
// the Layer 3 ids and the transform version. Its schema is
// StrataRunFacet.json in this folder.
type StrataRunFacet struct {
	BaseFacet
	RunID   int64  `json:"runId"` // strata.runs id
	Kind    string `json:"kind"`  // ingest, source_archive, analytics_archive, replay, restore
	Dataset string `json:"dataset"`
	Status  string `json:"status,omitempty"` // ok or failed; empty at START
	// Period bounds the rows a replay or restore covered.
	PeriodFrom *time.Time `json:"periodFrom,omitempty"`
	PeriodTo   *time.Time `json:"periodTo,omitempty"`
	Rows       int64      `json:"rows"`
	Objects    int        `json:"objects"`
	Bytes      int64      `json:"bytes"`
	// Layer3Rows, Layer3FirstID and Layer3LastID describe the raw records
	// the run's batches took in.
	Layer3Rows    int64  `json:"layer3Rows,omitempty"`
	Layer3FirstID *int64 `json:"layer3FirstId,omitempty"`
	Layer3LastID  *int64 `json:"layer3LastId,omitempty"`
	// Layer2RowsWritten counts rows the transform inserted or updated.
	Layer2RowsWritten int64 `json:"layer2RowsWritten,omitempty"`
	// TransformVersions are the SHA-256 of the transform texts used; their
	// texts are in strata.transforms (and the "sql" job facet).
	TransformVersions []string       `json:"transformVersions,omitempty"`
	LineageRecords    []int64        `json:"lineageRecords,omitempty"` // strata.lineage ids
	ObjectList        []StrataObject `json:"objectList,omitempty"`
	// ObjectsNotListed counts objects left out of ObjectList to keep the
	// event small; strata lineage lists them all.
	ObjectsNotListed int `json:"objectsNotListed,omitempty"`
}

// StrataObject is one archive object a run committed.
type StrataObject struct {
	Key    string `json:"key"`
	Type   string `json:"type"` // source or analytics
	Day    string `json:"day"`
	Rows   int64  `json:"rows"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

// Facets builds facets stamped with one producer.
type Facets struct {
	Producer string
}

func (f Facets) base(schemaURL string) BaseFacet {
	p := f.Producer
	if p == "" {
		p = DefaultProducer
	}
	return BaseFacet{Producer: p, SchemaURL: schemaURL}
}

// Schema returns a "schema" dataset facet.
func (f Facets) Schema(fields []SchemaField) *SchemaFacet {
	return &SchemaFacet{BaseFacet: f.base(schemaFacetURL), Fields: fields}
}

// DataSource returns a "dataSource" dataset facet.
func (f Facets) DataSource(name, uri string) *DataSourceFacet {
	return &DataSourceFacet{BaseFacet: f.base(dataSourceFacetURL), Name: name, URI: uri}
}

// OutputStatistics returns an "outputStatistics" output dataset facet.
func (f Facets) OutputStatistics(rows, bytes, files int64) *OutputStatisticsFacet {
	return &OutputStatisticsFacet{BaseFacet: f.base(outputStatsFacetURL), RowCount: rows, Size: bytes, FileCount: files}
}

// ErrorMessage returns an "errorMessage" run facet.
func (f Facets) ErrorMessage(msg string) *ErrorMessageFacet {
	return &ErrorMessageFacet{BaseFacet: f.base(errorMessageFacetURL), Message: msg, ProgrammingLanguage: "GO"}
}

// SQL returns a "sql" job facet.
func (f Facets) SQL(query string) *SQLFacet {
	return &SQLFacet{BaseFacet: f.base(sqlFacetURL), Query: query}
}

// JobType returns a "jobType" job facet for a Strata batch job.
func (f Facets) JobType(jobType string) *JobTypeFacet {
	return &JobTypeFacet{BaseFacet: f.base(jobTypeFacetURL), ProcessingType: "BATCH", Integration: "STRATA", JobType: jobType}
}

// ProcessingEngine returns a "processing_engine" run facet.
func (f Facets) ProcessingEngine(version string) *ProcessingEngineFacet {
	return &ProcessingEngineFacet{BaseFacet: f.base(processingFacetURL), Version: version, Name: "strata"}
}

// Strata returns the custom "strata" run facet with its base filled in.
func (f Facets) Strata(r StrataRunFacet) *StrataRunFacet {
	r.BaseFacet = f.base(StrataFacetURL)
	return &r
}
