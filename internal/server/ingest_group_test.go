package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata/internal/pgtest"
)

// answerOf decodes an ingest answer, failing unless it is a 200.
func answerOf(t *testing.T, r response) ingestAnswer {
	t.Helper()
	if r.err != nil || r.code != http.StatusOK {
		t.Fatalf("ingest: status %d (%v): %s", r.code, r.err, r.body)
	}
	var a ingestAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("ingest answer: %v: %s", err, r.body)
	}
	return a
}

// keyed posts body to orders with an Idempotency-Key.
func (e *env) keyed(key, body string) response {
	e.t.Helper()
	return e.do("POST", "/v1/datasets/orders/records", strings.NewReader(body),
		"Content-Type", "application/x-ndjson", "Idempotency-Key", key)
}

// concurrently runs fn(i) for i in [0, n) at once and waits.
func concurrently(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

func TestConcurrentIngestsShareBatchesAndGetTheirOwnCounts(t *testing.T) {
	e := newEnv(t, envOptions{})
	const n = 24
	answers := make([]response, n)
	concurrently(n, func(i int) {
		answers[i] = e.ingest("orders", jsonl(records(1000*(i+1), i+1)))
	})
	var sum int64
	for i, r := range answers {
		a := answerOf(t, r)
		if a.Records != int64(i+1) || a.Received != int64(i+1) || a.Batches != 1 {
			t.Errorf("request %d of %d records: answered records %d, received %d, batches %d", i, i+1, a.Records, a.Received, a.Batches)
		}
		sum += a.Records
	}
	objects := e.count(`SELECT count(*) FROM strata.objects WHERE archive_type = 'source'`)
	if objects >= n {
		t.Errorf("%d concurrent requests made %d source objects: they were not coalesced", n, objects)
	}
	if got := e.count(`SELECT count(*) FROM source_orders WHERE processed`); got != sum {
		t.Errorf("Layer 3 holds %d processed records, the answers counted %d", got, sum)
	}
	if got := e.count(`SELECT coalesce(sum(rows), 0) FROM strata.objects WHERE archive_type = 'source'`); got != sum {
		t.Errorf("source objects hold %d rows, the answers counted %d", got, sum)
	}
	if got := e.count(`SELECT count(*) FROM strata.lineage WHERE kind = 'ingest'`); got != objects {
		t.Errorf("%d ingest lineage records for %d objects: want one commit per batch", got, objects)
	}
	t.Logf("%d requests, %d objects", n, objects)
}

func TestABadRequestAmongConcurrentOnesIsRefusedAlone(t *testing.T) {
	e := newEnv(t, envOptions{})
	const n = 12
	answers := make([]response, n)
	concurrently(n, func(i int) {
		body := jsonl(records(100*(i+1), 5))
		if i == 5 {
			body = jsonl(records(100*(i+1), 2)) + "{not json\n"
		}
		answers[i] = e.ingest("orders", body)
	})
	for i, r := range answers {
		if i == 5 {
			if r.code != http.StatusBadRequest {
				t.Errorf("the malformed request: status %d, want 400: %s", r.code, r.body)
			}
			continue
		}
		answerOf(t, r)
	}
	if got := e.count(`SELECT count(*) FROM source_orders`); got != (n-1)*5 {
		t.Errorf("Layer 3 holds %d records, want the %d of the good requests", got, (n-1)*5)
	}
}

func TestARetryWithTheSameKeyGetsTheFirstAnswerAndStoresNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	recs := records(1, 10) // once: records carry the current second
	body := jsonl(recs)
	first := answerOf(t, e.keyed("order-batch-1", body))
	before := e.state()
	again := e.keyed("order-batch-1", body)
	a := answerOf(t, again)
	if !strings.Contains(string(again.body), `"replayed": true`) {
		t.Errorf("the retry's answer does not say replayed: %s", again.body)
	}
	if a.Records != first.Records || len(a.Objects) != len(first.Objects) || a.Objects[0].Key != first.Objects[0].Key {
		t.Errorf("the retry's answer %+v differs from the first %+v", a, first)
	}
	if after := e.state(); after != before {
		t.Errorf("the retry changed the database: %s -> %s", before, after)
	}
	// The same body as a JSON array is the same records.
	arr := "[" + strings.Join(recs, ",") + "]"
	answerOf(t, e.keyed("order-batch-1", arr))
	if after := e.state(); after != before {
		t.Errorf("the retry as an array changed the database: %s -> %s", before, after)
	}
	// Other records under the key: 409, nothing stored.
	r := e.keyed("order-batch-1", jsonl(append(recs, recs[0])))
	if r.code != http.StatusConflict {
		t.Fatalf("same key, other records: status %d, want 409: %s", r.code, r.body)
	}
	if msg, _, _ := errorOf(t, r); !strings.Contains(msg, "order-batch-1") || !strings.Contains(msg, "new key") {
		t.Errorf("the 409 does not say what to do: %s", msg)
	}
	if after := e.state(); after != before {
		t.Errorf("the conflicting request changed the database: %s -> %s", before, after)
	}
	if got := e.count(`SELECT count(*) FROM strata.ingest_keys WHERE key = 'order-batch-1' AND done AND stored = 10`); got != 1 {
		t.Errorf("strata.ingest_keys: %d done rows for the key, want 1", got)
	}
}

