package archive_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/archive"
)

// TestIngestedObjectsHoldTheRowsLayer3Holds checks the objects an ingest
// writes from the records in memory (not read back from Layer 3) against
// what PostgreSQL stored, for each payload type: the same ids, ingestion
// times and SHA-256 of the payload, computed by PostgreSQL.
func TestIngestedObjectsHoldTheRowsLayer3Holds(t *testing.T) {
	for _, tc := range []struct {
		typ string
		oid uint32
	}{{"json", 114}, {"text", 25}, {"bytea", 17}} {
		t.Run(tc.typ, func(t *testing.T) {
			f := newSourceFixture(t, false)
			if tc.typ != "json" {
				exec(t, f.pool, `ALTER TABLE source_events ALTER COLUMN raw_data TYPE `+tc.typ+` USING raw_data::text::`+tc.typ)
			}
			recs := []string{`{"id":1,   "v":"caf\u00e9 ☕"}`, "{\"id\":2,\t\"v\":\"\\\"q\\\"\"}", `{"v":"é","id":3,"id":3}`}
			if _, err := f.arch.Ingest(context.Background(), f.spec, records(recs...)); err != nil {
				t.Fatal(err)
			}
			rows, err := f.pool.Query(context.Background(), `SELECT raw_id, to_json(ingested_at)#>>'{}', `+
				archive.ShaExpr("raw_data", tc.oid)+` FROM source_events ORDER BY raw_id`)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for rows.Next() {
				var id int64
				var at, sha string
				if err := rows.Scan(&id, &at, &sha); err != nil {
					t.Fatal(err)
				}
				want = append(want, strings.Join([]string{jsonNumber(id), at, sha}, " "))
			}
			var got []string
			for _, line := range strings.Split(strings.TrimSpace(retrieveSource(t, f, "jsonl")), "\n") {
				var row struct {
					RawID      int64  `json:"raw_id"`
					IngestedAt string `json:"ingested_at"`
					RawSHA256  string `json:"raw_sha256"`
				}
				if err := json.Unmarshal([]byte(line), &row); err != nil {
					t.Fatalf("%v: %s", err, line)
				}
				got = append(got, strings.Join([]string{jsonNumber(row.RawID), row.IngestedAt, row.RawSHA256}, " "))
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Fatalf("archived rows (id, time, sha256):\n%s\nLayer 3 as PostgreSQL computes them:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func jsonNumber(n int64) string { b, _ := json.Marshal(n); return string(b) }
