package server_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/parquetio"
)

// ingestAnswer mirrors the JSON answer of an ingest.
type ingestAnswer struct {
	Dataset  string `json:"dataset"`
	Records  int64  `json:"records"`
	Received int64  `json:"received"`
	Batches  int    `json:"batches"`
	Bytes    int64  `json:"bytes"`
	Objects  []struct {
		Day   string `json:"day"`
		Rows  int64  `json:"rows"`
		Bytes int64  `json:"bytes"`
		Key   string `json:"key"`
	} `json:"objects"`
}

func TestIngestedRecordsComeBackFromTheSourceArchiveInEveryFormat(t *testing.T) {
	e := newEnv(t, envOptions{})
	recs := records(5000, 40)
	r := e.ingest("orders", jsonl(recs))
	if r.code != http.StatusOK {
		t.Fatalf("ingest: %d %s", r.code, r.body)
	}
	var a ingestAnswer
	if err := json.Unmarshal(r.body, &a); err != nil {
		t.Fatal(err)
	}
	if a.Dataset != "orders" || a.Records != 40 || a.Received != 40 || a.Batches != 1 || len(a.Objects) != 1 ||
		a.Objects[0].Day != today() || a.Objects[0].Rows != 40 || !strings.HasPrefix(a.Objects[0].Key, "svc/source/orders/") {
		t.Fatalf("ingest answer: %s", r.body)
	}
	if n := e.count(`SELECT count(*) FROM orders WHERE order_id >= 5000`); n != 40 {
		t.Fatalf("Layer 2 has %d of the 40 orders", n)
	}
	path := "/v1/datasets/orders/archive/source?from=" + today() + "&to=" + today()

	j := e.get(path + "&columns=raw_data")
	if j.code != http.StatusOK || j.header.Get("Content-Type") != "application/x-ndjson" || j.header.Get("X-Strata-Objects") != "1" {
		t.Fatalf("jsonl: %d %v %s", j.code, j.header, j.body)
	}
	lines := strings.Split(strings.TrimSpace(string(j.body)), "\n")
	if len(lines) != 40 {
		t.Fatalf("jsonl: %d lines, want 40", len(lines))
	}
	for i, l := range lines {
		var row struct {
			Raw string `json:"raw_data"`
		}
		if err := json.Unmarshal([]byte(l), &row); err != nil || row.Raw != recs[i] {
			t.Fatalf("jsonl line %d: %s (%v); want the record byte for byte: %s", i+1, l, err, recs[i])
		}
	}

	c := e.get(path + "&format=csv&columns=raw_id,raw_data")
	if c.code != http.StatusOK || !strings.HasPrefix(c.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %v %s", c.code, c.header, c.body)
	}
	rows, err := csv.NewReader(bytes.NewReader(c.body)).ReadAll()
	if err != nil || len(rows) != 41 || strings.Join(rows[0], ",") != "raw_id,raw_data" || rows[1][1] != recs[0] {
		t.Fatalf("csv: %d rows (%v), first %q", len(rows), err, rows[:min(2, len(rows))])
	}

	p := e.get(path + "&format=parquet")
	if p.code != http.StatusOK || p.header.Get("Content-Type") != "application/vnd.apache.parquet" || !bytes.HasPrefix(p.body, []byte("PAR1")) {
		t.Fatalf("parquet: %d %v, starts %q", p.code, p.header, p.body[:min(8, len(p.body))])
	}
	pr, err := parquetio.Open(bytes.NewReader(p.body), int64(len(p.body)))
	if err != nil || pr.NumRows() != 40 {
		t.Fatalf("parquet: %v, want 40 rows", err)
	}
}

func TestAJSONArrayBodyIsIngestedLikeJSONLines(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.ingest("orders", "[\n"+strings.Join(records(1, 3), ",\n")+"\n]")
	if r.code != http.StatusOK || !strings.Contains(string(r.body), `"records": 3`) {
		t.Fatalf("ingest of an array: %d %s", r.code, r.body)
	}
	if n := e.count(`SELECT count(*) FROM source_orders`); n != 3 {
		t.Fatalf("Layer 3 has %d rows, want 3", n)
	}
}

