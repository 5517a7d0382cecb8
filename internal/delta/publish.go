package delta

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/tables"
)

// Options configure a Table writer.
type Options struct {
	// Prefix is storage.prefix: tables live at {Prefix}/{type}/{dataset}.
	Prefix storage.Key
	// CheckpointEvery is how many versions apart checkpoints are written
	// (10 when 0, as Delta's own writer does).
	CheckpointEvery int64
	// Retention, when set, is the write-once retention a log entry or
	// checkpoint written at now asks the storage for (archive.immutability).
	// _last_checkpoint never has one: it is replaced at every checkpoint.
	Retention func(now time.Time) storage.Retention
	// Now is the clock for commit timestamps (time.Now when nil).
	Now func() time.Time
}

// Format publishes Delta tables; it implements tables.Format.
type Format struct {
	b    storage.Backend
	opts Options
}

// New returns the Delta format writing through b.
func New(b storage.Backend, opts Options) *Format {
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = 10
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Format{b: b, opts: opts}
}

// Name is "delta".
func (f *Format) Name() string { return "delta" }

// maxAttempts bounds the retries after losing a race for a version.
const maxAttempts = 8

// Publish makes the Delta table of t list exactly t.Objects with t.Columns
// as its schema, in one commit, or does nothing when it already does; then
// writes a checkpoint when the newest is CheckpointEvery versions behind.
// A version written by somebody else first makes it read the log again and
// recompute the commit. An incremental t is committed without reading the
// log (publishChanges). The state returned is the log's newest version,
// its newest checkpoint's and a hash of the schema, "" without a table.
func (f *Format) Publish(ctx context.Context, t tables.Table) (string, error) {
	root, err := storage.ParseKey(t.Root)
	if err != nil {
		return "", fmt.Errorf("delta %s/%s: root: %w", t.Type, t.Dataset, err)
	}
	schema := ""
	if len(t.Columns) > 0 {
		if schema, err = schemaString(t.Columns); err != nil {
			return "", fmt.Errorf("delta %s/%s: %w", t.Type, t.Dataset, err)
		}
	}
	if t.Incremental {
		st, err := f.publishChanges(ctx, root, t, schema)
		if err != nil {
			return "", fmt.Errorf("delta %s/%s: %w", t.Type, t.Dataset, err)
		}
		return st, nil
	}
	for attempt := 1; ; attempt++ {
		s, err := readSnapshot(ctx, f.b, root)
		if err != nil {
			return "", fmt.Errorf("delta %s/%s: %w", t.Type, t.Dataset, err)
		}
		if schema == "" { // no object: the table, if any, keeps its schema
			if s.Meta == nil {
				return "", nil // nothing archived yet, no table to write
			}
			schema = s.Meta.SchemaString
		}
		acts, err := f.diff(s, t, schema)
		if err != nil {
			return "", fmt.Errorf("delta %s/%s: %w", t.Type, t.Dataset, err)
		}
		if len(acts) > 0 {
			err = f.commit(ctx, root, s.Version+1, acts)
			if errors.Is(err, errConflict) && attempt < maxAttempts {
				continue
			}
			if err != nil {
				return "", fmt.Errorf("delta %s/%s: %w", t.Type, t.Dataset, err)
			}
			s.apply(acts)
			s.Version++
		}
		if s.Version >= 0 && s.Version-max(s.Checkpoint, 0) >= f.opts.CheckpointEvery {
			if err := f.checkpoint(ctx, root, s); err != nil {
				return "", fmt.Errorf("delta %s/%s: %w", t.Type, t.Dataset, err)
			}
			s.Checkpoint = s.Version
		}
		if s.Version < 0 {
			return "", nil
		}
		return state{Version: s.Version, Checkpoint: s.Checkpoint, Schema: schemaHash(s.Meta.SchemaString)}.String(), nil
	}
}

// state is what a publish records of the table it left: the log's newest
// version, the newest checkpoint's (-1: none) and a hash of the schema.
type state struct {
	Version, Checkpoint int64
	Schema              string
}

