package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// compareAnswer is the part of a compare or replay answer the tests read.
type compareAnswer struct {
	Dataset                               string `json:"dataset"`
	Matched, Missing, Unexpected, Changed int64
	Columns                               map[string]int64
	Agree                                 bool
	SourceRecords                         map[string]int64 `json:"source_records"`
	TransformVersion                      string           `json:"transform_version"`
	Applied                               *struct {
		Inserted, Updated int64
		Lineage           int64 `json:"lineage_id"`
	}
}

func (e *env) postJSON(path, body string) response {
	e.t.Helper()
	return e.do("POST", path, strings.NewReader(body), "Content-Type", "application/json")
}

func compareAnswerOf(t *testing.T, r response) compareAnswer {
	t.Helper()
	var a compareAnswer
	if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d: %s", r.code, r.body)
	}
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatalf("answer is not a report (%v): %s", err, r.body)
	}
	return a
}

func TestCompareAndReplayOverHTTP(t *testing.T) {
	e := newEnv(t, envOptions{})
	if r := e.ingest("orders", jsonl(records(7000, 30))); r.code != http.StatusOK {
		t.Fatalf("ingest: %d %s", r.code, r.body)
	}
	period := `{"from": "` + today() + `", "to": "` + today() + `"}`
	a := compareAnswerOf(t, e.postJSON("/v1/datasets/orders/compare", period))
	if a.Dataset != "orders" || a.Matched != 30 || !a.Agree || a.SourceRecords["archive"] != 30 || len(a.TransformVersion) != 64 {
		t.Fatalf("compare after ingest: %+v", a)
	}
	if _, err := e.pool.Exec(context.Background(), `UPDATE orders SET currency = 'USD' WHERE order_id IN (7000, 7001)`); err != nil {
		t.Fatal(err)
	}
	a = compareAnswerOf(t, e.postJSON("/v1/datasets/orders/compare", period))
	if a.Agree || a.Changed != 2 || a.Columns["currency"] != 2 || a.Matched != 28 {
		t.Fatalf("compare after damage: %+v", a)
	}
	dry := compareAnswerOf(t, e.postJSON("/v1/datasets/orders/replay", strings.TrimSuffix(period, "}")+`, "apply": false}`))
	if dry.Changed != 2 || dry.Applied != nil || e.count(`SELECT count(*) FROM orders WHERE currency = 'USD'`) != 2 {
		t.Fatalf("dry replay: %+v", dry)
	}
	applied := compareAnswerOf(t, e.postJSON("/v1/datasets/orders/replay", strings.TrimSuffix(period, "}")+`, "apply": true}`))
	if applied.Applied == nil || applied.Applied.Updated != 2 || applied.Applied.Lineage == 0 || e.count(`SELECT count(*) FROM orders WHERE currency = 'USD'`) != 0 {
		t.Fatalf("replay with apply: %+v", applied)
	}
	if a := compareAnswerOf(t, e.postJSON("/v1/datasets/orders/compare", period)); !a.Agree || a.Matched != 30 {
		t.Fatalf("compare after replay: %+v", a)
	}
}

func TestCompareAndReplayRefuseBadInputChangingNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	if r := e.ingest("orders", jsonl(records(1, 3))); r.code != http.StatusOK {
		t.Fatalf("ingest: %d %s", r.code, r.body)
	}
	if _, err := e.pool.Exec(context.Background(), `UPDATE orders SET status = 'x'`); err != nil {
		t.Fatal(err)
	}
	before := e.state()
	period := `{"from": "` + today() + `", "to": "` + today() + `"`
	for _, c := range []struct {
		what, path, body string
		code             int
		want             string
	}{
		{"an unknown dataset", "/v1/datasets/nosuch/compare", period + "}", 404, `no dataset "nosuch"`},
		{"a dataset without a transform", "/v1/datasets/customers/replay", period + `, "apply": true}`, 400, "needs a source table"},
		{"a bad dataset name", "/v1/datasets/Orders;/compare", period + "}", 400, "not a dataset name"},
		{"no body", "/v1/datasets/orders/compare", "", 400, "body"},
		{"a body that is not JSON", "/v1/datasets/orders/replay", "from=2024-01-01", 400, "body"},
		{"an unknown field", "/v1/datasets/orders/replay", period + `, "aply": true}`, 400, "aply"},
		{"apply on compare", "/v1/datasets/orders/compare", period + `, "apply": true}`, 400, "apply"},
		{"apply that is not a boolean", "/v1/datasets/orders/replay", period + `, "apply": "yes"}`, 400, "apply"},
		{"two objects", "/v1/datasets/orders/replay", period + `, "apply": true} {}`, 400, "one JSON object"},
		{"no to", "/v1/datasets/orders/replay", `{"from": "2024-01-01", "apply": true}`, 400, "from and to are required"},
		{"a bad time", "/v1/datasets/orders/replay", `{"from": "yesterday", "to": "2024-01-01", "apply": true}`, 400, "RFC 3339"},
		{"a reversed period", "/v1/datasets/orders/replay", `{"from": "2024-02-01", "to": "2024-01-01", "apply": true}`, 400, "before"},
		{"a query parameter", "/v1/datasets/orders/replay?apply=true", period + "}", 400, "unknown parameter"},
		{"a huge body", "/v1/datasets/orders/replay", `{"from": "` + strings.Repeat("9", 600000) + `"}`, 400, "over"},
	} {
		r := e.postJSON(c.path, c.body)
		msg, _, _ := errorOf(t, r)
		if r.code != c.code || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %q, want %d saying %q", c.what, r.code, msg, c.code, c.want)
		}
	}
	if r := e.get("/v1/datasets/orders/compare"); r.code != http.StatusMethodNotAllowed {
		t.Errorf("GET compare: %d %s", r.code, r.body)
	}
	if after := e.state(); after != before || e.count(`SELECT count(*) FROM orders WHERE status = 'x'`) != 3 {
		t.Fatalf("bad requests changed something: %s -> %s", before, after)
	}
}