func TestTheCatalogListsCommittedObjectsWithTheirFacts(t *testing.T) {
	e := newEnv(t, envOptions{archivedDays: 3, perDay: 10})
	if r := e.ingest("orders", jsonl(records(5000, 5))); r.code != http.StatusOK {
		t.Fatalf("ingest: %d %s", r.code, r.body)
	}
	var all struct {
		Objects []map[string]any `json:"objects"`
	}
	r := e.get("/v1/catalog")
	if err := json.Unmarshal(r.body, &all); r.code != http.StatusOK || err != nil {
		t.Fatalf("catalog: %d %v %s", r.code, err, r.body)
	}
	if len(all.Objects) != 4 {
		t.Fatalf("catalog has %d objects, want 3 analytics days and 1 source batch: %s", len(all.Objects), r.body)
	}
	for _, k := range []string{"id", "dataset", "type", "day", "key", "rows", "bytes", "sha256", "min_time", "max_time",
		"created_at", "committed_at", "expires_at", "transform_version", "retention_mode", "retain_until", "version_id"} {
		if _, ok := all.Objects[0][k]; !ok {
			t.Errorf("catalog object has no %q: %v", k, all.Objects[0])
		}
	}
	src := e.get("/v1/catalog?dataset=orders&type=source&from=" + today() + "&to=" + today())
	if err := json.Unmarshal(src.body, &all); err != nil || len(all.Objects) != 1 || all.Objects[0]["rows"] != 5.0 {
		t.Fatalf("catalog of source objects today: %s", src.body)
	}
	cases := map[string]int{
		"/v1/catalog?dataset=nosuch":                              http.StatusNotFound,
		"/v1/catalog?type=sources":                                http.StatusBadRequest,
		"/v1/catalog?from=2024-02-01&to=2024-01-01":               http.StatusBadRequest,
		"/v1/catalog?from=yesterday":                              http.StatusBadRequest,
		"/v1/catalog?datset=orders":                               http.StatusBadRequest,
		"/v1/catalog?dataset=orders&dataset=customers":            http.StatusBadRequest,
		"/v1/catalog?dataset=orders&type=analytics&to=" + today(): http.StatusOK,
	}
	for path, want := range cases {
		if r := e.get(path); r.code != want {
			t.Errorf("%s: %d %s, want %d", path, r.code, r.body, want)
		}
	}
}

func TestHealthzIsOKWhenDatabaseAndStorageAnswer(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.get("/healthz")
	if r.code != http.StatusOK || strings.TrimSpace(string(r.body)) != "{\n  \"status\": \"ok\"\n}" {
		t.Fatalf("healthz: %d %s", r.code, r.body)
	}
	e.svc.Close() // the database is gone
	r = e.get("/healthz")
	var b struct{ Status, Detail string }
	if err := json.Unmarshal(r.body, &b); r.code != http.StatusServiceUnavailable || err != nil || b.Status != "unavailable" || !strings.Contains(b.Detail, "database") {
		t.Fatalf("healthz with the pool closed: %d %s", r.code, r.body)
	}
}

