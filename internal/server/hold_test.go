package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/archive"
)

// holdAnswer is the part of a hold the tests read.
type holdAnswer struct {
	ID      int64  `json:"id"`
	Reason  string `json:"reason"`
	Objects int64  `json:"objects"`
	Created struct {
		By, Via, Addr string
	} `json:"created"`
	Released *struct {
		By, Via, Reason string
	} `json:"released"`
}

func holdOf(t *testing.T, r response, code int) holdAnswer {
	t.Helper()
	var h holdAnswer
	if r.code != code {
		t.Fatalf("status %d, want %d: %s", r.code, code, r.body)
	}
	if err := json.Unmarshal(r.body, &h); err != nil {
		t.Fatalf("not a hold (%v): %s", err, r.body)
	}
	return h
}

// oldOrders are n order records whose ordered_at is 100 days ago: ingested
// today, their analytics rows are past the 90-day retention at once.
func oldOrders(n int) (string, string) {
	at := time.Now().UTC().AddDate(0, 0, -100)
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, `{"order_id": %d, "customer_id": 1, "status": "PAID", "total": "1.50", "currency": "eur", "items": 1, "ordered_at": "%s"}`+"\n",
			9000+i, at.Format(time.RFC3339))
	}
	return b.String(), at.Format(time.DateOnly)
}

func TestAHoldOverHTTPStopsAReplayFromSupersedingUntilReleased(t *testing.T) {
	for kind, o := range backends(t) {
		t.Run(kind, func(t *testing.T) {
			e := newEnv(t, o)
			body, day := oldOrders(10)
			if r := e.ingest("orders", body); r.code != http.StatusOK {
				t.Fatalf("ingest: %d %s", r.code, r.body)
			}
			if _, err := e.svc.ArchiveAnalytics(context.Background(), "orders", archive.Options{}); err != nil {
				t.Fatal(err)
			}
			h := holdOf(t, e.postJSON("/v1/holds", `{"dataset": "orders", "type": "analytics", "from": "`+day+`", "to": "`+day+`", "reason": "case 24-117"}`), http.StatusCreated)
			if h.ID == 0 || h.Objects != 1 || h.Created.Via != "http" || h.Created.Addr == "" {
				t.Fatalf("hold %+v", h)
			}

			replay := candidateBody(t, upperStatus(t), "upper.sql", true)
			r := e.postJSON("/v1/datasets/orders/replay", replay)
			msg, detail, _ := errorOf(t, r)
			holds, _ := detail.(map[string]any)["holds"].([]any)
			if r.code != http.StatusConflict || !strings.Contains(msg, `"case 24-117"`) || len(holds) != 1 ||
				holds[0].(map[string]any)["id"] != float64(h.ID) {
				t.Fatalf("replay over a held day: %d %s", r.code, r.body)
			}
			if n := e.count(`SELECT count(*) FROM strata.objects WHERE superseded_by IS NOT NULL`); n != 0 {
				t.Fatalf("%d objects superseded under a hold", n)
			}

			var list struct{ Holds []holdAnswer }
			if r := e.get("/v1/holds?dataset=orders"); r.code != http.StatusOK || json.Unmarshal(r.body, &list) != nil || len(list.Holds) != 1 {
				t.Fatalf("list: %d %s", r.code, r.body)
			}
			rel := holdOf(t, e.postJSON(fmt.Sprintf("/v1/holds/%d/release", h.ID), `{"reason": "settled"}`), http.StatusOK)
			if rel.Released == nil || rel.Released.Reason != "settled" || rel.Released.Via != "http" {
				t.Fatalf("release: %+v", rel)
			}
			if r := e.postJSON(fmt.Sprintf("/v1/holds/%d/release", h.ID), `{"reason": "again"}`); r.code != http.StatusConflict {
				t.Fatalf("second release: %d %s", r.code, r.body)
			}
			if r := e.get("/v1/holds"); json.Unmarshal(r.body, &list) != nil || len(list.Holds) != 0 {
				t.Fatalf("active holds after release: %s", r.body)
			}
			if r := e.get("/v1/holds?all=true"); !strings.Contains(string(r.body), `"settled"`) {
				t.Fatalf("all holds: %s", r.body)
			}
			if a := compareAnswerOf(t, e.postJSON("/v1/datasets/orders/replay", replay)); a.Applied == nil {
				t.Fatalf("replay after release: %+v", a)
			}
			if n := e.count(`SELECT count(*) FROM strata.objects WHERE superseded_by IS NOT NULL`); n != 1 {
				t.Fatalf("%d objects superseded after release, want 1", n)
			}
		})
	}
}

func TestHoldRequestsThatAreWrongAre4xxAndRecordNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	ok := `"dataset": "orders", "from": "2024-01-01", "to": "2024-01-31"`
	for _, c := range []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"no reason", "POST", "/v1/holds", `{` + ok + `}`, 400, "reason is required"},
		{"a blank reason", "POST", "/v1/holds", `{` + ok + `, "reason": "  "}`, 400, "reason is required"},
		{"no period", "POST", "/v1/holds", `{"dataset": "orders", "reason": "r"}`, 400, "from and to are required"},
		{"a reversed period", "POST", "/v1/holds", `{"dataset": "orders", "from": "2024-02-01", "to": "2024-01-01", "reason": "r"}`, 400, "before"},
		{"a bad time", "POST", "/v1/holds", `{"dataset": "orders", "from": "soon", "to": "2024-01-01", "reason": "r"}`, 400, "RFC 3339"},
		{"an unknown field", "POST", "/v1/holds", `{` + ok + `, "reason": "r", "force": true}`, 400, "unknown field"},
		{"a bad type", "POST", "/v1/holds", `{` + ok + `, "reason": "r", "type": "both; DROP TABLE x"}`, 400, "source, analytics or both"},
		{"a hostile dataset", "POST", "/v1/holds", `{"dataset": "../x", "from": "2024-01-01", "to": "2024-01-02", "reason": "r"}`, 400, "not a dataset name"},
		{"an unknown dataset", "POST", "/v1/holds", `{"dataset": "nope", "from": "2024-01-01", "to": "2024-01-02", "reason": "r"}`, 404, "no dataset"},
		{"a huge reason", "POST", "/v1/holds", `{` + ok + `, "reason": "` + strings.Repeat("x", 20000) + `"}`, 400, ""},
		{"two objects", "POST", "/v1/holds", `{` + ok + `, "reason": "r"} {}`, 400, "one JSON object"},
		{"a query parameter", "GET", "/v1/holds?datasets=orders", ``, 400, "unknown parameter"},
		{"a bad all", "GET", "/v1/holds?all=maybe", ``, 400, "all"},
		{"a bad id", "POST", "/v1/holds/x1/release", `{"reason": "r"}`, 400, "hold id"},
		{"an unknown id", "POST", "/v1/holds/77/release", `{"reason": "r"}`, 404, "no such hold"},
		{"a release with more", "POST", "/v1/holds/77/release", `{"reason": "r", "dataset": "orders"}`, 400, "only \"reason\""},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := e.do(c.method, c.path, strings.NewReader(c.body))
			msg, _, _ := errorOf(t, r)
			if r.code != c.code || !strings.Contains(msg, c.want) {
				t.Fatalf("%d %q; want %d and %q", r.code, msg, c.code, c.want)
			}
		})
	}
	if n := e.count(`SELECT count(*) FROM strata.holds`); n != 0 {
		t.Fatalf("%d holds recorded", n)
	}
}