func TestConcurrentRetriesWithOneKeyStoreTheRecordsOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	const n = 10
	body := jsonl(records(500, 20))
	answers := make([]response, n)
	concurrently(n, func(i int) { answers[i] = e.keyed("same-key", body) })
	replayed := 0
	for _, r := range answers {
		if a := answerOf(t, r); a.Records != 20 {
			t.Errorf("answer counts %d records, want 20", a.Records)
		}
		if strings.Contains(string(r.body), `"replayed": true`) {
			replayed++
		}
	}
	if replayed != n-1 {
		t.Errorf("%d of %d answers say replayed, want %d", replayed, n, n-1)
	}
	if got := e.count(`SELECT count(*) FROM source_orders`); got != 20 {
		t.Errorf("Layer 3 holds %d records, want 20 (stored once)", got)
	}
}

func TestBadIdempotencyKeysAre400(t *testing.T) {
	e := newEnv(t, envOptions{})
	for _, key := range []string{strings.Repeat("k", 256), "tab\there", "caf\u00e9"} {
		r := e.keyed(key, jsonl(records(1, 1)))
		if r.code != http.StatusBadRequest {
			t.Errorf("key %q: status %d, want 400: %s", key, r.code, r.body)
		}
	}
	if got := e.count(`SELECT count(*) FROM source_orders`); got != 0 {
		t.Errorf("%d records stored by refused requests", got)
	}
}

func TestAnIngestWithTheDatabaseDownIs503WithRetryAfter(t *testing.T) {
	e := newEnv(t, envOptions{})
	var db string
	if err := e.pool.QueryRow(context.Background(), `SELECT current_database()`).Scan(&db); err != nil {
		t.Fatal(err)
	}
	// The database refuses new sessions and loses its current ones: an
	// outage as the service sees it.
	admin := func(sql string, args ...any) {
		t.Helper()
		conn, err := pgx.Connect(context.Background(), pgtest.AdminURL(t))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	ident := pgx.Identifier{db}.Sanitize()
	admin(`ALTER DATABASE ` + ident + ` WITH ALLOW_CONNECTIONS false`)
	t.Cleanup(func() { admin(`ALTER DATABASE ` + ident + ` WITH ALLOW_CONNECTIONS true`) })
	admin(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, db)
	r := e.ingest("orders", jsonl(records(1, 3)))
	if r.code != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Fatalf("ingest with the database down: status %d, Retry-After %q, want 503 with Retry-After: %s",
			r.code, r.header.Get("Retry-After"), r.body)
	}
	if msg, _, _ := errorOf(t, r); !strings.Contains(msg, "Idempotency-Key") {
		t.Errorf("the 503 does not tell how to retry: %s", msg)
	}
}

func TestARecordTheTransformRejectsFailsOnlyItsOwnRequestInABatch(t *testing.T) {
	e := newEnv(t, envOptions{})
	const n = 10
	answers := make([]response, n)
	concurrently(n, func(i int) {
		recs := records(100*(i+1), 4)
		if i == 3 { // well-formed JSON that the transform cannot cast
			recs[2] = `{"order_id": "not a number", "customer_id": 1, "status": "x", "total": "1", "currency": "eur", "items": 1}`
		}
		answers[i] = e.ingest("orders", jsonl(recs))
	})
	for i, r := range answers {
		if i == 3 {
			if r.code == http.StatusOK {
				t.Errorf("the request with a record the transform rejects was answered 200: %s", r.body)
			}
			continue
		}
		answerOf(t, r)
	}
	if got := e.count(`SELECT count(*) FROM source_orders WHERE processed`); got != (n-1)*4 {
		t.Errorf("Layer 3 holds %d processed records, want the %d of the other requests", got, (n-1)*4)
	}
	if got := e.count(`SELECT count(*) FROM source_orders WHERE raw_data->>'order_id' = 'not a number'`); got != 0 {
		t.Errorf("the rejected request's records were stored (%d)", got)
	}
}