func TestMetricsCountIngestedRecordsAndRequests(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.ingest("orders", jsonl(records(1, 7)))
	e.ingest("orders", jsonl(records(100, 5)))
	e.get("/v1/datasets/orders/archive/source?from=" + today() + "&to=" + today())
	r := e.get("/metrics")
	body := string(r.body)
	if r.code != http.StatusOK {
		t.Fatalf("metrics: %d", r.code)
	}
	for _, want := range []string{
		`strata_ingested_records_total{dataset="orders"} 12`,
		`strata_retrieved_rows_total{dataset="orders",type="source"} 12`,
		`strata_http_request_duration_seconds_count{code="200",method="POST",route="POST /v1/datasets/{dataset}/records"} 2`,
		`strata_http_request_duration_seconds_count{code="200",method="GET",route="GET /v1/datasets/{dataset}/archive/{type}"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		t.Log(body)
	}
}

func TestTheRequestIDIsEchoedOrMadeUp(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.do("GET", "/v1/catalog?type=nope", nil, "X-Request-Id", "trace-42.a:b")
	_, _, id := errorOf(t, r)
	if got := r.header.Get("X-Request-Id"); got != "trace-42.a:b" || id != got {
		t.Fatalf("request id %q, in the error body %q; want the one sent", got, id)
	}
	made := regexp.MustCompile(`^[0-9a-f]{24}$`)
	for _, sent := range []string{"", "<script>alert(1)</script>", strings.Repeat("x", 65), "a b"} {
		r := e.do("GET", "/healthz", nil, "X-Request-Id", sent)
		if got := r.header.Get("X-Request-Id"); !made.MatchString(got) {
			t.Errorf("sent %q, got request id %q; want a fresh one", sent, got)
		}
	}
	if !strings.Contains(e.logs.String(), "request_id=trace-42.a:b") {
		t.Errorf("the access log does not name the request id:\n%s", e.logs)
	}
}

func TestUnknownRoutesAndMethodsGetJSONErrors(t *testing.T) {
	e := newEnv(t, envOptions{})
	cases := []struct {
		method, path string
		code         int
		allow        string
	}{
		{"GET", "/nope", http.StatusNotFound, ""},
		{"GET", "/v1/datasets/orders", http.StatusNotFound, ""},
		{"GET", "/v1/catalog/", http.StatusNotFound, ""},
		{"DELETE", "/healthz", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"POST", "/v1/catalog", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"GET", "/v1/datasets/orders/records", http.StatusMethodNotAllowed, "POST"},
		{"PUT", "/v1/datasets/orders/archive/source", http.StatusMethodNotAllowed, "GET, HEAD"},
	}
	for _, c := range cases {
		r := e.do(c.method, c.path, nil)
		errorOf(t, r)
		if r.code != c.code || r.header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d, Allow %q; want %d, Allow %q", c.method, c.path, r.code, r.header.Get("Allow"), c.code, c.allow)
		}
	}
	m := e.get("/metrics")
	if !strings.Contains(string(m.body), `code="404",method="GET",route="unmatched"`) {
		t.Errorf("unmatched requests are not labelled route=unmatched")
	}
}

func TestUnknownDatasetsAndMissingLayersAre404(t *testing.T) {
	e := newEnv(t, envOptions{})
	before := e.state()
	for _, c := range []struct{ what, method, path, want string }{
		{"ingest into an unknown dataset", "POST", "/v1/datasets/nosuch/records", "no dataset"},
		{"ingest into a dataset without a source table", "POST", "/v1/datasets/customers/records", "no source table"},
		{"retrieve an unknown dataset", "GET", "/v1/datasets/nosuch/archive/analytics?from=2024-01-01&to=2024-01-02", "no dataset"},
		{"retrieve a layer the dataset lacks", "GET", "/v1/datasets/customers/archive/source?from=2024-01-01&to=2024-01-02", "no source table"},
	} {
		r := e.do(c.method, c.path, strings.NewReader(jsonl(records(1, 2))))
		msg, _, _ := errorOf(t, r)
		if r.code != http.StatusNotFound || !strings.Contains(msg, c.want) {
			t.Errorf("%s: %d %q; want 404 saying %q", c.what, r.code, msg, c.want)
		}
	}
	if after := e.state(); after != before {
		t.Fatalf("the database changed: %s -> %s", before, after)
	}
}

func TestRetrievalOfAnalyticsRowsHonoursColumnsAndRange(t *testing.T) {
	e := newEnv(t, envOptions{archivedDays: 3, perDay: 10})
	r := e.get("/v1/datasets/orders/archive/analytics?" + wide + "&columns=order_id,total&format=csv")
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	if r.code != http.StatusOK || lines[0] != "order_id,total" || len(lines) != 31 || r.header.Get("X-Strata-Objects") != "3" {
		t.Fatalf("csv of 3 archived days: %d, %d lines, objects %s\n%s", r.code, len(lines), r.header.Get("X-Strata-Objects"), r.body)
	}
	r = e.get("/v1/datasets/orders/archive/analytics?" + wide + "&columns=nope")
	if msg, _, _ := errorOf(t, r); r.code != http.StatusBadRequest || !strings.Contains(msg, `unknown column "nope"`) {
		t.Fatalf("unknown column: %d %s\n%s", r.code, msg, e.logs)
	}
	r = e.get("/v1/datasets/orders/archive/analytics?from=2000-01-01&to=2000-01-02&format=parquet")
	if msg, _, _ := errorOf(t, r); r.code != http.StatusBadRequest || r.header.Get("Content-Disposition") != "" {
		t.Fatalf("parquet of nothing: %d %s", r.code, msg)
	}
	r = e.get("/v1/datasets/orders/archive/analytics?from=2000-01-01&to=2000-01-02")
	if r.code != http.StatusOK || len(r.body) != 0 {
		t.Fatalf("jsonl of nothing: %d %q", r.code, r.body)
	}
	if n, _ := strconv.Atoi(r.header.Get("X-Strata-Objects")); n != 0 {
		t.Fatalf("X-Strata-Objects %d for an empty range", n)
	}
}

func TestHealthzIs503WhenTheArchiveFolderIsGone(t *testing.T) {
	e := newEnv(t, envOptions{})
	if err := os.RemoveAll(e.archive); err != nil {
		t.Fatal(err)
	}
	r := e.get("/healthz")
	if r.code != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "storage") {
		t.Fatalf("healthz with the archive folder removed: %d %s", r.code, r.body)
	}
}

func TestHealthzIs503WhenAzureStorageDoesNotAnswer(t *testing.T) {
	key := os.Getenv("STRATA_TEST_AZURITE_KEY")
	if key == "" {
		t.Skip("Azurite is not running: run the tests with `make test`")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String() + "/devstoreaccount1"
	ln.Close() // nothing listens there now
	e := newEnv(t, envOptions{storage: "azblob://nosuch?account=devstoreaccount1&endpoint=" + url.QueryEscape(dead),
		getenv: map[string]string{"AZURE_STORAGE_KEY": key}})
	r := e.get("/healthz")
	if r.code != http.StatusServiceUnavailable || !strings.Contains(string(r.body), "storage") || strings.Contains(string(r.body), key) {
		t.Fatalf("healthz with the storage endpoint down: %d %s", r.code, r.body)
	}
}
