package lineage

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
)

// ObjectReader reads committed analytics objects for the search of keys
// whose rows moved to another day (archive.Archiver).
type ObjectReader interface {
	// HoldsKeys reports whether object o holds a row with one of the keys,
	// reading its footer, bloom filters and key columns only, and whether
	// it read the key columns (the footer and bloom filters could not tell).
	HoldsKeys(ctx context.Context, o catalog.Object, ks *parquetio.KeySet) (hold, keyColumns bool, err error)
	// CopyObject reads o whole, checked, into table on conn; every column
	// of o must be in cols.
	CopyObject(ctx context.Context, conn *pgx.Conn, o catalog.Object, table, display string, cols map[string]bool) (int64, error)
}

// SearchCounts says how the search of the whole analytics archive went:
// Keys is how many of the period's keys were neither live nor on their
// days, and so searched for; of the Objects outside the days read whole
// (listed only when Keys > 0), SkippedRange were ruled out by the
// catalog's key ranges, Probed were looked at (statistics, bloom filters,
// then key columns), KeyColumns of them had their key columns read (their
// statistics and bloom filters could not rule the keys out) and Read held
// a key and were read whole.
type SearchCounts struct {
	Keys         int64 `json:"keys"`
	Objects      int   `json:"objects"`
	SkippedRange int   `json:"skipped_by_key_range"`
	Probed       int   `json:"probed"`
	KeyColumns   int   `json:"key_columns_read"`
	Read         int   `json:"read"`
}

// searchArchive looks for the keys of strata_keys found neither live nor
// on the days already read (read) in every other committed, current
// analytics object of the dataset, so that a row whose time column moved
// to another day is found wherever it went. It stays cheap: when every key
// was found, nothing is searched; else objects whose catalog key range
// holds no such key are skipped in one query, the others are probed
// (statistics, bloom filters, key columns), and only those that hold a
// key are read whole.
func (s *session) searchArchive(ctx context.Context, read map[time.Time]bool) error {
	if s.c.Objects == nil {
		return nil
	}
	n, err := s.unfoundKeys(ctx)
	if err != nil || n == 0 {
		return err
	}
	all, err := catalog.ListObjects(ctx, s.conn, catalog.Filter{Dataset: s.spec.Dataset, Type: catalog.TypeAnalytics})
	if err != nil {
		return err
	}
	var objs []catalog.Object
	for _, o := range all {
		if !read[o.Day] {
			objs = append(objs, o)
		}
	}
	c := &s.rep.Search
	c.Objects = len(objs)
	if len(objs) == 0 {
		return nil
	}
	cands, err := s.inKeyRange(ctx, objs)
	if err != nil {
		return err
	}
	c.SkippedRange = len(objs) - len(cands)
	if len(cands) == 0 {
		return nil
	}
	ks, err := s.keySet(ctx)
	if err != nil {
		return err
	}
	for _, o := range cands {
		if err := s.searchObject(ctx, o, ks); err != nil {
			return err
		}
	}
	s.log.Info("searched the analytics archive for the period's keys", "keys", c.Keys, "objects", c.Objects,
		"skipped_by_key_range", c.SkippedRange, "probed", c.Probed, "key_columns_read", c.KeyColumns, "read", c.Read)
	return nil
}

// inKeyRange returns the objects that may hold a key by their catalog key
// range: those with a range of the first key column, of its current type,
// that holds a key of strata_keys, and those without one.
func (s *session) inKeyRange(ctx context.Context, objs []catalog.Object) ([]catalog.Object, error) {
	key, _ := s.l2Col(s.spec.Key[0])
	var ids []int64
	var mins, maxs []string
	ranged := map[int64]bool{}
	for _, o := range objs {
		if o.KeyColumn == key.Name && o.KeyMin != "" && objectColumnType(o, key.Name) == key.TypeName {
			ids, mins, maxs = append(ids, o.ID), append(mins, o.KeyMin), append(maxs, o.KeyMax)
			ranged[o.ID] = true
		}
	}
	hit := map[int64]bool{}
	if len(ids) > 0 {
		k := qualify("k", key.Name)
		rows, err := s.conn.Query(ctx, `SELECT o.id FROM unnest($1::bigint[], $2::text[], $3::text[]) AS o(id, mn, mx)
			WHERE EXISTS (SELECT 1 FROM `+tUnfound+` k WHERE `+k+` >= o.mn::`+key.TypeName+` AND `+k+` <= o.mx::`+key.TypeName+`)`,
			ids, mins, maxs)
		if err != nil {
			return nil, fmt.Errorf("match the keys with the objects' key ranges: %w", err)
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return nil, fmt.Errorf("match the keys with the objects' key ranges: %w", err)
		}
		for _, id := range got {
			hit[id] = true
		}
	}
	var out []catalog.Object
	for _, o := range objs {
		if !ranged[o.ID] || hit[o.ID] {
			out = append(out, o)
		}
	}
	return out, nil
}

