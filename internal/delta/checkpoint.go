package delta

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/parquet-go/parquet-go"

	"github.com/stratahq/strata/internal/storage"
)

// ckptRow is one row of a classic (V1 spec) checkpoint: one action, the
// other columns null. Checkpoints keep no commitInfo.
type ckptRow struct {
	Txn      *ckptTxn        `parquet:"txn,optional"`
	Add      *addAction      `parquet:"add,optional"`
	Remove   *ckptRemove     `parquet:"remove,optional"`
	MetaData *metaDataAction `parquet:"metaData,optional"`
	Protocol *protocolAction `parquet:"protocol,optional"`
}

type ckptTxn struct {
	AppID   string `parquet:"appId"`
	Version int64  `parquet:"version"`
}

// ckptRemove is a tombstone as a checkpoint keeps it (no stats, no tags).
type ckptRemove struct {
	Path                 string            `parquet:"path"`
	DeletionTimestamp    int64             `parquet:"deletionTimestamp"`
	DataChange           bool              `parquet:"dataChange"`
	ExtendedFileMetadata bool              `parquet:"extendedFileMetadata"`
	PartitionValues      map[string]string `parquet:"partitionValues"`
	Size                 int64             `parquet:"size"`
}

// lastCheckpoint is _delta_log/_last_checkpoint.
type lastCheckpoint struct {
	Version int64 `json:"version"`
	Size    int64 `json:"size"`
}

// checkpointRows is the snapshot as checkpoint rows, in a fixed order
// (protocol, metaData, adds and tombstones by path), so two writers of the
// same version write the same bytes.
func (s *snapshot) checkpointRows() []ckptRow {
	rows := []ckptRow{{Protocol: s.Protocol}, {MetaData: s.Meta}}
	paths := make([]string, 0, len(s.Files))
	for p := range s.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		rows = append(rows, ckptRow{Add: s.Files[p]})
	}
	paths = paths[:0]
	for p := range s.Removed {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		r := s.Removed[p]
		rows = append(rows, ckptRow{Remove: &ckptRemove{Path: r.Path, DeletionTimestamp: r.DeletionTimestamp,
			DataChange: r.DataChange, ExtendedFileMetadata: r.ExtendedFileMetadata,
			PartitionValues: r.PartitionValues, Size: r.Size}})
	}
	return rows
}

// encodeCheckpoint writes rows as a Parquet file (snappy, as Delta's own
// checkpoints are).
func encodeCheckpoint(rows []ckptRow) ([]byte, error) {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[ckptRow](&buf, parquet.Compression(&parquet.Snappy))
	if _, err := w.Write(rows); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readCheckpoint loads a checkpoint into s (empty).
func readCheckpoint(ctx context.Context, b storage.Backend, key storage.Key, s *snapshot) error {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	data, err := io.ReadAll(io.LimitReader(rc, 1<<30))
	rc.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", key, err)
	}
	r := parquet.NewGenericReader[ckptRow](bytes.NewReader(data))
	defer r.Close()
	buf := make([]ckptRow, 256)
	for {
		n, err := r.Read(buf)
		for _, row := range buf[:n] {
			switch {
			case row.Protocol != nil:
				s.Protocol = row.Protocol
			case row.MetaData != nil:
				s.Meta = row.MetaData
			case row.Add != nil:
				s.Files[unescapePath(row.Add.Path)] = row.Add
			case row.Remove != nil:
				rm := row.Remove
				s.Removed[unescapePath(rm.Path)] = &removeAction{Path: rm.Path, DeletionTimestamp: rm.DeletionTimestamp,
					DataChange: rm.DataChange, ExtendedFileMetadata: rm.ExtendedFileMetadata,
					PartitionValues: rm.PartitionValues, Size: rm.Size}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", key, err)
		}
	}
	if s.Protocol == nil || s.Meta == nil {
		return fmt.Errorf("read %s: no protocol or metaData: not a checkpoint", key)
	}
	return nil
}

// marshalLast renders _last_checkpoint.
func marshalLast(v, size int64) []byte {
	b, _ := json.Marshal(lastCheckpoint{Version: v, Size: size})
	return b
}
