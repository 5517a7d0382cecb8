package server_test

import (
	"context"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/config"
)

// consoleEnv is an env with archived analytics days of orders and an
// ingested (and so archived) source day.
func consoleEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	o.archivedDays, o.perDay = 3, 7
	e := newEnv(t, o)
	if _, err := e.svc.Ingest(context.Background(), "orders", strings.NewReader(jsonl(records(1, 12)))); err != nil {
		t.Fatalf("ingest: %v", err)
	}
	if _, err := e.svc.Archiver().Verify(context.Background(), archive.VerifyOptions{}); err != nil {
		t.Fatalf("verify: %v", err)
	}
	return e
}

// cellText returns the text of the element with id in page, "" when absent.
func cellText(page, id string) string {
	m := regexp.MustCompile(`id="` + regexp.QuoteMeta(id) + `"[^>]*>([^<]*)<`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return strings.ReplaceAll(m[1], ",", "")
}

func TestTheConsoleOverviewShowsTheCatalogsFigures(t *testing.T) {
	e := consoleEnv(t, envOptions{})
	r := e.get("/")
	page := string(r.body)
	if r.code != http.StatusOK {
		t.Fatalf("overview: %d %s", r.code, page)
	}
	for _, typ := range []string{"source", "analytics"} {
		for _, f := range []string{"objects", "rows", "bytes"} {
			sql := map[string]string{"objects": "count(*)", "rows": "coalesce(sum(rows), 0)", "bytes": "coalesce(sum(bytes), 0)"}[f]
			want := e.count(`SELECT ` + sql + ` FROM strata.objects WHERE dataset = 'orders' AND state = 'committed' AND superseded_by IS NULL AND archive_type = '` + typ + `'`)
			id := "orders-" + typ + "-" + f
			got := cellText(page, id)
			if f == "bytes" {
				got = regexp.MustCompile(`id="` + id + `" title="(\d+) bytes"`).FindStringSubmatch(page)[1]
			}
			if got != itoa(want) || want == 0 {
				t.Errorf("%s: the page shows %q, the catalog holds %d", id, got, want)
			}
		}
	}
	if got, want := cellText(page, "orders-layer2-rows"), itoa(e.count(`SELECT count(*) FROM orders`)); got != want {
		t.Errorf("Layer 2 rows: %s, want %s", got, want)
	}
	if got, want := cellText(page, "orders-layer3-rows"), itoa(e.count(`SELECT count(*) FROM source_orders`)); got != want {
		t.Errorf("Layer 3 rows: %s, want %s", got, want)
	}
	days := e.count(`SELECT count(DISTINCT day) FROM strata.objects WHERE dataset = 'orders' AND archive_type = 'analytics'`)
	if n := strings.Count(page, `class="c archived" href="/console/day?dataset=orders&amp;type=analytics`); int64(n) != days {
		t.Errorf("%d archived analytics cells, the catalog has %d days", n, days)
	}
	if !strings.Contains(page, `class="c live" href="/console/day?dataset=orders&amp;type=analytics`) {
		t.Errorf("no live-only analytics day, though Layer 2 holds 90 days")
	}
	if !strings.Contains(cellText(page, "last-verify")+page[strings.Index(page, `id="last-verify"`):][:400], ">ok<") {
		t.Errorf("the last verify is not shown as ok:\n%s", page[strings.Index(page, `id="last-verify"`):][:400])
	}
	if n := heldConns(e); n != 0 {
		t.Errorf("%d database connections held after the page was served", n)
	}
	if t.Failed() {
		os.WriteFile(t.TempDir()+"/overview.html", r.body, 0o644)
	}
}

// heldConns is how many of the Service's connections are still acquired
// after waiting up to 10 s for background work (the lakehouse tables'
// publish after an ingest) to end: a page that kept one would keep it.
func heldConns(e *env) int32 {
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := e.svc.Pool().Stat().AcquiredConns()
		if n == 0 || time.Now().After(deadline) {
			return n
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestTheConsoleDayViewListsTheCatalogsObjectsAndSamples(t *testing.T) {
	e := consoleEnv(t, envOptions{})
	var day time.Time
	if err := e.pool.QueryRow(context.Background(), `SELECT min(day) FROM strata.objects WHERE dataset = 'orders' AND archive_type = 'analytics'`).Scan(&day); err != nil {
		t.Fatal(err)
	}
	d := day.Format(time.DateOnly)
	r := e.get("/console/day?dataset=orders&type=analytics&day=" + d)
	page := string(r.body)
	if r.code != http.StatusOK {
		t.Fatalf("day: %d %s", r.code, page)
	}
	rows, err := e.pool.Query(context.Background(), `SELECT sha256 FROM strata.objects WHERE dataset = 'orders' AND archive_type = 'analytics' AND day = $1 ORDER BY id`, day)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		want = append(want, s)
	}
	var got []string
	for _, m := range regexp.MustCompile(`<td data-label="SHA-256" class="hash sha256">([0-9a-f]{64})</td>`).FindAllStringSubmatch(page, -1) {
		got = append(got, m[1])
	}
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("SHA-256 on the page %v, catalog %v", got, want)
	}
	if n := strings.Count(page, "<tr><td>"); n != 5 { // 7 rows a day, the first 5 shown (header rows are <tr><th>)
		t.Errorf("the sample shows %d rows, want the first 5", n)
	}
	if n := heldConns(e); n != 0 {
		t.Errorf("%d database connections held after the day was served (its samples' snapshots)", n)
	}
	for _, f := range []string{"csv", "jsonl", "parquet"} {
		href := "/v1/datasets/orders/archive/analytics?from=" + d + "&amp;to=" + d + "&amp;format=" + f
		if !strings.Contains(page, href) {
			t.Errorf("no %s download link", f)
		}
		if r := e.get(strings.ReplaceAll(href, "&amp;", "&")); r.code != http.StatusOK || len(r.body) == 0 {
			t.Errorf("download %s: %d", f, r.code)
		}
	}
	for path, code := range map[string]int{
		"/console/day?dataset=orders&type=analytics&day=yesterday":   http.StatusBadRequest,
		"/console/day?dataset=orders&type=sources&day=" + d:          http.StatusBadRequest,
		"/console/day?dataset=nope&type=analytics&day=" + d:          http.StatusNotFound,
		"/console/day?dataset=customers&type=source&day=" + d:        http.StatusNotFound,
		"/console/day?dataset=%22%3E%3Cb%3E&type=analytics&day=" + d: http.StatusBadRequest,
	} {
		r := e.get(path)
		if r.code != code || strings.Contains(string(r.body), `"><b>`) {
			t.Errorf("%s: %d, want %d", path, r.code, code)
		}
	}
}

func TestTheConsoleLineageViewDrawsTheChainAndComparesOnDemand(t *testing.T) {
	e := consoleEnv(t, envOptions{})
	d := today()
	r := e.get("/console/lineage?dataset=orders&from=" + d + "&to=" + d)
	page := string(r.body)
	if r.code != http.StatusOK || !strings.Contains(page, `<svg class="lineage"`) || !strings.Contains(page, `id="statement"`) {
		t.Fatalf("lineage: %d %s", r.code, page)
	}
	if strings.Contains(page, `id="compare"`) {
		t.Errorf("compare ran without being asked for")
	}
	if got := cellText(page, "records-in"); got != "12" {
		t.Errorf("records in: %q, want 12", got)
	}
	r = e.get("/console/lineage?dataset=orders&from=" + d + "&to=" + d + "&compare=1")
	page = string(r.body)
	if r.code != http.StatusOK || cellText(page, "cmp-matched") != "12" || cellText(page, "cmp-changed") != "0" {
		t.Fatalf("compare: %d matched %q changed %q", r.code, cellText(page, "cmp-matched"), cellText(page, "cmp-changed"))
	}
	if r := e.get("/console/lineage?dataset=orders&from=" + d + "&to=2000-01-01"); r.code != http.StatusBadRequest {
		t.Errorf("a reversed period: %d", r.code)
	}
}

func TestTheConsoleKeepsADatasetLimitedTokenToItsDatasets(t *testing.T) {
	toks := tokens{}
	e := consoleEnv(t, envOptions{limits: withTokens(toks, map[string]config.Token{
		"alice": {Scopes: []string{"read"}, Datasets: []string{"customers"}}})})
	for _, p := range []string{"/console/day?dataset=orders&type=analytics&day=" + today(), "/console/lineage?dataset=orders&from=" + today() + "&to=" + today()} {
		if r := e.do("GET", p, nil, "Authorization", "Bearer "+toks["alice"]); r.code != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", p, r.code)
		}
	}
	r := e.do("GET", "/console/jobs", nil, "Authorization", "Bearer "+toks["alice"])
	if r.code != http.StatusOK || strings.Contains(string(r.body), "<td>orders</td>") {
		t.Errorf("jobs: %d, or it shows orders' runs", r.code)
	}
}
