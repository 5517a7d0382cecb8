package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/transform"
)

// The source scenarios use the demo orders dataset with both halves: a
// Layer 3 table source_orders of raw JSON records, the example transform
// transforms/orders.sql, and the Layer 2 table orders it upserts into.
const (
	srcTable  = "source_orders"
	l2Columns = "order_id, customer_id, status, total, currency, items, ordered_at, shipped_on"
	// srcNothing is what `archive --type source --flush` prints with nothing
	// to do.
	srcNothing = "orders: source: archived 0 rows in 0 object(s)"
)

// sourceWorld is a world whose dataset has a Layer 3 table and a transform.
// ref_src holds every record the scenario sent (by ingest or by inserting
// into Layer 3 itself): the invariants compare Layer 3, the archive and
// Layer 2 with it. Each record has a unique "rec" field; order_id repeats,
// so several records update one Layer 2 row and the latest must win.
type sourceWorld struct {
	*world
	transform *transform.Transform
	runs      int   // strata ingest and archive processes started
	nextRec   int64 // rec of the next record made
	keys      int64 // distinct order_ids the records cycle through
}

// newSourceWorld makes a world whose strata.yaml configures orders with
// source (batches of batchRows), analytics and transform, and creates the
// empty Layer 3 and Layer 2 tables.
func newSourceWorld(t *testing.T, backend string, batchRows int) *sourceWorld {
	t.Helper()
	ds := ordersEntry()
	ds.Key = "" // testenv makes the empty Layer 3 and Layer 2 tables
	ds.Source, ds.SourceTable, ds.Transform = true, srcTable, "transforms/orders.sql"
	ds.SourceRetention, ds.BatchMaxRows, ds.BatchMaxWait = "7d", batchRows, "1h"
	ds.SourceExtra = "payload_column: raw_data\nprocessed_column: processed\narchive_after: immediate\nbatch_max_bytes: 67108864"
	w := newWorldOf(t, backend, ds)
	tr, err := transform.Load(filepath.Join(w.dir, "transforms", "orders.sql"))
	if err != nil {
		t.Fatalf("load the example transform: %v", err)
	}
	w.exec(`CREATE TABLE ref_src (rec bigint PRIMARY KEY, payload text NOT NULL UNIQUE)`)
	// 347 keys: about 3 records per order over 1000 records.
	return &sourceWorld{world: w, transform: tr, nextRec: 1, keys: 347}
}

// makeRecords returns n new raw records (recs nextRec on) and adds them to
// ref_src. Their spelling varies as real senders' does: key order, spacing,
// tabs, escapes, unicode, a duplicated key, total as number or string.
func (w *sourceWorld) makeRecords(n int) []string {
	w.t.Helper()
	recs := make([]string, n)
	ids := make([]int64, n)
	for i := range recs {
		rec := w.nextRec
		w.nextRec++
		key := 1 + rec%w.keys
		ts := time.Date(2024, 11, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(rec) * time.Second).Format(time.RFC3339)
		switch rec % 4 {
		case 0:
			recs[i] = fmt.Sprintf(`{"order_id": %d, "rec": %d, "customer_id": %d, "status": "PAID", "total": "%d.50", "currency": "eur", "items": %d, "ordered_at": "%s", "shipped_on": null}`,
				key, rec, 1000+rec%17, rec%500, 1+rec%9, ts)
		case 1:
			recs[i] = fmt.Sprintf(`{"rec":%d,"order_id":%d,"status":"new","currency":"usd","total":%d.25,"customer_id":%d,"items":%d,"ordered_at":"%s","note":"caf\u00e9 ☕ — 注文"}`,
				rec, key, rec%300, 2000+rec%13, 1+rec%4, ts)
		case 2:
			recs[i] = fmt.Sprintf(`{ "order_id" : %d , "rec" : %d , "status" : "new" , "status" : "SHIPPED" , "customer_id" : %d , "total" : "%d" , "currency" : "Gbp" , "items" : %d , "ordered_at" : "%s" , "shipped_on" : "2024-11-03" }`,
				key, rec, 3000+rec%7, rec%90, 2+rec%3, ts)
		default:
			recs[i] = fmt.Sprintf("{\t\"order_id\":%d,\t\"rec\":%d,\"customer_id\":%d,\"status\":\"Delivered\",\"total\":\"%d.99\",\"currency\":\"EUR\",\"items\":%d,\"ordered_at\":\"%s\",\"note\":\"line\\nbreak \\\"quoted\\\" \\\\ back \\u0041\"}",
				key, rec, 4000+rec%11, rec%70, 1+rec%5, ts)
		}
		ids[i] = rec
	}
	w.exec(`INSERT INTO ref_src SELECT * FROM unnest($1::bigint[], $2::text[])`, ids, recs)
	return recs
}

