package server_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/auth"
	"github.com/stratahq/strata/internal/config"
)

// fakeClock is a clock a test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// metric returns the value of one sample line of /metrics, "" when absent.
func (e *env) metric(secret, sample string) string {
	e.t.Helper()
	r := e.do("GET", "/metrics", nil, bearer(secret)...)
	for line := range strings.SplitSeq(string(r.body), "\n") {
		if v, ok := strings.CutPrefix(line, sample+" "); ok {
			return v
		}
	}
	return ""
}

func TestFailedAttemptsAreLimitedPerAddressAndCounted(t *testing.T) {
	toks := tokens{}
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	e := newEnv(t, envOptions{clock: clock.Now, limits: withTokens(toks, map[string]config.Token{
		"reader": {Scopes: []string{"read"}, Datasets: []string{"*"}}})})
	for i := range auth.FailBurst {
		if r := e.do("GET", "/v1/catalog", nil, bearer("strata_guess")...); r.code != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d %s", i+1, r.code, r.body)
		}
	}
	for _, secret := range []string{"strata_guess", toks["reader"]} {
		r := e.do("GET", "/v1/catalog", nil, bearer(secret)...)
		if msg, _, _ := errorOf(t, r); r.code != http.StatusTooManyRequests || r.header.Get("Retry-After") != "6" || !strings.Contains(msg, "too many failed") {
			t.Fatalf("after %d failures: %d Retry-After %q %s", auth.FailBurst, r.code, r.header.Get("Retry-After"), msg)
		}
	}
	if r := e.get("/healthz"); r.code != http.StatusOK {
		t.Fatalf("healthz while limited: %d", r.code)
	}
	if r := e.do("GET", "/v1/catalog", nil); r.code != http.StatusUnauthorized {
		t.Fatalf("no token while limited: %d (a request without a token is no guess)", r.code)
	}
	clock.Add(auth.FailEvery)
	if r := e.do("GET", "/v1/catalog", nil, bearer(toks["reader"])...); r.code != http.StatusOK {
		t.Fatalf("the right token %s later: %d %s", auth.FailEvery, r.code, r.body)
	}
	for sample, want := range map[string]string{
		`strata_auth_failures_total{reason="unknown"}`:      "10",
		`strata_auth_failures_total{reason="rate_limited"}`: "2",
		`strata_auth_failures_total{reason="missing"}`:      "1",
	} {
		if got := e.metric(toks["reader"], sample); got != want {
			t.Errorf("%s = %q, want %s", sample, got, want)
		}
	}
}

func TestMetricsNeedATokenUnlessConfiguredOpen(t *testing.T) {
	toks := tokens{}
	e := newEnv(t, envOptions{limits: withTokens(toks, map[string]config.Token{
		"ingester": {Scopes: []string{"ingest"}, Datasets: []string{"*"}}})})
	if r := e.get("/metrics"); r.code != http.StatusUnauthorized {
		t.Fatalf("metrics without a token: %d", r.code)
	}
	if r := e.do("GET", "/metrics", nil, bearer(toks["ingester"])...); r.code != http.StatusForbidden {
		t.Fatalf("metrics with an ingest token: %d", r.code)
	}
	open := newEnv(t, envOptions{limits: func(s *config.Server) {
		withTokens(tokens{}, map[string]config.Token{"x": {Scopes: []string{"read"}}})(s)
		s.MetricsOpen = true
	}})
	open.get("/healthz")
	if r := open.get("/metrics"); r.code != http.StatusOK || !strings.Contains(string(r.body), "strata_http_request_duration_seconds") {
		t.Fatalf("metrics_open: %d", r.code)
	}
	if r := open.get("/v1/catalog"); r.code != http.StatusUnauthorized {
		t.Fatalf("metrics_open opened the catalog: %d", r.code)
	}
}

// browser is an HTTP client that keeps cookies and does not follow
// redirects, as a browser tab would with its jar.
type browser struct {
	t      *testing.T
	base   string
	cookie *http.Cookie
}

func (b *browser) send(method, path string, body string, header ...string) *http.Response {
	b.t.Helper()
	req, err := http.NewRequest(method, b.base+path, strings.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if b.cookie != nil {
		req.AddCookie(b.cookie)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestTheDashboardSignsInWithATokenInAStrictHttpOnlyCookie(t *testing.T) {
	toks := tokens{}
	e := newEnv(t, envOptions{limits: withTokens(toks, map[string]config.Token{
		"alice": {Scopes: []string{"read", "ingest"}, Datasets: []string{"customers"}}})})
	b := &browser{t: t, base: e.url}
	resp := b.send("GET", "/", "")
	if page := readAll(t, resp); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, `<form method="post" action="/login">`) {
		t.Fatalf("dashboard without a token: %d %s", resp.StatusCode, page)
	}
	login := "token=" + url.QueryEscape(toks["alice"])
	for _, h := range [][]string{{"Origin", "https://evil.example"}, {"Sec-Fetch-Site", "cross-site"}} {
		if resp := b.send("POST", "/login", login, h...); resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 {
			t.Fatalf("login with %s: %d %v", h, resp.StatusCode, resp.Cookies())
		}
	}
	if resp := b.send("POST", "/login", "token=strata_wrong"); resp.StatusCode != http.StatusUnauthorized || len(resp.Cookies()) != 0 {
		t.Fatalf("login with a wrong token: %d %v", resp.StatusCode, resp.Cookies())
	}
	resp = b.send("POST", "/login", login, "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("login: %d %v", resp.StatusCode, resp.Cookies())
	}
	c := resp.Cookies()[0]
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/" || strings.Contains(c.Value, toks["alice"]) {
		t.Fatalf("cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP, path /", c)
	}
	b.cookie = c
	resp = b.send("GET", "/", "")
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "signed in as <b>alice</b>") ||
		!strings.Contains(page, `id="ds-customers"`) || strings.Contains(page, `id="ds-orders"`) {
		t.Fatalf("dashboard signed in: %d %s", resp.StatusCode, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self'") {
		t.Fatalf("CSP %q", csp)
	}
	if resp := b.send("GET", "/v1/catalog?dataset=customers", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("a GET with the cookie: %d", resp.StatusCode)
	}
	if resp := b.send("POST", "/v1/datasets/customers/records", "{}"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a POST with only the cookie: %d (a cookie must never authorise a change)", resp.StatusCode)
	}
	resp = b.send("POST", "/logout", "", "Sec-Fetch-Site", "same-origin")
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 || resp.Cookies()[0].MaxAge >= 0 {
		t.Fatalf("logout: %d %v", resp.StatusCode, resp.Cookies())
	}
}

func TestABrowserPageOfAnotherSiteCannotPostEvenWithoutTokens(t *testing.T) {
	e := newEnv(t, envOptions{})
	r := e.ingest("orders", jsonl(records(1, 1)))
	if r.code != http.StatusOK {
		t.Fatalf("ingest: %d %s", r.code, r.body)
	}
	r = e.do("POST", "/v1/datasets/orders/records", strings.NewReader(jsonl(records(2, 1))), "Origin", "https://evil.example")
	if msg, _, _ := errorOf(t, r); r.code != http.StatusForbidden || !strings.Contains(msg, "cross-origin") {
		t.Fatalf("cross-origin ingest: %d %s", r.code, msg)
	}
	if n := e.count(`SELECT count(*) FROM source_orders WHERE raw_data->>'order_id' = '2'`); n != 0 {
		t.Fatalf("the cross-origin ingest stored %d records", n)
	}
}

// readAll reads a response's body.
func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
