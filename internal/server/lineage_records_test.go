package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestLineageOfAPeriodOverHTTP(t *testing.T) {
	e := newEnv(t, envOptions{})
	if r := e.ingest("orders", jsonl(records(7000, 30))); r.code != http.StatusOK {
		t.Fatalf("ingest: %d %s", r.code, r.body)
	}
	r := e.get("/v1/datasets/orders/lineage?from=" + today() + "&to=" + today() + "&verify=true")
	if r.code != http.StatusOK {
		t.Fatalf("lineage: %d %s", r.code, r.body)
	}
	var rep struct {
		Dataset string `json:"dataset"`
		Source  struct {
			Objects []struct {
				Key      string `json:"key"`
				SHA256   string `json:"sha256"`
				Verified string `json:"verified"`
			} `json:"objects"`
		} `json:"source"`
		Batches []struct {
			Kind       string `json:"kind"`
			Layer3Rows int64  `json:"layer3_rows"`
		} `json:"batches"`
		Transforms []struct {
			Text    string `json:"text"`
			Current bool   `json:"current"`
		} `json:"transforms"`
		Integrity struct {
			OK bool `json:"ok"`
		} `json:"integrity"`
	}
	if err := json.Unmarshal(r.body, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Dataset != "orders" || len(rep.Source.Objects) != 1 || rep.Source.Objects[0].Verified != "ok" ||
		len(rep.Source.Objects[0].SHA256) != 64 || len(rep.Batches) != 1 || rep.Batches[0].Layer3Rows != 30 ||
		len(rep.Transforms) != 1 || !rep.Transforms[0].Current || !strings.Contains(rep.Transforms[0].Text, "{{source}}") || !rep.Integrity.OK {
		t.Errorf("lineage answer: %s", r.body)
	}
	for path, want := range map[string]int{
		"/v1/datasets/orders/lineage?from=" + today():                            http.StatusBadRequest,
		"/v1/datasets/orders/lineage?from=2024-11-02&to=2024-11-01":              http.StatusBadRequest,
		"/v1/datasets/orders/lineage?from=2024-11-01&to=2024-11-02&verify=maybe": http.StatusBadRequest,
		"/v1/datasets/orders/lineage?from=2024-11-01&to=2024-11-02&format=xml":   http.StatusBadRequest,
		"/v1/datasets/nosuch/lineage?from=2024-11-01&to=2024-11-02":              http.StatusNotFound,
		"/v1/datasets/Bad%20Name/lineage?from=2024-11-01&to=2024-11-02":          http.StatusBadRequest,
	} {
		if got := e.get(path); got.code != want {
			t.Errorf("GET %s: %d %s, want %d", path, got.code, got.body, want)
		}
	}
}
