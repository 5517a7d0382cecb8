package archive_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/retrieve"
)

// sqlTransform is the smallest Transformer: {{source}} r -> (SELECT outer.*) r.
type sqlTransform string

func (t sqlTransform) Lateral(outer string) string {
	return strings.Replace(string(t), "{{source}}", "(SELECT "+outer+".*)", 1)
}
func (t sqlTransform) Version() string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}
func (t sqlTransform) Text() string { return string(t) }

const eventsTransform = `SELECT (r.raw_data->>'id')::bigint AS event_id, r.raw_data->>'v' AS v,
	r.ingested_at AS updated_at FROM {{source}} r`

type sourceFixture struct {
	*fixture
	spec archive.SourceSpec
}

func newSourceFixture(t *testing.T, withTransform bool) *sourceFixture {
	t.Helper()
	f := newFixture(t, nil, 0)
	exec(t, f.pool, `CREATE TABLE source_events (raw_id bigserial PRIMARY KEY, raw_data json NOT NULL,
		ingested_at timestamptz NOT NULL DEFAULT now(), processed boolean NOT NULL DEFAULT false)`)
	exec(t, f.pool, `CREATE TABLE events2 (event_id bigint PRIMARY KEY, v text, updated_at timestamptz)`)
	spec := archive.SourceSpec{Dataset: "events", Table: "source_events", IDColumn: "raw_id", TimeColumn: "ingested_at",
		PayloadColumn: "raw_data", ProcessedColumn: "processed", BatchMaxRows: 1000, BatchMaxBytes: 64 << 20,
		BatchMaxWait: time.Hour, ArchiveRetention: 7 * 365 * 24 * time.Hour, Compression: "snappy"}
	if withTransform {
		spec.Transform = &archive.TransformSpec{SQL: sqlTransform(eventsTransform), Table: "events2", Key: []string{"event_id"}}
	}
	return &sourceFixture{fixture: f, spec: spec}
}

func records(recs ...string) func() ([]byte, error) {
	i := 0
	return func() ([]byte, error) {
		if i == len(recs) {
			return nil, io.EOF
		}
		i++
		return []byte(recs[i-1]), nil
	}
}

func TestIngestStoresArchivesTransformsAndMarksProcessedKeepingTheBytes(t *testing.T) {
	f := newSourceFixture(t, true)
	odd := `{"v":"caf\u00e9 ☕",   "id":1,"id":1}`
	rep, err := f.arch.Ingest(context.Background(), f.spec, records(odd, `{"id":2,"v":"a"}`, `{"id":2,"v":"b"}`))
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 3 || len(rep.Objects) != 1 || !strings.Contains(rep.Objects[0].Key, "svc/source/events/") ||
		!strings.Contains(rep.Objects[0].Key, "/source_batch_") {
		t.Fatalf("report %+v: want 3 records in one source_batch object", rep)
	}
	var stored string
	if err := f.pool.QueryRow(context.Background(), `SELECT raw_data::text FROM source_events ORDER BY raw_id LIMIT 1`).Scan(&stored); err != nil || stored != odd {
		t.Fatalf("Layer 3 holds %q (err %v), want the bytes as received %q", stored, err, odd)
	}
	if v := count(t, f.pool, `SELECT count(*) FROM events2 WHERE event_id = 2 AND v = 'b'`); v != 1 {
		t.Fatal("the latest record for key 2 did not win in Layer 2")
	}
	if n := count(t, f.pool, `SELECT count(*) FROM source_events WHERE processed`); n != 3 {
		t.Fatalf("%d records marked processed, want 3", n)
	}
	got := retrieveSource(t, f, "csv")
	if !strings.Contains(got, `"`+strings.ReplaceAll(odd, `"`, `""`)+`"`) {
		t.Fatalf("retrieve --type source --format csv does not return the record byte for byte:\n%s", got)
	}
	first := strings.SplitN(retrieveSource(t, f, "jsonl"), "\n", 2)[0]
	var row struct {
		RawData   string `json:"raw_data"`
		RawSHA256 string `json:"raw_sha256"`
	}
	if err := json.Unmarshal([]byte(first), &row); err != nil || row.RawData != odd {
		t.Fatalf("jsonl raw_data = %q (err %v), want the record as a string, byte for byte: %q", row.RawData, err, odd)
	}
	if sum := sha256.Sum256([]byte(odd)); row.RawSHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("raw_sha256 %s is not the SHA-256 of the record as received", row.RawSHA256)
	}
}

