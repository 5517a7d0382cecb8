package cli

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/auth"
	"github.com/stratahq/strata/internal/config"
	"github.com/stratahq/strata/internal/metrics"
	"github.com/stratahq/strata/internal/server"
)

// demoWhere retrieves the orders matching a filter from both the archive
// and Layer 2, to show that one request answers whichever layer holds them.
func demoWhere(ctx context.Context, a *app) error {
	const where = "status = 'shipped' AND total >= 400"
	from, to := time.Now().AddDate(0, 0, -demoDays-1), time.Now()
	count := func(live bool) (int64, error) {
		rows, err := a.svc.RetrieveArchivedData(ctx, strata.RetrieveRequest{Table: "orders", Start: from, End: to,
			Columns: []string{"order_id"}, Where: where, IncludeLive: live})
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		for rows.Next() {
		}
		return rows.Count(), rows.Err()
	}
	archived, err := count(false)
	if err != nil {
		return err
	}
	all, err := count(true)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.env.Stdout, "\n==> strata retrieve -d orders --where %q --include-live (all %d days)\n", where, demoDays)
	fmt.Fprintf(a.env.Stdout, "  %d rows: %d from the archive, %d still in Layer 2, one snapshot, each row once\n",
		all, archived, all-archived)
	return nil
}

// demoServe starts the HTTP API on a free loopback port for a moment and
// makes a few requests a client would.
func demoServe(ctx context.Context, a *app) error {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	secret, sha := auth.NewSecret()
	limits := a.cfg.Server
	limits.Tokens = []config.Token{{Name: "demo", SHA256: sha, Scopes: config.TokenScopes(), Datasets: []string{config.AllDatasets}}}
	srv := server.New(a.svc, server.Options{Metrics: m, Registry: reg, Limits: limits})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx, ln) }()
	defer func() { stop(); <-done }()
	base := "http://" + ln.Addr().String()
	out := a.env.Stdout
	fmt.Fprintf(out, "\n==> strata serve (for a moment, on %s, with a token made as strata token create does)\n", base)
	if err := demoRefused(ctx, out, base+"/v1/catalog"); err != nil {
		return err
	}
	var last int64
	if err := a.pool.QueryRow(ctx, `SELECT coalesce(max(raw_id), 0) FROM source_orders`).Scan(&last); err != nil {
		return err
	}
	day := time.Now().UTC().Format(time.DateOnly)
	records := `{"order_id": 90000001, "customer_id": 7, "status": "PAID", "total": "120.00", "currency": "eur", "items": 2, "ordered_at": "` +
		time.Now().UTC().Format(time.RFC3339) + `", "shipped_on": null}`
	steps := []struct{ method, path, body string }{
		{"GET", "/healthz", ""},
		{"POST", "/v1/datasets/orders/records", records},
		{"GET", "/v1/datasets/orders/archive/source?from=" + day + "&to=" + day + "&columns=raw_id,raw_data,raw_sha256&where=" +
			url.QueryEscape(fmt.Sprintf("raw_id > %d", last)), ""},
		{"GET", "/v1/datasets/orders/archive/analytics?from=" + day + "&to=" + day + "&columns=order_id,status,total&include_live=true&where=" +
			url.QueryEscape("order_id = 90000001"), ""},
	}
	for _, s := range steps {
		body, err := demoRequest(ctx, s.method, base+s.path, s.body, secret)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  %s %s\n    %s\n", s.method, s.path, strings.ReplaceAll(strings.TrimSpace(body), "\n", "\n    "))
	}
	mtext, err := demoRequest(ctx, "GET", base+"/metrics", "", secret)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "  GET /metrics (some of it)")
	sc := bufio.NewScanner(strings.NewReader(mtext))
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "strata_ingested_records_total") || strings.HasPrefix(l, "strata_retrieved_rows_total") {
			fmt.Fprintf(out, "    %s\n", l)
		}
	}
	return nil
}

// demoRefused shows that a request without a token is refused.
func demoRefused(ctx context.Context, out io.Writer, u string) error {
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		return fmt.Errorf("GET %s without a token: %s, want 401", u, resp.Status)
	}
	fmt.Fprintf(out, "  GET /v1/catalog without a token\n    %s (WWW-Authenticate: %s); the requests below send Authorization: Bearer strata_...\n",
		resp.Status, resp.Header.Get("WWW-Authenticate"))
	return nil
}

// demoRequest sends a request with the bearer token secret and returns
// the body of its 2xx answer.
func demoRequest(ctx context.Context, method, u, body, secret string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, b)
	}
	return string(b), nil
}