// writeFile writes records as JSON lines to a file in the world's folder.
func (w *sourceWorld) writeFile(name string, recs []string) string {
	w.t.Helper()
	path := filepath.Join(w.dir, name)
	if err := os.WriteFile(path, []byte(strings.Join(recs, "\n")+"\n"), 0o644); err != nil {
		w.t.Fatal(err)
	}
	return path
}

// insertByOthers writes records straight into Layer 3, as another program
// would, leaving raw_id, ingested_at and processed to their defaults.
func (w *sourceWorld) insertByOthers(recs []string) {
	w.t.Helper()
	w.exec(`INSERT INTO `+srcTable+` (raw_data) SELECT r::json FROM unnest($1::text[]) WITH ORDINALITY u(r, i) ORDER BY i`, recs)
}

// remaining returns the records of ref_src that are not in Layer 3, in rec
// order: what an ingest must send again after an interrupted one.
func (w *sourceWorld) remaining() []string {
	w.t.Helper()
	rows, err := w.pool.Query(context.Background(), `SELECT payload FROM ref_src x
		WHERE NOT EXISTS (SELECT 1 FROM `+srcTable+` s WHERE (s.raw_data->>'rec')::bigint = x.rec) ORDER BY rec`)
	if err != nil {
		w.t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// ingest runs strata ingest of file with env.
func (w *sourceWorld) ingest(env []string, file string) result {
	w.t.Helper()
	w.runs++
	return w.strata(env, "ingest", "--dataset", dataset, file)
}

// archiveSource runs strata archive --type source --flush with env.
func (w *sourceWorld) archiveSource(env []string) result {
	w.t.Helper()
	w.runs++
	return w.strata(env, "archive", "--type", "source", "--flush")
}

// loadSourceArchived reads every committed source object back with
// `strata retrieve --type source --format csv` into the table src_archived
// and returns how many rows it holds.
func (w *sourceWorld) loadSourceArchived() int64 {
	w.t.Helper()
	w.exec(`DROP TABLE IF EXISTS src_archived`)
	w.exec(`CREATE TABLE src_archived (raw_id bigint, raw_data text, ingested_at timestamptz, raw_sha256 text)`)
	if !w.catalogExists() || w.count(`SELECT count(*) FROM strata.objects WHERE archive_type = 'source'`) == 0 {
		return 0
	}
	to := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	r := w.strata(nil, "retrieve", "--dataset", dataset, "--type", "source", "--from", "2000-01-01", "--to", to, "--format", "csv")
	if r.code != 0 {
		w.t.Fatalf("retrieve every archived source row: %s", r)
	}
	if header, _, _ := strings.Cut(r.stdout, "\n"); header != "raw_id,raw_data,ingested_at,raw_sha256" {
		w.t.Fatalf("retrieve --type source --format csv: header %q, want raw_id,raw_data,ingested_at,raw_sha256", header)
	}
	w.copyCSV("src_archived", r.stdout)
	return w.count(`SELECT count(*) FROM src_archived`)
}

// sourceOutcome is what the source checks measured.
type sourceOutcome struct {
	Sent     int64 // records in ref_src
	Layer3   int64 // rows in Layer 3
	Archived int64 // rows read back from committed source objects
	Lost     int64 // records sent but missing from Layer 3 or the archive (final checks only)
	Dup      int64 // rows beyond one per record in Layer 3 or the archive, or not sent at all
	Payload  int64 // archived rows whose bytes, time or SHA-256 differ from Layer 3's
	Checksum int   // checksum mismatches reported by verify --deep
	Orphans  int   // orphan objects reported by verify before --repair
	Repaired int   // uploads --repair cleaned (objects and bare intents)
}

// sourceViolations compares Layer 3, the committed source archive, the
// catalog and Layer 2 with each other and with ref_src, and returns what is
// wrong. These hold at any moment, also right after a kill:
//
//   - no raw_id is in two committed objects, and the archived raw_ids are
//     exactly those in strata.source_archived, each naming a committed object;
//   - every archived row is in Layer 3 with the same bytes (raw_data::text)
//     and ingestion time, and its raw_sha256 is the SHA-256 of those bytes;
//   - a Layer 3 row is processed if and only if it is archived;
//   - the catalog's row counts equal the rows read back;
//   - Layer 2 holds exactly the transform's output for the latest processed
//     record of each key;
//   - no record is in Layer 3 or the archive twice, or without being sent.
//
// With final, also: every record sent is in Layer 3, archived and processed.
// With ingestOnly (nothing wrote to Layer 3 but strata ingest), every Layer 3
// row is archived at any moment: ingest commits a batch to all or none.
func (w *sourceWorld) sourceViolations(final, ingestOnly bool) (sourceOutcome, []string) {
	w.t.Helper()
	var o sourceOutcome
	var bad []string
	check := func(n int64, format string, args ...any) {
		if n != 0 {
			bad = append(bad, fmt.Sprintf("%d "+format, append([]any{n}, args...)...))
		}
	}
	o.Archived = w.loadSourceArchived()
	o.Sent = w.count(`SELECT count(*) FROM ref_src`)
	o.Layer3 = w.count(`SELECT count(*) FROM ` + srcTable)
	catalog := w.catalogExists()
	if catalog {
		check(w.count(`SELECT count(*) - count(DISTINCT raw_id) FROM src_archived`), "raw_id(s) are in more than one archived row")
		check(w.count(`SELECT count(*) FROM (SELECT DISTINCT raw_id FROM src_archived) a
			WHERE NOT EXISTS (SELECT 1 FROM strata.source_archived m WHERE m.dataset = $1 AND m.id = a.raw_id)`, dataset),
			"archived raw_id(s) are not in strata.source_archived")
		check(w.count(`SELECT count(*) FROM strata.source_archived m WHERE m.dataset = $1
			AND NOT EXISTS (SELECT 1 FROM src_archived a WHERE a.raw_id = m.id)`, dataset),
			"raw_id(s) in strata.source_archived are in no committed object read back")
		check(w.count(`SELECT count(*) FROM strata.source_archived m WHERE m.dataset = $1
			AND NOT EXISTS (SELECT 1 FROM strata.objects o WHERE o.id = m.object_id AND o.archive_type = 'source')`, dataset),
			"strata.source_archived row(s) name no committed source object")
		if cat := w.count(`SELECT coalesce(sum(rows), 0) FROM strata.objects WHERE archive_type = 'source'`); cat != o.Archived {
			bad = append(bad, fmt.Sprintf("the catalog counts %d archived source rows, retrieve returned %d", cat, o.Archived))
		}
	}
	check(w.count(`SELECT count(*) FROM src_archived a WHERE NOT EXISTS (SELECT 1 FROM `+srcTable+` s WHERE s.raw_id = a.raw_id)`),
		"archived row(s) are missing from Layer 3")
	o.Payload = w.count(`SELECT count(*) FROM src_archived a JOIN ` + srcTable + ` s USING (raw_id)
		WHERE a.raw_data IS DISTINCT FROM s.raw_data::text OR a.ingested_at IS DISTINCT FROM s.ingested_at
		   OR a.raw_sha256 IS DISTINCT FROM encode(sha256(convert_to(s.raw_data::text, 'UTF8')), 'hex')
		   OR a.raw_sha256 IS DISTINCT FROM encode(sha256(convert_to(a.raw_data, 'UTF8')), 'hex')`)
	check(o.Payload, "archived row(s) differ from Layer 3 in bytes, ingestion time or SHA-256")
	archived := `EXISTS (SELECT 1 FROM src_archived a WHERE a.raw_id = s.raw_id)`
	check(w.count(`SELECT count(*) FROM `+srcTable+` s WHERE processed AND NOT `+archived), "Layer 3 row(s) are processed but not archived")
	check(w.count(`SELECT count(*) FROM `+srcTable+` s WHERE NOT processed AND `+archived), "Layer 3 row(s) are archived but not processed")
	if final || ingestOnly {
		check(w.count(`SELECT count(*) FROM `+srcTable+` s WHERE NOT `+archived), "Layer 3 row(s) are not archived")
	}
	o.Dup = w.count(`SELECT count(*) - count(DISTINCT raw_data) FROM src_archived`) +
		w.count(`SELECT count(*) - count(DISTINCT raw_data::text) FROM `+srcTable) +
		w.count(`SELECT count(*) FROM `+srcTable+` s WHERE NOT EXISTS (SELECT 1 FROM ref_src x WHERE x.payload = s.raw_data::text)`)
	check(o.Dup, "row(s) duplicated in Layer 3 or the archive, or never sent")
	if final {
		o.Lost = w.count(`SELECT count(*) FROM ref_src x
			WHERE NOT EXISTS (SELECT 1 FROM src_archived a WHERE a.raw_data = x.payload)
			   OR NOT EXISTS (SELECT 1 FROM ` + srcTable + ` s WHERE s.raw_data::text = x.payload AND s.processed)`)
		check(o.Lost, "record(s) sent are not in Layer 3, archived and processed")
	}
	expected := `SELECT DISTINCT ON (t.order_id) ` + prefixed("t", l2Columns) + ` FROM ` + srcTable + ` s
		CROSS JOIN LATERAL (` + w.transform.Lateral("s") + `) t WHERE s.processed ORDER BY t.order_id, s.raw_id DESC`
	check(w.count(`SELECT count(*) FROM ((`+expected+`) EXCEPT ALL SELECT `+l2Columns+` FROM orders) x`),
		"latest record(s) per key are not in Layer 2 as the transform makes them")
	check(w.count(`SELECT count(*) FROM (SELECT `+l2Columns+` FROM orders EXCEPT ALL (`+expected+`)) x`),
		"Layer 2 row(s) are not the transform of the latest processed record of their key")
	return o, bad
}

func prefixed(alias, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, p := range parts {
		parts[i] = alias + "." + p
	}
	return strings.Join(parts, ", ")
}

// checkConsistent reports every violation of sourceViolations as an error.
func (w *sourceWorld) checkConsistent(when string, final, ingestOnly bool) sourceOutcome {
	w.t.Helper()
	o, bad := w.sourceViolations(final, ingestOnly)
	for _, b := range bad {
		w.t.Errorf("%s: %s", when, b)
	}
	return o
}

// checkSourceInvariants runs the checks of docs/RELIABILITY.md for the
// source archive after a scenario's last successful run: verify reports
// only orphans, --repair cleans them and leaves storage holding exactly the
// committed objects, verify --deep is clean, every sourceViolations check
// holds with final, and a re-run archives and changes nothing.
func (w *sourceWorld) checkSourceInvariants(ingestOnly bool) sourceOutcome {
	w.t.Helper()
	orphans := w.verifyOrphans()
	repaired := w.repair(orphans)
	deep := w.verifyDeep()
	o := w.checkConsistent("after the final run", true, ingestOnly)
	o.Orphans, o.Repaired, o.Checksum = orphans, repaired, deep
	w.checkSourceRerunWritesNothing()
	return o
}

// checkSourceRerunWritesNothing runs archive --type source --flush once
// more: it must find nothing waiting and change neither storage, the
// catalog, Layer 3 nor Layer 2.
func (w *sourceWorld) checkSourceRerunWritesNothing() {
	w.t.Helper()
	snapshot := func() []any {
		return []any{w.storedKeys(), w.count(`SELECT count(*) FROM strata.uploads`), w.committedObjects(),
			w.count(`SELECT count(*) FROM strata.source_archived`),
			w.count(`SELECT count(*) FROM ` + srcTable + ` WHERE processed`),
			w.count(`SELECT count(*) FROM orders`),
			w.count(`SELECT coalesce(sum(hashtext(o::text)), 0) FROM orders o`)}
	}
	before := snapshot()
	r := w.archiveSource(nil)
	if r.code != 0 || !strings.Contains(r.stdout, srcNothing) {
		w.t.Errorf("re-run after success: want exit 0 and %q: %s", srcNothing, r)
	}
	after := snapshot()
	names := []string{"stored keys", "uploads", "committed objects", "source_archived rows", "processed rows", "Layer 2 rows", "Layer 2 content"}
	for i := range before {
		if fmt.Sprint(before[i]) != fmt.Sprint(after[i]) {
			w.t.Errorf("re-run after success changed the %s: %v -> %v", names[i], before[i], after[i])
		}
	}
}

// sourceFigure turns a source outcome into a row of the reliability table.
func (w *sourceWorld) sourceFigure(order, scenario string, o sourceOutcome, retries int, start time.Time) figure {
	return figure{
		Order:    fmt.Sprintf("%s/%d", order, slices.Index(backends, w.backend)),
		Scenario: scenario, Backend: w.backend, Runs: w.runs, Rows: o.Sent,
		Lost: fmt.Sprint(o.Lost), Duplicated: fmt.Sprint(o.Dup),
		Checksum: fmt.Sprintf("%d (payload mismatches %d)", o.Checksum, o.Payload),
		Orphans:  fmt.Sprintf("%d found, %d cleaned", o.Orphans, o.Repaired),
		Retries:  retries, Wall: time.Since(start),
	}
}
