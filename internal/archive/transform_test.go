package archive_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/stratahq/strata/internal/archive"
)

// mixedRecords returns n event records for keys 1..keys, every seventh
// with a v the Layer 2 CHECK refuses ("bad", SQLSTATE 23514) and every
// thirteenth with an id that is not a number (22P02), and whether each one
// is bad.
func mixedRecords(n, keys int) ([]string, []bool) {
	recs, bad := make([]string, n), make([]bool, n)
	for i := range recs {
		switch {
		case i%13 == 5:
			recs[i], bad[i] = fmt.Sprintf(`{"id":"x%d","v":"r%d"}`, i, i), true
		case i%7 == 3:
			recs[i], bad[i] = fmt.Sprintf(`{"id":%d,"v":"bad"}`, 1+i%keys), true
		default:
			recs[i] = fmt.Sprintf(`{"id":%d,"v":"r%d"}`, 1+i%keys, i)
		}
	}
	return recs, bad
}

// newCheckedFixture is the events source fixture whose Layer 2 refuses
// v = 'bad', answering transform errors with mode.
func newCheckedFixture(t *testing.T, mode string) *sourceFixture {
	t.Helper()
	f := newSourceFixture(t, true)
	exec(t, f.pool, `ALTER TABLE events2 ADD CONSTRAINT v_not_bad CHECK (v <> 'bad')`)
	f.spec.OnTransformError = mode
	f.spec.BatchMaxRows = 120
	return f
}

// The records quarantined are bad ones, every record with an id that does
// not cast is among them, and Layer 2 holds exactly what PostgreSQL's own
// statement makes of the other records, the latest per key winning.
func TestQuarantineLeavesOutTheFailingRecordsAndAppliesTheRestAsOneStatementWould(t *testing.T) {
	f := newCheckedFixture(t, archive.OnErrorQuarantine)
	recs, bad := mixedRecords(300, 40)
	rep, err := f.arch.Ingest(context.Background(), f.spec, records(recs...))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 300 || rep.Batches != 3 || len(rep.Quarantined) == 0 {
		t.Fatalf("report: %d records, %d batches, %d quarantined", rep.Records, rep.Batches, len(rep.Quarantined))
	}
	quarantined := map[int]bool{}
	for _, q := range rep.Quarantined {
		quarantined[q.Index] = true
		if !bad[q.Index] || (q.Err.Code != "23514" && q.Err.Code != "22P02") {
			t.Errorf("record %d %s quarantined with %s", q.Index, recs[q.Index], q.Message())
		}
		var raw string
		if err := f.pool.QueryRow(context.Background(), `SELECT raw_data::text FROM source_events WHERE raw_id = $1`, q.ID).Scan(&raw); err != nil || raw != recs[q.Index] {
			t.Errorf("quarantined record %d is Layer 3 id %d holding %q (%v)", q.Index, q.ID, raw, err)
		}
	}
	for i, r := range recs {
		if strings.Contains(r, `"x`) && !quarantined[i] {
			t.Errorf("record %d %s does not cast yet was not quarantined", i, r)
		}
	}
	if n := count(t, f.pool, `SELECT count(*) FROM source_events WHERE NOT processed`); n != int64(len(rep.Quarantined)) {
		t.Errorf("%d Layer 3 rows unprocessed, %d quarantined", n, len(rep.Quarantined))
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.quarantine q JOIN source_events s ON s.raw_id = q.id AND NOT s.processed
		WHERE q.dataset = 'events' AND q.resolved_at IS NULL`); n != int64(len(rep.Quarantined)) {
		t.Errorf("strata.quarantine has %d of the %d records", n, len(rep.Quarantined))
	}
	// PostgreSQL's answer: the transform over the processed records, the
	// latest per key; Layer 2 must hold exactly that.
	if n := count(t, f.pool, `WITH want AS (
			SELECT DISTINCT ON (event_id) t.* FROM source_events s
			CROSS JOIN LATERAL (`+sqlTransform(eventsTransform).Lateral("s")+`) t
			WHERE s.processed ORDER BY event_id, s.raw_id DESC)
		SELECT count(*) FROM ((SELECT * FROM want EXCEPT SELECT * FROM events2) UNION ALL
			(SELECT * FROM events2 EXCEPT SELECT * FROM want)) d`); n != 0 {
		t.Errorf("Layer 2 differs from PostgreSQL's own answer in %d rows", n)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.source_archived`); n != 300 {
		t.Errorf("%d of the 300 records are archived", n)
	}
}

