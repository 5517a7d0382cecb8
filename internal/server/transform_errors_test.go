package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/storage"
)

// stored sums up everything an ingest can leave behind: the tables, the
// catalog (objects, uploads, lineage records, archived marks, quarantine)
// and the objects in storage.
func (e *env) stored() string {
	e.t.Helper()
	prefix, err := storage.ParseKey("svc")
	if err != nil {
		e.t.Fatal(err)
	}
	objects := 0
	if err := e.svc.Store().List(context.Background(), prefix, func(storage.ObjectInfo) error {
		objects++
		return nil
	}); err != nil {
		e.t.Fatalf("list the archive: %v", err)
	}
	return fmt.Sprintf("%s uploads=%d lineage=%d archived=%d quarantine=%d storage=%d", e.state(),
		e.count(`SELECT count(*) FROM strata.uploads`), e.count(`SELECT count(*) FROM strata.lineage`),
		e.count(`SELECT count(*) FROM strata.source_archived`), e.count(`SELECT count(*) FROM strata.quarantine`), objects)
}

// recordJSON is a record the transform could not map, in an answer.
type recordJSON struct {
	Line     int    `json:"line"`
	Array    bool   `json:"array"`
	SQLState string `json:"sqlstate"`
	Error    string `json:"error"`
}

// rejectedAnswer is the detail of a 422.
type rejectedAnswer struct {
	Error  string `json:"error"`
	Detail struct {
		Records       []recordJSON `json:"records"`
		RecordsStored int64        `json:"records_stored"`
		ConfigKey     string       `json:"config_key"`
	} `json:"detail"`
}

func TestRecordsTheTransformCannotMapAre422NamingTheLineAndStoreNothing(t *testing.T) {
	for name, o := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, o)
			recs := records(1, 6)
			recs[2] = `{"order_id": 3}` // no customer_id: NULL in a NOT NULL column
			recs[4] = `{"order_id": 5, "customer_id": 1, "status": "PAID", "total": "lots", "currency": "eur", "items": 1}`
			before := e.stored()
			// A blank line first: lines count as sent, so record 3 is on line 4.
			r := e.ingest("orders", "\n"+jsonl(recs))
			var a rejectedAnswer
			if err := json.Unmarshal(r.body, &a); err != nil || r.code != http.StatusUnprocessableEntity {
				t.Fatalf("records the transform cannot map: %d %s (%v), want 422", r.code, r.body, err)
			}
			if !strings.HasPrefix(a.Error, "line 4: the transform of orders cannot map this record: ") ||
				!strings.Contains(a.Error, `null value in column "customer_id"`) || !strings.Contains(a.Error, "SQLSTATE 23502") ||
				!strings.Contains(a.Error, "(line 6)") || !strings.Contains(a.Error, "nothing was stored") ||
				!strings.Contains(a.Error, "source.on_transform_error: quarantine") {
				t.Errorf("message: %s", a.Error)
			}
			d := a.Detail
			if len(d.Records) != 2 || d.Records[0].Line != 4 || d.Records[0].SQLState != "23502" ||
				d.Records[1].Line != 6 || d.Records[1].SQLState != "22P02" || !strings.Contains(d.Records[1].Error, `"lots"`) ||
				d.RecordsStored != 0 || d.ConfigKey != "source.on_transform_error" {
				t.Errorf("detail: %s", r.body)
			}
			if after := e.stored(); after != before {
				t.Fatalf("a rejected ingest stored something: %s -> %s", before, after)
			}

			r = e.ingest("orders", "["+strings.Join(records(10, 2), ",")+`, {"order_id": 12}]`)
			if err := json.Unmarshal(r.body, &a); err != nil || r.code != http.StatusUnprocessableEntity ||
				!strings.HasPrefix(a.Error, "record 3: ") || !a.Detail.Records[0].Array {
				t.Fatalf("an array whose third record the transform cannot map: %d %s", r.code, r.body)
			}
			if after := e.stored(); after != before {
				t.Fatalf("a rejected array stored something: %s -> %s", before, after)
			}

			if r := e.ingest("orders", jsonl(records(20, 3))); r.code != http.StatusOK {
				t.Fatalf("good records after the rejections: %d %s", r.code, r.body)
			}
			if n := e.count(`SELECT count(*) FROM orders WHERE order_id BETWEEN 20 AND 22`); n != 3 {
				t.Fatalf("Layer 2 has %d of the 3 good orders", n)
			}
			m := string(e.get("/metrics").body)
			if !strings.Contains(m, `strata_transform_failed_records_total{dataset="orders",outcome="rejected"} 3`) {
				t.Errorf("metrics lack 3 rejected records:\n%s", m)
			}
		})
	}
}

// quarantineAnswer is the part of an ingest answer about quarantine.
type quarantineAnswer struct {
	Records            int64        `json:"records"`
	Quarantined        int          `json:"quarantined"`
	QuarantinedRecords []recordJSON `json:"quarantined_records"`
	Objects            []struct {
		Rows int64  `json:"rows"`
		Key  string `json:"key"`
	} `json:"objects"`
}

