package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/config"
)

// Requests are recorded with the token's name and the client's address;
// GET /v1/audit lists them, and a token limited to some datasets sees
// only their records.
func TestRequestsAreRecordedWithTheTokensNameAndListedByDataset(t *testing.T) {
	toks := tokens{}
	e := newEnv(t, envOptions{archivedDays: 2, limits: withTokens(toks, map[string]config.Token{
		"alice":        {Scopes: []string{"read", "admin"}, Datasets: []string{"*"}},
		"orders-admin": {Scopes: []string{"admin"}, Datasets: []string{"orders"}},
	})})
	for _, ds := range []string{"orders", "customers"} {
		r := e.do("GET", "/v1/datasets/"+ds+"/archive/analytics?from=2000-01-01&to=2009-12-31", nil, bearer(toks["alice"])...)
		if r.code != http.StatusOK {
			t.Fatalf("retrieve %s: %d %s", ds, r.code, r.body)
		}
	}
	list := func(token, query string) []map[string]any {
		t.Helper()
		r := e.do("GET", "/v1/audit"+query, nil, bearer(toks[token])...)
		if r.code != http.StatusOK {
			t.Fatalf("%s %s: %d %s", token, query, r.code, r.body)
		}
		var out struct{ Records []map[string]any }
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		return out.Records
	}
	recs := list("alice", "?who=alice")
	if len(recs) != 2 || recs[0]["dataset"] != "orders" || recs[1]["dataset"] != "customers" {
		t.Fatalf("alice's records: %v", recs)
	}
	for _, r := range recs {
		if r["via"] != "http" || r["addr"] != "127.0.0.1" || r["action"] != "retrieve" || r["result"] != "ok" {
			t.Errorf("record %v", r)
		}
	}
	if n := len(list("alice", "?dataset=orders&who=alice")); n != 1 {
		t.Errorf("alice lists %d orders records, want 1", n)
	}
	for _, r := range list("orders-admin", "") {
		if r["dataset"] != "orders" {
			t.Errorf("a token for orders sees a record of %v", r["dataset"])
		}
	}
	r := e.do("GET", "/v1/audit?dataset=customers", nil, bearer(toks["orders-admin"])...)
	if msg, _, _ := errorOf(t, r); r.code != http.StatusForbidden || !strings.Contains(msg, "customers") {
		t.Fatalf("audit of customers with an orders token: %d %s", r.code, msg)
	}
	for q, code := range map[string]int{"?limit=0": 400, "?from=2024-02-01&to=2024-01-01": 400, "?dataset=nosuch": 404, "?wh=alice": 400} {
		if r := e.do("GET", "/v1/audit"+q, nil, bearer(toks["alice"])...); r.code != code {
			t.Errorf("%s: %d, want %d: %s", q, r.code, code, r.body)
		}
	}
}
