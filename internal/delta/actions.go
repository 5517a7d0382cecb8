package delta

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
)

// The actions Strata writes, with the fields the protocol requires of them.
// Field names are the protocol's.

type protocolAction struct {
	MinReaderVersion int `json:"minReaderVersion" parquet:"minReaderVersion"`
	MinWriterVersion int `json:"minWriterVersion" parquet:"minWriterVersion"`
}

type formatSpec struct {
	Provider string            `json:"provider" parquet:"provider"`
	Options  map[string]string `json:"options" parquet:"options"`
}

type metaDataAction struct {
	ID               string            `json:"id" parquet:"id"`
	Name             string            `json:"name,omitempty" parquet:"name,optional"`
	Description      string            `json:"description,omitempty" parquet:"description,optional"`
	Format           formatSpec        `json:"format" parquet:"format"`
	SchemaString     string            `json:"schemaString" parquet:"schemaString"`
	PartitionColumns []string          `json:"partitionColumns" parquet:"partitionColumns,list"`
	CreatedTime      int64             `json:"createdTime,omitempty" parquet:"createdTime,optional"`
	Configuration    map[string]string `json:"configuration" parquet:"configuration"`
}

type addAction struct {
	Path             string            `json:"path" parquet:"path"`
	PartitionValues  map[string]string `json:"partitionValues" parquet:"partitionValues"`
	Size             int64             `json:"size" parquet:"size"`
	ModificationTime int64             `json:"modificationTime" parquet:"modificationTime"`
	DataChange       bool              `json:"dataChange" parquet:"dataChange"`
	Stats            string            `json:"stats,omitempty" parquet:"stats,optional"`
}

type removeAction struct {
	Path                 string            `json:"path" parquet:"path"`
	DeletionTimestamp    int64             `json:"deletionTimestamp" parquet:"deletionTimestamp"`
	DataChange           bool              `json:"dataChange" parquet:"dataChange"`
	ExtendedFileMetadata bool              `json:"extendedFileMetadata" parquet:"extendedFileMetadata"`
	PartitionValues      map[string]string `json:"partitionValues,omitempty" parquet:"partitionValues"`
	Size                 int64             `json:"size" parquet:"size"`
}

// commitInfo is provenance only: readers ignore it, checkpoints drop it.
type commitInfo struct {
	Timestamp           int64             `json:"timestamp"`
	Operation           string            `json:"operation"`
	OperationParameters map[string]string `json:"operationParameters"`
	EngineInfo          string            `json:"engineInfo"`
	IsBlindAppend       bool              `json:"isBlindAppend"`
	// StrataVersion is the catalog's change number the commit reflects
	// (tables.Table.Version).
	StrataVersion int64 `json:"strataVersion"`
}

// action is one line of a commit file: exactly one field set.
type action struct {
	Protocol   *protocolAction `json:"protocol,omitempty"`
	MetaData   *metaDataAction `json:"metaData,omitempty"`
	Add        *addAction      `json:"add,omitempty"`
	Remove     *removeAction   `json:"remove,omitempty"`
	CommitInfo *commitInfo     `json:"commitInfo,omitempty"`
	// Txn and other actions Strata never writes are kept as raw JSON so a
	// reader does not fail on them.
	Txn json.RawMessage `json:"txn,omitempty"`
}

// encodeCommit renders actions as newline-delimited JSON.
func encodeCommit(actions []action) ([]byte, error) {
	var buf bytes.Buffer
	for _, a := range actions {
		b, err := json.Marshal(a)
		if err != nil {
			return nil, err
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes(), nil
}

// decodeCommit parses a commit file.
func decodeCommit(r io.Reader) ([]action, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	var out []action
	for line := 1; sc.Scan(); line++ {
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var a action
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, a)
	}
	return out, sc.Err()
}