func (s state) String() string { return fmt.Sprintf("%d %d %s", s.Version, s.Checkpoint, s.Schema) }

func parseState(b string) (state, error) {
	var s state
	if _, err := fmt.Sscanf(b, "%d %d %s", &s.Version, &s.Checkpoint, &s.Schema); err != nil || s.Version < 0 {
		return s, fmt.Errorf("recorded state %q is not a Delta state: %w", b, tables.ErrStale)
	}
	return s, nil
}

func schemaHash(schema string) string {
	h := sha256.Sum256([]byte(schema))
	return hex.EncodeToString(h[:12])
}

// publishChanges commits t's changes (an incremental Table) as the version
// after t.Base's, create-only, without reading the log: the table's own
// state is t.Base's when its version exists and the next does not (the
// create-only commit proves the latter). Anything else, or a schema that
// changed (a metaData action wants the log's), is tables.ErrStale, and the
// Publisher publishes the whole table. A checkpoint, when due, reads the
// log from the previous one.
func (f *Format) publishChanges(ctx context.Context, root storage.Key, t tables.Table, schema string) (string, error) {
	base, err := parseState(t.Base)
	if err != nil {
		return "", err
	}
	if schema != "" && schemaHash(schema) != base.Schema {
		return "", fmt.Errorf("the schema changed since version %d: %w", base.Version, tables.ErrStale)
	}
	if exists, err := f.logExists(ctx, root, base.Version); err != nil {
		return "", err
	} else if !exists {
		return "", fmt.Errorf("version %d, the last published, is not in the log: %w", base.Version, tables.ErrStale)
	}
	acts, err := f.changes(t)
	if err != nil {
		return "", err
	}
	if len(acts) == 0 {
		if exists, err := f.logExists(ctx, root, base.Version+1); err != nil {
			return "", err
		} else if exists {
			return "", fmt.Errorf("version %d follows the last published: %w", base.Version+1, tables.ErrStale)
		}
		return t.Base, nil
	}
	err = f.commit(ctx, root, base.Version+1, acts)
	if errors.Is(err, errConflict) {
		return "", fmt.Errorf("version %d was already written: %w", base.Version+1, tables.ErrStale)
	}
	if err != nil {
		return "", err
	}
	next := state{Version: base.Version + 1, Checkpoint: base.Checkpoint, Schema: base.Schema}
	if next.Version-max(next.Checkpoint, 0) >= f.opts.CheckpointEvery {
		s, err := readSnapshot(ctx, f.b, root)
		if err != nil {
			return "", err
		}
		if s.Version == next.Version {
			if err := f.checkpoint(ctx, root, s); err != nil {
				return "", err
			}
			next.Checkpoint = s.Version
		}
	}
	return next.String(), nil
}

