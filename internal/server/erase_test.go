package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func TestErasureOverHTTPDryRunThenEraseThenShowAndList(t *testing.T) {
	e := newEnv(t, envOptions{archivedDays: 2, perDay: 10})
	if r := e.ingest("orders", jsonl(records(5000, 14))); r.code != http.StatusOK {
		t.Fatalf("ingest: %d %s", r.code, r.body)
	}
	// customer 1003: orders 5003 and 5010 in Layer 3, Layer 2 and the source archive
	post := func(body string) response {
		return e.do("POST", "/v1/datasets/orders/erasures", strings.NewReader(body))
	}
	var cert struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
		Layer3 struct {
			Rows int64 `json:"rows"`
		} `json:"layer3"`
	}
	r := post(`{"subject": "1003", "reason": "GDPR #1", "dry_run": true}`)
	if err := json.Unmarshal(r.body, &cert); r.code != http.StatusOK || err != nil || cert.Status != "dry-run" || cert.Layer3.Rows != 2 {
		t.Fatalf("dry run: %d %s", r.code, r.body)
	}
	r = post(`{"subject": "1003", "reason": "GDPR #1"}`)
	if err := json.Unmarshal(r.body, &cert); r.code != http.StatusOK || err != nil || cert.Status != "done" || cert.Layer3.Rows != 2 {
		t.Fatalf("erase: %d %s", r.code, r.body)
	}
	if n := e.count(`SELECT count(*) FROM source_orders WHERE raw_data->>'customer_id' = '1003'`); n != 0 {
		t.Errorf("%d records of the subject left in Layer 3", n)
	}
	if r := e.get(fmt.Sprintf("/v1/erasures/%d", cert.ID)); r.code != http.StatusOK || !strings.Contains(string(r.body), `"status": "done"`) {
		t.Errorf("show: %d %s", r.code, r.body)
	}
	if r := e.get("/v1/erasures?dataset=orders"); r.code != http.StatusOK || !strings.Contains(string(r.body), `"reason": "GDPR #1"`) {
		t.Errorf("list: %d %s", r.code, r.body)
	}
	cases := map[string]int{
		`{"subject": "", "reason": "x"}`:                 http.StatusBadRequest,
		`{"subject": "1003"}`:                            http.StatusBadRequest,
		`{"subject": "1003", "reason": "x", "extra": 1}`: http.StatusBadRequest,
		`not json`: http.StatusBadRequest,
		`{"subject": "x'; DROP TABLE orders; --", "reason": "x"}`: http.StatusOK, // no such subject: nothing erased
	}
	for body, want := range cases {
		if r := post(body); r.code != want {
			t.Errorf("%s: %d %s, want %d", body, r.code, r.body, want)
		}
	}
	if r := e.get("/v1/erasures/0"); r.code != http.StatusBadRequest {
		t.Errorf("/v1/erasures/0: %d", r.code)
	}
	if r := e.get("/v1/erasures/424242"); r.code != http.StatusNotFound {
		t.Errorf("/v1/erasures/424242: %d", r.code)
	}
	if r := e.do("POST", "/v1/datasets/customers/erasures", strings.NewReader(`{"subject": "1", "reason": "x"}`)); r.code != http.StatusBadRequest {
		t.Errorf("a dataset without subject: %d %s, want 400", r.code, r.body)
	}
	if n := e.count(`SELECT count(*) FROM orders`); n == 0 {
		t.Error("a hostile subject emptied the table")
	}
}
