package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/transforms"
)

// candidateBody is a compare or replay body with a candidate transform.
func candidateBody(t *testing.T, sql, name string, apply bool) string {
	t.Helper()
	b, err := json.Marshal(map[string]any{"from": today(), "to": today(), "transform": sql, "transform_name": name})
	if err != nil {
		t.Fatal(err)
	}
	if apply {
		return strings.TrimSuffix(string(b), "}") + `, "apply": true}`
	}
	return string(b)
}

// upperStatus is the example orders transform upper-casing the status.
func upperStatus(t *testing.T) string {
	t.Helper()
	sql, err := transforms.FS.ReadFile("orders.sql")
	if err != nil || !strings.Contains(string(sql), "lower(x.status)") {
		t.Fatalf("the orders transform: %v", err)
	}
	return strings.Replace(string(sql), "lower(x.status)", "upper(x.status)", 1)
}

// catalogRows counts what a compare or a failed replay must not write
// (not env.state's tables: a compare's temporary tables outlive its
// answer for a moment, while PostgreSQL ends its session).
func (e *env) catalogRows() string {
	e.t.Helper()
	var s string
	for _, table := range []string{"source_orders", "orders", "strata.objects", "strata.runs", "strata.lineage", "strata.transforms", "strata.uploads"} {
		s += table + "=" + strconv.FormatInt(e.count(`SELECT count(*) FROM `+table), 10) + " "
	}
	return s + "paid=" + strconv.FormatInt(e.count(`SELECT count(*) FROM orders WHERE status = 'PAID'`), 10)
}

func TestACandidateIsTriedAndAdoptedOverHTTP(t *testing.T) {
	for name, o := range backends(t) {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, o)
			recs := records(100, 30)
			old := time.Now().UTC().AddDate(0, 0, -120).Format(time.RFC3339)
			for i := range 10 { // ten orders of 120 days ago: archived below
				recs[i] = strings.Replace(recs[i], `"ordered_at": "`, `"ordered_at": "`+old+`", "x": "`, 1)
			}
			if r := e.ingest("orders", jsonl(recs)); r.code != http.StatusOK {
				t.Fatalf("ingest: %d %s", r.code, r.body)
			}
			if rep, err := e.svc.ArchiveAnalytics(context.Background(), "orders", archive.Options{}); err != nil || rep.Rows() != 10 {
				t.Fatalf("archive: %v", err)
			}
			cand := upperStatus(t)
			before := e.catalogRows()
			var tried struct {
				compareAnswer
				ChangedArchived int64             `json:"changed_archived"`
				Candidate       map[string]string `json:"candidate"`
			}
			r := e.postJSON("/v1/datasets/orders/compare", candidateBody(t, cand, "upper.sql", false))
			if err := json.Unmarshal(r.body, &tried); err != nil || r.code != http.StatusOK || tried.Changed != 30 || tried.ChangedArchived != 10 ||
				tried.Columns["status"] != 30 || tried.Candidate["name"] != "upper.sql" || e.catalogRows() != before {
				t.Fatalf("compare with a candidate: %d %s\n%s\nwas\n%s", r.code, r.body, e.catalogRows(), before)
			}
			applied := compareAnswerOf(t, e.postJSON("/v1/datasets/orders/replay", candidateBody(t, cand, "upper.sql", true)))
			if applied.Applied == nil || applied.Applied.Updated != 20 || applied.Applied.Lineage == 0 || e.count(`SELECT count(*) FROM orders WHERE status = 'PAID'`) != 20 ||
				e.count(`SELECT count(*) FROM strata.lineage l JOIN strata.transforms t USING (dataset) WHERE t.version = l.transform_version
					AND l.detail->'candidate'->>'name' = 'upper.sql' AND l.id = `+strconv.FormatInt(applied.Applied.Lineage, 10)) != 1 {
				t.Fatalf("replay with a candidate and apply: %+v", applied)
			}
			r = e.get("/v1/datasets/orders/archive/analytics?from=" + time.Now().UTC().AddDate(0, 0, -200).Format(time.DateOnly) + "&to=" + today() + "&columns=status")
			if r.code != http.StatusOK || strings.Count(string(r.body), `{"status":"PAID"}`) != 10 || strings.Count(string(r.body), "\n") != 10 {
				t.Fatalf("the archived rows after adopting the candidate: %d %s", r.code, r.body)
			}
			after := e.catalogRows()
			if again := compareAnswerOf(t, e.postJSON("/v1/datasets/orders/replay", candidateBody(t, cand, "upper.sql", true))); !again.Agree ||
				again.Applied == nil || again.Applied.Lineage != 0 || e.catalogRows() != after {
				t.Fatalf("second apply of the candidate: %+v", again)
			}
		})
	}
}

func TestABadCandidateIs400OverHTTPWritingNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	if r := e.ingest("orders", jsonl(records(1, 5))); r.code != http.StatusOK {
		t.Fatalf("ingest: %d %s", r.code, r.body)
	}
	good := upperStatus(t)
	period := `{"from": "` + today() + `", "to": "` + today() + `"`
	before := e.catalogRows()
	for _, c := range []struct{ what, body, want string }{
		{"a division by zero", candidateBody(t, strings.Replace(good, "nullif(x.items, '')::integer", "nullif(x.items, '')::integer / 0", 1), "div.sql", true),
			"candidate transform div.sql: compare orders: the transform fails: run over the period's records: ERROR: division by zero (SQLSTATE 22012)"},
		{"an unknown column", candidateBody(t, strings.Replace(good, "upper(x.status)", "upper(x.nosuch)", 1), "", true), "column x.nosuch does not exist"},
		{"two statements", candidateBody(t, "SELECT 1 FROM {{source}} r; DELETE FROM orders", "", true), "a ; ends a statement"},
		{"not a SELECT", candidateBody(t, "DELETE FROM orders USING {{source}} r", "", true), "not SELECT"},
		{"an empty transform", period + `, "transform": " ", "apply": true}`, `"transform" is empty`},
		{"a label without a transform", period + `, "transform_name": "x.sql"}`, "which is missing"},
		{"a label with a newline", period + `, "transform": "SELECT 1", "transform_name": "a\nb"}`, "printable"},
		{"a transform that is not a string", period + `, "transform": 5}`, "transform"},
		{"a transform over 256 KiB", candidateBody(t, good+strings.Repeat("-- padding\n", 30000), "", false), "byte limit"},
		{"a body over the limit", period + `, "transform": "` + strings.Repeat("x", 600000) + `"}`, "the body is over"},
	} {
		for _, route := range []string{"compare", "replay"} {
			body := c.body
			if route == "compare" {
				body = strings.Replace(body, `, "apply": true}`, "}", 1)
			}
			r := e.postJSON("/v1/datasets/orders/"+route, body)
			msg, _, _ := errorOf(t, r)
			if r.code != http.StatusBadRequest || !strings.Contains(msg, c.want) {
				t.Errorf("%s with %s: %d %q, want 400 saying %q", route, c.what, r.code, msg, c.want)
			}
		}
	}
	if after := e.catalogRows(); after != before {
		t.Fatalf("bad candidates wrote something: %s, was %s", after, before)
	}
}