// logExists reports whether version v of the log is there.
func (f *Format) logExists(ctx context.Context, root storage.Key, v int64) (bool, error) {
	key, err := root.Join(logDir, versionName(v)+".json")
	if err != nil {
		return false, err
	}
	_, err = f.b.Stat(ctx, key)
	switch {
	case errors.Is(err, storage.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("stat %s: %w", key, err)
	}
	return true, nil
}

// changes is the commit of an incremental Table: its removes, then its
// adds; nil when it has neither.
func (f *Format) changes(t tables.Table) ([]action, error) {
	if len(t.Objects) == 0 && len(t.Removed) == 0 {
		return nil, nil
	}
	now := f.opts.Now().UnixMilli()
	arrays := arrayColumns(t.Columns)
	var adds, removes []action
	for _, o := range t.Objects {
		a, err := addFor(o, arrays)
		if err != nil {
			return nil, err
		}
		adds = append(adds, a)
	}
	for _, o := range t.Removed {
		removes = append(removes, action{Remove: &removeAction{Path: o.Path, DeletionTimestamp: now, DataChange: true,
			ExtendedFileMetadata: true, PartitionValues: partitionValues(o), Size: o.Bytes}})
	}
	sort.Slice(removes, func(i, j int) bool { return removes[i].Remove.Path < removes[j].Remove.Path })
	sort.Slice(adds, func(i, j int) bool { return adds[i].Add.Path < adds[j].Add.Path })
	return append([]action{commitInfoFor(now, t, false, len(adds), len(removes))}, append(removes, adds...)...), nil
}

func partitionValues(o tables.Object) map[string]string {
	return map[string]string{PartitionColumn: o.Day.UTC().Format("2006-01-02")}
}

// addFor is o's add action.
func addFor(o tables.Object, arrays map[string]bool) (action, error) {
	stats, err := statsJSON(o, arrays)
	if err != nil {
		return action{}, fmt.Errorf("stats of %s: %w", o.Key, err)
	}
	return action{Add: &addAction{Path: o.Path, PartitionValues: partitionValues(o),
		Size: o.Bytes, ModificationTime: o.Committed.UnixMilli(), DataChange: true, Stats: stats}}, nil
}

// commitInfoFor is the commitInfo of a commit of t with adds and removes.
func commitInfoFor(now int64, t tables.Table, create bool, adds, removes int) action {
	op := "WRITE"
	switch {
	case create:
		op = "CREATE TABLE"
	case removes > 0 && adds > 0:
		op = "MERGE"
	case removes > 0:
		op = "DELETE"
	}
	return action{CommitInfo: &commitInfo{Timestamp: now, Operation: op, EngineInfo: "strata",
		OperationParameters: map[string]string{"added": fmt.Sprint(adds), "removed": fmt.Sprint(removes)},
		IsBlindAppend:       removes == 0, StrataVersion: t.Version}}
}

// diff is the commit that takes the table from s to t: nil when none is
// needed. A new table starts with protocol and metaData; a schema change
// is a metaData action with the same table id.
func (f *Format) diff(s *snapshot, t tables.Table, schema string) ([]action, error) {
	now := f.opts.Now().UnixMilli()
	var acts []action
	if s.Version < 0 {
		acts = append(acts, action{Protocol: &protocolAction{MinReaderVersion: 1, MinWriterVersion: 2}})
	}
	if s.Meta == nil || s.Meta.SchemaString != schema || !slices.Equal(s.Meta.PartitionColumns, []string{PartitionColumn}) {
		m := &metaDataAction{ID: tableID(t.Root), Name: t.Dataset,
			Description:  fmt.Sprintf("Strata %s archive of dataset %s (published from the catalog; read-only)", t.Type, t.Dataset),
			Format:       formatSpec{Provider: "parquet", Options: map[string]string{}},
			SchemaString: schema, PartitionColumns: []string{PartitionColumn}, CreatedTime: now,
			Configuration: map[string]string{"delta.appendOnly": "false"}}
		if s.Meta != nil {
			m.ID, m.CreatedTime = s.Meta.ID, s.Meta.CreatedTime
		}
		acts = append(acts, action{MetaData: m})
	}
	arrays := arrayColumns(t.Columns)
	want := make(map[string]bool, len(t.Objects))
	var adds, removes []action
	for _, o := range t.Objects {
		want[o.Path] = true
		if _, ok := s.Files[o.Path]; ok {
			continue
		}
		a, err := addFor(o, arrays)
		if err != nil {
			return nil, err
		}
		adds = append(adds, a)
	}
	for p, a := range s.Files {
		if !want[p] {
			removes = append(removes, action{Remove: &removeAction{Path: a.Path, DeletionTimestamp: now, DataChange: true,
				ExtendedFileMetadata: true, PartitionValues: a.PartitionValues, Size: a.Size}})
		}
	}
	if len(acts) == 0 && len(adds) == 0 && len(removes) == 0 {
		return nil, nil
	}
	sort.Slice(removes, func(i, j int) bool { return removes[i].Remove.Path < removes[j].Remove.Path })
	acts = append(acts, removes...)
	acts = append(acts, adds...)
	return append([]action{commitInfoFor(now, t, s.Version < 0, len(adds), len(removes))}, acts...), nil
}

func arrayColumns(cols []parquetio.Column) map[string]bool {
	out := map[string]bool{}
	s, err := parquetio.NewSchema(cols)
	if err != nil {
		return out
	}
	for i, c := range cols {
		if _, array := s.Kind(i); array {
			out[c.Name] = true
		}
	}
	return out
}

// tableID is the table's GUID, derived from its root so that a rebuilt
// log keeps the id engines may have cached.
func tableID(root string) string {
	h := sha256.Sum256([]byte("strata delta table " + root))
	h[6] = h[6]&0x0f | 0x50 // version 5-style, name based
	h[8] = h[8]&0x3f | 0x80
	x := hex.EncodeToString(h[:16])
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

// commit writes version v, create-only.
func (f *Format) commit(ctx context.Context, root storage.Key, v int64, acts []action) error {
	body, err := encodeCommit(acts)
	if err != nil {
		return err
	}
	key, err := root.Join(logDir, versionName(v)+".json")
	if err != nil {
		return err
	}
	err = f.put(ctx, key, body, true)
	if errors.Is(err, storage.ErrExist) {
		return errConflict
	}
	return err
}

// put writes body under key create-only, with the configured retention
// when retain is set.
func (f *Format) put(ctx context.Context, key storage.Key, body []byte, retain bool) error {
	sum := sha256.Sum256(body)
	opts := storage.PutOptions{Size: int64(len(body)), SHA256: hex.EncodeToString(sum[:])}
	if retain && f.opts.Retention != nil {
		opts.Retention = f.opts.Retention(f.opts.Now())
	}
	if _, err := f.b.Put(ctx, key, bytes.NewReader(body), opts); err != nil {
		return fmt.Errorf("write %s: %w", key, err)
	}
	return nil
}

// checkpoint writes the classic checkpoint of s.Version and points
// _last_checkpoint at it. A checkpoint already there (another writer's, of
// the same version: the same state) is kept. _last_checkpoint is replaced
// by delete and create (kept as it is where the store refuses the delete);
// a reader that finds none, or an older one, lists the log and still finds
// the newest checkpoint.
func (f *Format) checkpoint(ctx context.Context, root storage.Key, s *snapshot) error {
	rows := s.checkpointRows()
	body, err := encodeCheckpoint(rows)
	if err != nil {
		return fmt.Errorf("checkpoint %d: %w", s.Version, err)
	}
	key, err := root.Join(logDir, versionName(s.Version)+".checkpoint.parquet")
	if err != nil {
		return err
	}
	if err := f.put(ctx, key, body, true); err != nil && !errors.Is(err, storage.ErrExist) {
		return err
	}
	last, err := root.Join(logDir, "_last_checkpoint")
	if err != nil {
		return err
	}
	switch err := f.b.Delete(ctx, last); {
	case errors.Is(err, storage.ErrImmutable):
		// A write-once store keeps the old pointer: readers list the log
		// from it and still find this checkpoint.
		return nil
	case err != nil && !errors.Is(err, storage.ErrNotExist):
		return fmt.Errorf("replace %s: %w", last, err)
	}
	if err := f.put(ctx, last, marshalLast(s.Version, int64(len(rows))), false); err != nil && !errors.Is(err, storage.ErrExist) {
		return err
	}
	return nil
}

// Listed returns the storage keys the Delta table of dataset and typ lists
// now, sorted (nil, nil when there is no table).
func (f *Format) Listed(ctx context.Context, dataset, typ string) ([]string, error) {
	root, err := f.opts.Prefix.Join(typ, dataset)
	if err != nil {
		return nil, fmt.Errorf("delta %s/%s: %w", typ, dataset, err)
	}
	s, err := readSnapshot(ctx, f.b, root)
	if err != nil {
		return nil, fmt.Errorf("delta %s/%s: %w", typ, dataset, err)
	}
	if s.Version < 0 {
		return nil, nil
	}
	keys := make([]string, 0, len(s.Files))
	for p := range s.Files {
		keys = append(keys, root.String()+"/"+p)
	}
	sort.Strings(keys)
	return keys, nil
}