func TestQuarantinedRecordsAreStoredArchivedAsReceivedAndCounted(t *testing.T) {
	for name, o := range backends(t) {
		t.Run(name, func(t *testing.T) {
			o.onTransformError = "quarantine"
			e := newEnv(t, o)
			recs := records(1, 6)
			recs[1] = `{"order_id": 2}`
			recs[4] = `{"order_id": 5, "customer_id": 1, "status": "PAID", "total": "lots", "currency": "eur", "items": 1}`
			r := e.ingest("orders", jsonl(recs))
			var a quarantineAnswer
			if err := json.Unmarshal(r.body, &a); err != nil || r.code != http.StatusOK {
				t.Fatalf("ingest with quarantine: %d %s (%v)", r.code, r.body, err)
			}
			if a.Records != 6 || a.Quarantined != 2 || len(a.QuarantinedRecords) != 2 || a.QuarantinedRecords[0].Line != 2 ||
				a.QuarantinedRecords[0].SQLState != "23502" || a.QuarantinedRecords[1].Line != 5 ||
				a.QuarantinedRecords[1].SQLState != "22P02" || len(a.Objects) != 1 || a.Objects[0].Rows != 6 {
				t.Fatalf("answer: %s", r.body)
			}
			// Layer 3 holds all six as received, the two unprocessed; Layer
			// 2 the four others; the catalog the two errors, open.
			if n := e.count(`SELECT count(*) FROM source_orders`); n != 6 {
				t.Errorf("Layer 3 has %d records, want 6", n)
			}
			if n := e.count(`SELECT count(*) FROM source_orders WHERE NOT processed AND raw_data::text IN ('` +
				recs[1] + `', '` + strings.ReplaceAll(recs[4], `'`, `''`) + `')`); n != 2 {
				t.Errorf("%d of the 2 failing records are unprocessed in Layer 3", n)
			}
			if n := e.count(`SELECT count(*) FROM source_orders WHERE processed`); n != 4 {
				t.Errorf("%d records processed, want 4", n)
			}
			if n := e.count(`SELECT count(*) FROM orders WHERE order_id IN (1, 3, 4, 6)`); n != 4 || e.count(`SELECT count(*) FROM orders WHERE order_id IN (2, 5)`) != 0 {
				t.Errorf("Layer 2 has %d of the 4 good orders, or a failing one", n)
			}
			if n := e.count(`SELECT count(*) FROM strata.quarantine q JOIN source_orders s ON s.raw_id = q.id
				WHERE q.dataset = 'orders' AND q.resolved_at IS NULL AND q.ingested_at = s.ingested_at
				  AND ((q.sqlstate = '23502' AND q.error LIKE '%customer_id%') OR (q.sqlstate = '22P02' AND q.error LIKE '%lots%'))`); n != 2 {
				t.Errorf("strata.quarantine has %d of the 2 errors", n)
			}
			if n := e.count(`SELECT count(*) FROM strata.source_archived a JOIN strata.objects o ON o.id = a.object_id
				WHERE o.state = 'committed' AND o.rows = 6`); n != 6 {
				t.Errorf("%d of the 6 records are in the committed source object", n)
			}
			j := e.get("/v1/datasets/orders/archive/source?columns=raw_data&from=" + today() + "&to=" + today())
			lines := strings.Split(strings.TrimSpace(string(j.body)), "\n")
			if j.code != http.StatusOK || len(lines) != 6 {
				t.Fatalf("the source archive: %d %s", j.code, j.body)
			}
			for i, l := range lines {
				var row struct {
					Raw string `json:"raw_data"`
				}
				if err := json.Unmarshal([]byte(l), &row); err != nil || row.Raw != recs[i] {
					t.Errorf("archived record %d: %s, want it as received: %s", i+1, l, recs[i])
				}
			}
			m := string(e.get("/metrics").body)
			if !strings.Contains(m, `strata_transform_failed_records_total{dataset="orders",outcome="quarantined"} 2`) {
				t.Errorf("metrics lack 2 quarantined records")
			}
		})
	}
}

// An error that is not the data's (here the transform raising an internal
// error, SQLSTATE XX000, for one record) is the server's: a 500 whose
// message points at the log, never a 422, and nothing is stored.
func TestATransformFailureThatIsNotTheDatasIsA500(t *testing.T) {
	e := newEnv(t, envOptions{})
	if _, err := e.pool.Exec(context.Background(), `CREATE FUNCTION boom(id text) RETURNS bigint LANGUAGE plpgsql AS $$
		BEGIN IF id = '3' THEN RAISE EXCEPTION 'boom' USING ERRCODE = 'XX000'; END IF; RETURN id::bigint; END $$`); err != nil {
		t.Fatal(err)
	}
	ds, _ := e.svc.Config().Dataset("orders")
	path := e.svc.Config().TransformPath(ds)
	sql, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(sql), "x.order_id::bigint", "boom(x.order_id)", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	before := e.stored()
	r := e.ingest("orders", jsonl(records(1, 5)))
	if msg, _, _ := errorOf(t, r); r.code != http.StatusInternalServerError || !strings.HasPrefix(msg, "internal error") {
		t.Fatalf("a transform that raises XX000: %d %s, want a 500", r.code, r.body)
	}
	if after := e.stored(); after != before {
		t.Fatalf("a failed ingest stored something: %s -> %s", before, after)
	}
	if !strings.Contains(e.logs.String(), "boom (SQLSTATE XX000)") {
		t.Errorf("the log lacks the database's error:\n%s", e.logs.String())
	}
}
