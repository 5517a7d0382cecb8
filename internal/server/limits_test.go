package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/server"
)

func TestAResultOverTheRowLimitIsRefusedOrBrokenNeverShort(t *testing.T) {
	e := newEnv(t, envOptions{archivedDays: 3, perDay: 10, limits: func(l *config.Server) { l.MaxResultRows = 15 }})
	// 30 rows in 3 whole days: known to be too many before streaming.
	r := e.get("/v1/datasets/orders/archive/analytics?" + wide)
	msg, detail, _ := errorOf(t, r)
	if r.code != http.StatusRequestEntityTooLarge || !strings.Contains(msg, "server.max_result_rows") {
		t.Fatalf("30 rows over a limit of 15: %d %q", r.code, msg)
	}
	if d, _ := detail.(map[string]any); d["limit_rows"] != 15.0 {
		t.Fatalf("detail %v, want limit_rows 15", detail)
	}
	// One whole day is under the limit.
	objs := e.catalogObjects("analytics")
	day := objs[0]["day"].(string)
	if r := e.get("/v1/datasets/orders/archive/analytics?from=" + day + "&to=" + day); r.code != http.StatusOK || strings.Count(string(r.body), "\n") != 10 {
		t.Fatalf("one day of 10 rows: %d\n%s", r.code, r.body)
	}
	// From the middle of the first day on: no object lies wholly inside,
	// so only the stream can find the result too large; the client must
	// see an error, not a complete-looking answer.
	minTime, _ := time.Parse(time.RFC3339Nano, objs[0]["min_time"].(string))
	from := minTime.Add(time.Second).Format(time.RFC3339Nano)
	resp, err := http.Get(e.url + "/v1/datasets/orders/archive/analytics?from=" + url.QueryEscape(from) + "&to=" + today())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
	case resp.StatusCode == http.StatusOK && err != nil:
		t.Logf("aborted after %d bytes: %v", len(body), err)
	default:
		t.Fatalf("29 rows over a limit of 15: %d, %d bytes, read error %v; want 413 or a broken body", resp.StatusCode, len(body), err)
	}
	if resp.StatusCode == http.StatusOK && !strings.Contains(e.logs.String(), "response aborted") {
		t.Fatalf("the aborted retrieval was not logged:\n%s", e.logs)
	}
}

// catalogObjects lists the orders objects of a type, oldest first.
func (e *env) catalogObjects(typ string) []map[string]any {
	e.t.Helper()
	var c struct {
		Objects []map[string]any `json:"objects"`
	}
	r := e.get("/v1/catalog?dataset=orders&type=" + typ)
	if err := json.Unmarshal(r.body, &c); err != nil || len(c.Objects) == 0 {
		e.t.Fatalf("catalog: %d %v %s", r.code, err, r.body)
	}
	return c.Objects
}

func TestWhereFiltersAndIncludeLiveAddsRowsStillInTheDatabase(t *testing.T) {
	e := newEnv(t, envOptions{archivedDays: 2, perDay: 10})
	path := "/v1/datasets/orders/archive/analytics?" + wide + "&columns=order_id,status&where="
	r := e.get(path + url.QueryEscape("status = 'nosuchcolumn"))
	if msg, _, _ := errorOf(t, r); r.code != http.StatusBadRequest || !strings.Contains(msg, "where") {
		t.Fatalf("a bad where: %d %q; want 400 naming the problem", r.code, msg)
	}
	r = e.get(path + url.QueryEscape("nosuch = 1"))
	if msg, _, _ := errorOf(t, r); r.code != http.StatusBadRequest || !strings.Contains(msg, "nosuch") {
		t.Fatalf("a where over an unknown column: %d %q\n%s", r.code, msg, e.logs)
	}
	r = e.get(path + url.QueryEscape("status = 'shipped'"))
	if r.code == http.StatusBadRequest && strings.Contains(string(r.body), "not supported") {
		t.Skip("needs retrieve where support")
	}
	lines := strings.Split(strings.TrimSpace(string(r.body)), "\n")
	if r.code != http.StatusOK || len(lines) != 4 { // statuses cycle through 5 values: 2 of 10 per day
		t.Fatalf("where status = 'shipped': %d, %d lines, want 4\n%s", r.code, len(lines), r.body)
	}
	for _, l := range lines {
		if !strings.Contains(l, `"status":"shipped"`) {
			t.Fatalf("where status = 'shipped' returned %s", l)
		}
	}
	all := e.count(`SELECT count(*) FROM orders`)
	r = e.get("/v1/datasets/orders/archive/analytics?" + wide + "&columns=order_id&include_live=true")
	if got := strings.Count(string(r.body), "\n"); r.code != http.StatusOK || int64(got) != all+20 {
		t.Fatalf("include_live: %d, %d rows; want the 20 archived and the %d live", r.code, got, all)
	}
}

func TestTheConsoleShowsDatasetsArchivesAndJobsEscaped(t *testing.T) {
	jobs := func() []server.JobStatus {
		return []server.JobStatus{{Dataset: "orders", Job: "source_archive", Interval: time.Minute, LastOutcome: "error",
			LastStart: time.Now(), LastEnd: time.Now(), Failures: 2, LastError: `<script>alert("x")</script>`}}
	}
	e := newEnv(t, envOptions{archivedDays: 2, perDay: 10, jobs: jobs})
	r := e.get("/")
	body := string(r.body)
	if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
		t.Fatalf("overview: %d %v", r.code, r.header)
	}
	for _, want := range []string{"<code>source_orders</code>", "<code>orders</code>", "customers", `id="orders-analytics-rows">20</td>`,
		`href="/metrics"`, `href="/healthz"`, `href="/console/jobs"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the overview lacks %q", want)
		}
	}
	j := e.get("/console/jobs")
	for _, want := range []string{"source_archive", "&lt;script&gt;"} {
		if !strings.Contains(string(j.body), want) {
			t.Errorf("the jobs view lacks %q", want)
		}
	}
	for _, p := range [][]byte{r.body, j.body} {
		if strings.Contains(string(p), "<script>") {
			t.Errorf("a console page is not safe against injected markup")
		}
	}
	if !strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Errorf("CSP %q", r.header.Get("Content-Security-Policy"))
	}
	if t.Failed() {
		t.Log(body)
	}
	if r := e.get("/index.html"); r.code != http.StatusNotFound {
		t.Errorf("/index.html: %d, want 404", r.code)
	}
}
