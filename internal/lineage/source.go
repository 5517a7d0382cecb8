package lineage

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/parquetio"
)

// names returns the columns' names.
func names(cols []parquetio.Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// loadRecords creates table with the source columns and fills it with the
// records ingested in [from, to], from the source archive and Layer 3.
func (s *session) loadRecords(ctx context.Context, table string, from, to time.Time) (int64, error) {
	if err := s.createTemp(ctx, table, s.srcCols); err != nil {
		return 0, err
	}
	n, err := s.copyIn(ctx, table, FetchRequest{Type: catalog.TypeSource, From: from, To: to,
		Columns: names(s.srcCols), Live: s.l3 != nil})
	if err != nil {
		return 0, err
	}
	return n, s.exec(ctx, "analyze records", `ANALYZE `+table)
}

// loadSource loads the period's records into strata_src and counts them
// by where they were read.
func (s *session) loadSource(ctx context.Context) error {
	n, err := s.loadRecords(ctx, tSrc, s.from, s.to)
	if err != nil {
		return err
	}
	if s.c.Erased != nil {
		if s.rep.SourceRecords.Erased, err = s.c.Erased(ctx, s.conn, tSrc); err != nil {
			return err
		}
		n -= s.rep.SourceRecords.Erased
	}
	s.log.Info("loaded the period's records", "records", n, "erased", s.rep.SourceRecords.Erased)
	if s.l3 != nil {
		// Records still in Layer 3 and in no source batch were read from
		// Layer 3 (purge deletes a record's batch mark with the record, so
		// "not in a batch" alone does not tell).
		id := qi(s.spec.IDColumn)
		s.rep.SourceRecords.Layer3, err = s.count(ctx, `SELECT count(*) FROM `+tSrc+` s
			WHERE EXISTS (SELECT 1 FROM `+s.l3.Ident()+` t WHERE t.`+id+` = s.`+id+`)
			  AND NOT EXISTS (SELECT 1 FROM strata.source_archived a WHERE a.dataset = $1 AND a.id = s.`+id+`)`, s.spec.Dataset)
		if err != nil {
			return fmt.Errorf("count Layer 3 records: %w", err)
		}
	}
	s.rep.SourceRecords.Archive = n - s.rep.SourceRecords.Layer3
	return s.countQuarantined(ctx)
}

// lateral is the transform run over each row of table, aliased
// __strata_src, yielding __strata_t.
func (s *session) lateral(table string) string {
	return ` FROM ` + table + ` AS __strata_src CROSS JOIN LATERAL (` + s.spec.Transform.Lateral("__strata_src") + `) AS __strata_t`
}

// expect runs the transform over the period's records into strata_expected,
// as ingest does: DISTINCT ON the key, the latest record (highest id)
// winning, values assigned to the Layer 2 column types.
func (s *session) expect(ctx context.Context) error {
	if err := s.outputColumns(ctx); err != nil {
		return err
	}
	idCol := parquetio.Column{Name: colID, TypeName: "bigint"}
	if err := s.createTemp(ctx, tExpected, append(s.l2Named(s.out), idCol)); err != nil {
		return err
	}
	key := identList("__strata_t", s.spec.Key)
	id := "__strata_src." + qi(s.spec.IDColumn)
	n, err := s.runTransform(ctx, "run over the period's records", `INSERT INTO `+tExpected+` (`+identList("", s.out)+`, `+colID+`)
		SELECT DISTINCT ON (`+key+`) `+identList("__strata_t", s.out)+`, `+id+s.lateral(tSrc)+`
		ORDER BY `+key+`, `+id+` DESC`)
	if err != nil {
		return err
	}
	s.rep.AnalyticsRows.Expected = n
	if _, err := s.conn.Exec(ctx, `CREATE UNIQUE INDEX ON `+tExpected+` (`+identList("", s.spec.Key)+`)`); err != nil {
		return transformFault("it yields two rows whose keys are equal in the Layer 2 key types", err)
	}
	return s.exec(ctx, "analyze expected rows", `ANALYZE `+tExpected)
}

// outputColumns learns the transform's output columns and checks them
// against Layer 2, as ingest's upsert would.
func (s *session) outputColumns(ctx context.Context) error {
	desc, err := s.conn.Prepare(ctx, "", `SELECT __strata_t.*`+s.lateral(tSrc)+` WHERE false`)
	if err != nil {
		return transformFault("it does not run", err)
	}
	s.out = s.out[:0]
	for _, f := range desc.Fields {
		if slices.Contains(s.out, f.Name) {
			return fmt.Errorf("%w: it yields column %q twice", ErrTransform, f.Name)
		}
		if _, ok := s.l2Col(f.Name); !ok {
			return fmt.Errorf("%w: it yields column %q, which analytics table %s lacks", ErrTransform, f.Name, s.l2)
		}
		s.out = append(s.out, f.Name)
	}
	for _, k := range s.spec.Key {
		if !slices.Contains(s.out, k) {
			return fmt.Errorf("%w: its output lacks key column %q (it yields: %s)", ErrTransform, k, strings.Join(s.out, ", "))
		}
	}
	s.rep.Compared = slices.Clone(s.out)
	for _, c := range s.l2Cols {
		if !slices.Contains(s.out, c.Name) {
			s.rep.Ignored = append(s.rep.Ignored, c.Name)
		}
	}
	return nil
}

// keyFunctions creates pg_temp.strata_key_N(payload, field): key column
// N's value read from the payload's top-level field, or NULL when the
// payload is not JSON, lacks the field or the value does not read as the
// column's type. (PostgreSQL 15 has no pg_input_is_valid, hence the
// exception handler.)
func (s *session) keyFunctions(ctx context.Context) error {
	doc := "p::json"
	if s.payload.TypeOID == 17 || s.payload.BaseOID == 17 {
		doc = "convert_from(p, 'UTF8')::json"
	}
	for i, c := range s.l2Named(s.spec.Key) {
		sql := fmt.Sprintf(`CREATE FUNCTION pg_temp.strata_key_%d(p %s, field text) RETURNS %s
			LANGUAGE plpgsql IMMUTABLE AS $strata$
			BEGIN
				RETURN (%s ->> field)::%s;
			EXCEPTION WHEN others THEN
				RETURN NULL;
			END $strata$`, i, s.payload.TypeName, c.TypeName, doc, c.TypeName)
		if err := s.exec(ctx, "create the key reader", sql); err != nil {
			return err
		}
	}
	return nil
}

// payloadKeys is the select list reading the key columns from the payload
// of alias's rows.
func (s *session) payloadKeys(alias string) string {
	out := make([]string, len(s.spec.Key))
	for i, k := range s.spec.Key {
		out[i] = fmt.Sprintf("pg_temp.strata_key_%d(%s, %s) AS %s", i, qualify(alias, s.spec.PayloadColumn), literal(k), qi(k))
	}
	return strings.Join(out, ", ")
}

// literal quotes s as an SQL string.
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// recordKeys reads each record's key from its payload into strata_rkeys
// and gathers the keys to look up, expected and record keys, in strata_keys.
func (s *session) recordKeys(ctx context.Context) error {
	if err := s.keyFunctions(ctx); err != nil {
		return err
	}
	keys := identList("", s.spec.Key)
	if err := s.exec(ctx, "read the records' keys", `CREATE TEMP TABLE strata_rkeys AS SELECT `+s.payloadKeys("s")+` FROM `+tSrc+` s`); err != nil {
		return err
	}
	var err error
	if s.rep.SourceRecords.WithoutKey, err = s.count(ctx, `SELECT count(*) FROM `+tRecKeys+` r WHERE NOT (`+s.keyNotNull("r")+`)`); err != nil {
		return fmt.Errorf("count records without a key: %w", err)
	}
	if err := s.exec(ctx, "gather the keys", `CREATE TEMP TABLE strata_keys AS
		SELECT `+keys+` FROM `+tExpected+` e WHERE `+s.keyNotNull("e")+`
		UNION SELECT `+keys+` FROM `+tRecKeys+` r WHERE `+s.keyNotNull("r")); err != nil {
		return err
	}
	if err := s.exec(ctx, "index the keys", `CREATE UNIQUE INDEX ON `+tKeys+` (`+keys+`)`); err != nil {
		return err
	}
	return s.exec(ctx, "analyze the keys", `ANALYZE `+tKeys)
}