// tUnfound holds the keys of strata_keys without a row found so far.
const tUnfound = "pg_temp.strata_unfound"

// unfoundKeys fills strata_unfound and returns how many keys it holds.
func (s *session) unfoundKeys(ctx context.Context) (int64, error) {
	keys := identList("", s.spec.Key)
	if err := s.exec(ctx, "find the keys not found yet", `CREATE TEMP TABLE strata_unfound AS SELECT `+identList("k", s.spec.Key)+
		` FROM `+tKeys+` k WHERE NOT EXISTS (SELECT 1 FROM `+tActualAll+` a WHERE `+s.joinOn("a", "k")+`)`); err != nil {
		return 0, err
	}
	n, err := s.count(ctx, `SELECT count(*) FROM `+tUnfound)
	if err != nil || n == 0 {
		return 0, err
	}
	s.rep.Search.Keys = n
	if err := s.exec(ctx, "index the keys not found yet", `CREATE UNIQUE INDEX ON `+tUnfound+` (`+keys+`); ANALYZE `+tUnfound); err != nil {
		return 0, err
	}
	return n, nil
}

// objectColumnType is the type of column name in o's catalog schema ("" if
// it has none).
func objectColumnType(o catalog.Object, name string) string {
	var cols []parquetio.Column
	if json.Unmarshal(o.Schema, &cols) != nil {
		return ""
	}
	for _, c := range cols {
		if c.Name == name {
			return c.TypeName
		}
	}
	return ""
}

// keySet loads the keys of strata_keys into memory, in binary form (a few
// bytes a key).
func (s *session) keySet(ctx context.Context) (*parquetio.KeySet, error) {
	ks, err := parquetio.NewKeySet(s.l2Named(s.spec.Key))
	if err != nil {
		return nil, err
	}
	rows, err := s.conn.Query(ctx, `SELECT `+identList("", s.spec.Key)+` FROM `+tUnfound, pgx.QueryResultFormats{pgx.BinaryFormatCode})
	if err != nil {
		return nil, fmt.Errorf("read the keys: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := ks.Add(rows.RawValues()); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the keys: %w", err)
	}
	return ks, nil
}

// searchObject probes o and, when it holds a key, reads it whole and keeps
// the rows of the keys in strata_actual.
func (s *session) searchObject(ctx context.Context, o catalog.Object, ks *parquetio.KeySet) error {
	s.rep.Search.Probed++
	hold, keyCols, err := s.c.Objects.HoldsKeys(ctx, o, ks)
	if keyCols {
		s.rep.Search.KeyColumns++
	}
	if err != nil || !hold {
		return err
	}
	s.rep.Search.Read++
	if err := s.ensureStage(ctx); err != nil {
		return err
	}
	cols := map[string]bool{}
	for _, c := range s.l2Cols {
		cols[c.Name] = true
	}
	n, err := s.c.Objects.CopyObject(ctx, s.conn, o, tStage, s.l2.String(), cols)
	if err != nil {
		return err
	}
	s.log.Debug("read an archived object holding keys of the period", "object", o.Key, "day", o.Day, "rows", n)
	return s.keepStagedRows(ctx)
}

// ensureStage creates strata_stage unless loadArchived did.
func (s *session) ensureStage(ctx context.Context) error {
	if s.staged {
		return nil
	}
	s.staged = true
	return s.createTemp(ctx, tStage, s.l2Cols, colOrd+" bigint GENERATED ALWAYS AS IDENTITY") // read order: day, then object
}

// keepStagedRows moves the rows of the keys from strata_stage into
// strata_actual and empties the stage.
func (s *session) keepStagedRows(ctx context.Context) error {
	all := identList("", names(s.l2Cols))
	if err := s.exec(ctx, "keep the archived rows of the keys", `INSERT INTO `+tActualAll+` (`+all+`, `+colLive+`, `+colOrd+`)
		SELECT `+identList("a", names(s.l2Cols))+`, false, a.`+colOrd+` FROM `+tStage+` a JOIN `+tKeys+` k ON `+s.joinOn("a", "k")); err != nil {
		return err
	}
	return s.exec(ctx, "empty the stage", `TRUNCATE `+tStage)
}