func TestRejectStoresNothingOfTheBatchAndNamesItsFailingRecords(t *testing.T) {
	f := newCheckedFixture(t, archive.OnErrorReject)
	recs, bad := mixedRecords(100, 40) // one batch
	_, err := f.arch.Ingest(context.Background(), f.spec, records(recs...))
	var te *archive.TransformError
	if !errors.As(err, &te) || len(te.Records) == 0 {
		t.Fatalf("Ingest = %v, want a *TransformError", err)
	}
	first := -1
	for i := range bad {
		if bad[i] {
			first = i
			break
		}
	}
	if te.Records[0].Index != first || !strings.Contains(err.Error(), fmt.Sprintf("record %d", first+1)) {
		t.Errorf("first failing record %d, want %d: %v", te.Records[0].Index, first, err)
	}
	for _, r := range te.Records {
		if !bad[r.Index] {
			t.Errorf("good record %d %s named as failing: %s", r.Index, recs[r.Index], r.Message())
		}
	}
	for _, table := range []string{"source_events", "events2", "strata.objects", "strata.uploads", "strata.source_archived", "strata.quarantine", "strata.lineage"} {
		if n := count(t, f.pool, `SELECT count(*) FROM `+table); n != 0 {
			t.Errorf("%s has %d rows after a rejected batch", table, n)
		}
	}
}

// Rows that another program wrote into Layer 3 are quarantined by the
// source archive run, or, with reject, the run fails naming a row and
// commits nothing.
func TestTheSourceArchiveRunQuarantinesOrRefusesRowsTheTransformCannotMap(t *testing.T) {
	for _, mode := range []string{archive.OnErrorQuarantine, archive.OnErrorReject} {
		t.Run(mode, func(t *testing.T) {
			f := newCheckedFixture(t, mode)
			exec(t, f.pool, `INSERT INTO source_events (raw_data) VALUES ('{"id":1,"v":"a"}'), ('{"id":2,"v":"bad"}'), ('{"id":3,"v":"c"}')`)
			rep, err := f.arch.Source(context.Background(), f.spec, archive.SourceOptions{Flush: true})
			if mode == archive.OnErrorReject {
				if err == nil || !strings.Contains(err.Error(), "Layer 3 row raw_id = 2") || !strings.Contains(err.Error(), "v_not_bad") {
					t.Fatalf("Source = %v, want an error naming row 2 and the constraint", err)
				}
				if n := count(t, f.pool, `SELECT (SELECT count(*) FROM events2) + (SELECT count(*) FROM strata.objects) + (SELECT count(*) FROM source_events WHERE processed)`); n != 0 {
					t.Fatalf("a refused batch left %d rows behind", n)
				}
				return
			}
			if err != nil || rep.Quarantined != 1 || rep.Rows() != 3 {
				t.Fatalf("Source = %+v, %v: want 3 rows archived, 1 quarantined", rep, err)
			}
			if n := count(t, f.pool, `SELECT count(*) FROM source_events s JOIN strata.quarantine q ON q.id = s.raw_id
				WHERE NOT s.processed AND s.raw_data->>'v' = 'bad' AND q.sqlstate = '23514'`); n != 1 ||
				count(t, f.pool, `SELECT count(*) FROM source_events WHERE processed`) != 2 || count(t, f.pool, `SELECT count(*) FROM events2`) != 2 {
				t.Fatal("want row 2 quarantined, rows 1 and 3 processed into Layer 2")
			}
		})
	}
}

func TestOnlyDataErrorsAreTheClientsFault(t *testing.T) {
	for code, want := range map[string]bool{"23502": true, "23505": true, "22P02": true, "22003": true,
		"42703": false, "57P01": false, "40001": false, "53300": false, "XX000": false} {
		_, got := archive.DataError(fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: code}))
		if got != want {
			t.Errorf("DataError(%s) = %v, want %v", code, got, want)
		}
	}
	if _, ok := archive.DataError(errors.New("connection reset")); ok {
		t.Error("a connection error is a data error")
	}
}