func TestSourceArchivingPicksUpRowsOthersWroteOnceAndOnlyOnce(t *testing.T) {
	f := newSourceFixture(t, true)
	exec(t, f.pool, `INSERT INTO source_events (raw_data) SELECT json_build_object('id', i, 'v', 'x' || i) FROM generate_series(1, 2500) i`)
	rep, err := f.arch.Source(context.Background(), f.spec, archive.SourceOptions{Flush: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Rows() != 2500 || len(rep.Days) != 3 {
		t.Fatalf("archived %d rows in %d objects, want 2500 in 3 batches of at most 1000", rep.Rows(), len(rep.Days))
	}
	again, err := f.arch.Source(context.Background(), f.spec, archive.SourceOptions{Flush: true})
	if err != nil || again.Rows() != 0 {
		t.Fatalf("second run archived %d rows (err %v), want 0", again.Rows(), err)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM events2`); n != 2500 {
		t.Fatalf("Layer 2 has %d rows, want 2500 transformed", n)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.source_archived`); n != 2500 {
		t.Fatalf("%d rows marked archived, want 2500", n)
	}
}

func TestATrickleWaitsForAFullerBatchUnlessFlushed(t *testing.T) {
	f := newSourceFixture(t, false)
	exec(t, f.pool, `INSERT INTO source_events (raw_data) VALUES ('{"id":1}'), ('{"id":2}')`)
	rep, err := f.arch.Source(context.Background(), f.spec, archive.SourceOptions{})
	if err != nil || rep.Rows() != 0 || !strings.Contains(rep.Skipped, "wait") {
		t.Fatalf("a 2-row trickle: archived %d, skipped %q, err %v; want it to wait", rep.Rows(), rep.Skipped, err)
	}
	exec(t, f.pool, `UPDATE source_events SET ingested_at = now() - interval '2 hours'`)
	rep, err = f.arch.Source(context.Background(), f.spec, archive.SourceOptions{})
	if err != nil || rep.Rows() != 2 {
		t.Fatalf("rows older than batch_max_wait: archived %d (err %v), want 2", rep.Rows(), err)
	}
}

func TestConcurrentSourceArchiversNeverArchiveARowTwice(t *testing.T) {
	f := newSourceFixture(t, true)
	f.spec.BatchMaxRows = 100
	exec(t, f.pool, `INSERT INTO source_events (raw_data) SELECT json_build_object('id', i) FROM generate_series(1, 3000) i`)
	// Four archivers, each with its own pool, as four strata processes would be.
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		pool, err := pgxpool.New(context.Background(), f.pool.Config().ConnString())
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		arch := *f.arch
		arch.Pool = pool
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = arch.Source(context.Background(), f.spec, archive.SourceOptions{Flush: true})
		}()
	}
	wg.Wait()
	// A run may lose a race (its batch rolls back, nothing committed); a final run finishes.
	if _, err := f.arch.Source(context.Background(), f.spec, archive.SourceOptions{Flush: true}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, f.pool, `SELECT coalesce(sum(rows), 0) FROM strata.objects WHERE archive_type = 'source'`); n != 3000 {
		t.Fatalf("committed source objects hold %d rows, want exactly 3000 (errors: %v)", n, errs)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM events2`); n != 3000 {
		t.Fatalf("Layer 2 has %d rows, want 3000", n)
	}
}

func TestPurgeDeletesOnlyArchivedProcessedRowsPastRetention(t *testing.T) {
	f := newSourceFixture(t, true)
	if _, err := f.arch.Ingest(context.Background(), f.spec, records(`{"id":1}`, `{"id":2}`)); err != nil {
		t.Fatal(err)
	}
	exec(t, f.pool, `INSERT INTO source_events (raw_data) VALUES ('{"id":3}')`) // never archived
	exec(t, f.pool, `UPDATE source_events SET ingested_at = now() - interval '8 days'`)
	week := 7 * 24 * time.Hour
	dry, err := f.arch.Purge(context.Background(), f.spec, week, true, true)
	if err != nil || dry.Purged != 2 || dry.NotArchived != 1 {
		t.Fatalf("dry run: %+v (err %v); want 2 to go, 1 staying as not archived", dry, err)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM source_events`); n != 3 {
		t.Fatalf("dry run deleted rows: %d left", n)
	}
	rep, err := f.arch.Purge(context.Background(), f.spec, week, true, false)
	if err != nil || rep.Purged != 2 {
		t.Fatalf("purge: %+v (err %v); want 2 purged", rep, err)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM source_events WHERE raw_data->>'id' = '3'`); n != 1 {
		t.Fatal("purge deleted a row that was never archived")
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.source_archived`); n != 0 {
		t.Fatalf("%d archived marks left for purged rows", n)
	}
}

func TestAJSONBPayloadIsRefusedBecauseItLosesTheBytes(t *testing.T) {
	f := newSourceFixture(t, false)
	exec(t, f.pool, `ALTER TABLE source_events ALTER COLUMN raw_data TYPE jsonb`)
	_, err := f.arch.Ingest(context.Background(), f.spec, records(`{"a":1}`))
	if err == nil || !strings.Contains(err.Error(), "jsonb") {
		t.Fatalf("ingest into a jsonb payload: err %v, want a refusal naming jsonb", err)
	}
}

func retrieveSource(t *testing.T, f *sourceFixture, format string) string {
	t.Helper()
	r := &retrieve.Retriever{Catalog: f.cat, Store: f.arch.Store, SpoolDir: t.TempDir()}
	rows, err := r.Query(context.Background(), retrieve.Request{Dataset: "events", Type: catalog.TypeSource,
		From: time.Now().Add(-time.Hour), To: time.Now().Add(time.Hour), TimeColumn: "ingested_at", RawColumns: []string{"raw_data"}})
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	if _, err := retrieve.Write(&b, rows, format); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestTextAndByteaPayloadsKeepTheBytesToo(t *testing.T) {
	for _, typ := range []string{"text", "bytea"} {
		t.Run(typ, func(t *testing.T) {
			f := newSourceFixture(t, false)
			exec(t, f.pool, `ALTER TABLE source_events ALTER COLUMN raw_data TYPE `+typ+` USING raw_data::text::`+typ)
			rec := `{"z":1,  "a":"\u00e9 é"}`
			if _, err := f.arch.Ingest(context.Background(), f.spec, records(rec)); err != nil {
				t.Fatal(err)
			}
			var got []byte
			if err := f.pool.QueryRow(context.Background(), `SELECT convert_to(raw_data::text, 'UTF8') FROM source_events`).Scan(&got); typ == "text" && (err != nil || string(got) != rec) {
				t.Fatalf("text payload stored as %q (err %v), want %q", got, err, rec)
			}
			if typ == "bytea" {
				if err := f.pool.QueryRow(context.Background(), `SELECT raw_data FROM source_events`).Scan(&got); err != nil || string(got) != rec {
					t.Fatalf("bytea payload stored as %q (err %v), want %q", got, err, rec)
				}
			}
		})
	}
}
