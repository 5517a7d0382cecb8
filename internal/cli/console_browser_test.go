package cli_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/stratahq/strata/internal/testenv"
)

// chromiumPath is Debian's chromium (scripts/chromium.sh installs it);
// without it the browser tests skip, or fail when CI is set.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("STRATA_TEST_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium not found: run scripts/chromium.sh (apt-get install chromium), or set STRATA_TEST_CHROMIUM")
	}
	t.Skip("chromium not found: run scripts/chromium.sh (apt-get install chromium)")
	return ""
}

// screenshotDir is the test's output folder (ignored by git): the console's
// screenshots go there.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("STRATA_TEST_OUTPUT")
	if dir == "" {
		dir = filepath.Join("..", "..", ".state", "test-output")
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pageWatch records what a page must not do: log an error to the console,
// throw, fail a request, or answer one with 4xx/5xx.
type pageWatch struct {
	mu       sync.Mutex
	problems []string
}

func (w *pageWatch) add(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.problems = append(w.problems, fmt.Sprintf(format, args...))
}

func (w *pageWatch) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.problems
	w.problems = nil
	return p
}

func (w *pageWatch) listen(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
			var parts []string
			for _, a := range ev.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			w.add("console %s: %s", ev.Type, strings.Join(parts, " "))
		}
	case *runtime.EventExceptionThrown:
		w.add("exception: %s", ev.ExceptionDetails.Text)
	case *log.EventEntryAdded:
		if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
			w.add("log %s: %s %s", ev.Entry.Level, ev.Entry.Text, ev.Entry.URL)
		}
	case *network.EventLoadingFailed:
		w.add("request failed: %s %s", ev.ErrorText, ev.BlockedReason)
	case *network.EventResponseReceived:
		if ev.Response.Status >= 400 {
			w.add("HTTP %d: %s", ev.Response.Status, ev.Response.URL)
		}
	}
}

// browser starts a headless chromium with the flags this machine needs
// (no network beyond loopback) and a fresh profile.
func browser(t *testing.T) (context.Context, *pageWatch) {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelT(); cancelC(); cancelA() })
	w := &pageWatch{}
	if err := chromedp.Listen(ctx, w.listen); err != nil { // starts the browser; chromedp enables the log, network and runtime domains
		t.Fatalf("start chromium: %v", err)
	}

	return ctx, w
}

// visit loads url, waits for sel and fails on any problem the page had.
func visit(t *testing.T, ctx context.Context, w *pageWatch, url, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		t.Fatalf("load %s: %v", url, err)
	}
	settle(t, ctx, w, url)
}

// settle fails on the problems the page has had so far.
func settle(t *testing.T, ctx context.Context, w *pageWatch, what string) {
	t.Helper()
	chromedp.Do(ctx, chromedp.Sleep(200*time.Millisecond))
	if p := w.take(); len(p) > 0 {
		t.Errorf("%s: %s", what, strings.Join(p, "\n"))
	}
}

func shoot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// tab is a browser tab with the helpers the test uses; a failed action
// fails the test.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func (b tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

func (b tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func eval[T any](b tab, expr string, opts ...chromedp.EvaluateOption) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func TestTheConsoleInARealBrowser(t *testing.T) {
	ctx, watch := browser(t)
	b := tab{t, ctx}
	dir := screenshotDir(t)
	e := testenv.New(t, testenv.Options{Prefix: "svc", Datasets: []testenv.Dataset{
		{Name: "orders", Days: 100, PerDay: 20, Source: true, Transform: "transforms/orders.sql"}, {Name: "customers", Days: 95, PerDay: 5}}})
	var recs []string
	at := time.Now().UTC().Format(time.RFC3339)
	for i := 1; i <= 30; i++ {
		recs = append(recs, fmt.Sprintf(`{"order_id": %d, "customer_id": 7, "status": "PAID", "total": "%d.25", "currency": "eur", "items": 1, "ordered_at": "%s"}`, 100000+i, i, at))
	}
	file := e.WriteFile("orders.jsonl", strings.Join(recs, "\n")+"\n")
	for _, args := range [][]string{{"ingest", "--dataset", "orders", file}, {"archive"}, {"verify"}} {
		if r := run(t, e.Vars, args...); r.code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	base, _, _, _ := startServe(t, e.Vars, "--listen", "127.0.0.1:0", "--no-scheduler")

	// Overview: the catalog's figures, a calendar cell per archived day.
	visit(t, ctx, watch, base+"/", "#ds-orders")
	shoot(t, ctx, dir, "overview.png")
	b.do(chromedp.EmulateViewport(1000, 640)) // the README's picture (docs/console.png): the orders dataset
	eval[bool](b, `document.getElementById('ds-orders').scrollIntoView(), true`)
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err != nil {
		t.Fatal(err)
	} else if err := os.WriteFile(filepath.Join(dir, "readme.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	b.do(chromedp.EmulateViewport(1280, 900))
	for _, typ := range []string{"source", "analytics"} {
		for _, f := range []string{"objects", "rows"} {
			sql := map[string]string{"objects": "count(*)", "rows": "coalesce(sum(rows), 0)"}[f]
			want := e.Count(`SELECT ` + sql + ` FROM strata.objects WHERE dataset = 'orders' AND state = 'committed' AND superseded_by IS NULL AND archive_type = '` + typ + `'`)
			if got := b.text("#orders-" + typ + "-" + f); strings.ReplaceAll(got, ",", "") != fmt.Sprint(want) || want == 0 {
				t.Errorf("orders %s %s: the page shows %q, the catalog holds %d", typ, f, got, want)
			}
		}
	}
	for _, layer := range []struct{ id, table string }{{"orders-layer2-rows", "orders"}, {"orders-layer3-rows", "source_orders"}, {"customers-layer2-rows", "customers"}} {
		if got, want := b.text("#"+layer.id), e.Count(`SELECT count(*) FROM `+layer.table); strings.ReplaceAll(got, ",", "") != fmt.Sprint(want) {
			t.Errorf("%s: the page shows %q, PostgreSQL holds %d", layer.id, got, want)
		}
	}
	title := eval[string](b, `document.querySelector('#orders-analytics-bytes').title`)
	if want := e.Count(`SELECT sum(bytes) FROM strata.objects WHERE dataset = 'orders' AND archive_type = 'analytics' AND superseded_by IS NULL`); title != fmt.Sprintf("%d bytes", want) {
		t.Errorf("analytics bytes: %q, the catalog holds %d", title, want)
	}
	cells := eval[int](b, `document.querySelectorAll('table.cal[data-dataset="orders"][data-type="analytics"] a.c.archived').length`)
	if want := e.Count(`SELECT count(DISTINCT day) FROM strata.objects WHERE dataset = 'orders' AND archive_type = 'analytics'`); int64(cells) != want {
		t.Errorf("%d archived analytics cells, the catalog has %d days", cells, want)
	}
	if v := b.text("#last-verify"); !strings.Contains(v, "ok") {
		t.Errorf("last verify: %q, want the verify run before serve, ok", v)
	}

	// A phone's width: nothing wider than the screen but inside its own scroller.
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#ds-orders")))
	if eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
		t.Errorf("the overview is wider than a phone's screen")
	}
	shoot(t, ctx, dir, "overview-phone.png")
	b.do(chromedp.EmulateViewport(1280, 900))
	settle(t, ctx, watch, "overview at a phone's width")

	// Keyboard: Tab reaches a calendar (one stop each: its newest day),
	// the cell says what it holds, the arrow keys move by day and by month,
	// and Enter opens the day.
	visit(t, ctx, watch, base+"/", "#ds-orders")
	if stops, cals := eval[int](b, `[...document.querySelectorAll('a.c')].filter(a => a.tabIndex === 0).length`),
		eval[int](b, `[...document.querySelectorAll('table.cal')].filter(c => c.querySelector('a.c')).length`); stops != cals {
		t.Errorf("%d calendar cells are Tab stops, want one per calendar (%d)", stops, cals)
	}
	inAnalytics := `document.activeElement.matches('table.cal[data-dataset="orders"][data-type="analytics"] a.c')`
	reached := false
	for i := 0; i < 40 && !reached; i++ {
		b.do(chromedp.KeyEvent(kb.Tab))
		reached = eval[bool](b, inAnalytics)
	}
	if !reached {
		t.Fatal("40 presses of Tab did not reach the orders analytics calendar")
	}
	focused := func() string { return eval[string](b, `document.activeElement.getAttribute('aria-label')`) }
	newest := focused()
	b.do(chromedp.KeyEvent(kb.ArrowLeft))
	label := focused()
	tip := eval[string](b, `getComputedStyle(document.activeElement, '::after').content`)
	if !regexp.MustCompile(`^\d{4}-\d\d-\d\d analytics: `).MatchString(label) || !strings.Contains(tip, label) {
		t.Fatalf("the focused cell's label %q, shown as %q", label, tip)
	}
	dayOf := func(l string) time.Time { d, _ := time.Parse(time.DateOnly, l[:10]); return d }
	if !dayOf(label).Equal(dayOf(newest).AddDate(0, 0, -1)) {
		t.Errorf("ArrowLeft from %s went to %s, want the day before", newest[:10], label[:10])
	}
	b.do(chromedp.KeyEvent(kb.ArrowUp))
	if up := focused(); dayOf(up).Day() != dayOf(label).Day() || !dayOf(up).Before(dayOf(label)) || dayOf(up).Before(dayOf(label).AddDate(0, -2, 0)) {
		t.Errorf("ArrowUp from %s went to %s, want the same day of an earlier month (the one before when it has that day)", label[:10], up[:10])
	} else {
		label = up
	}
	shoot(t, ctx, dir, "overview-focus.png")
	b.do(chromedp.KeyEvent(kb.Enter), chromedp.WaitVisible(chromedp.CSS("#objects, #no-objects")))
	if h1 := b.text("h1"); !strings.Contains(h1, label[:10]) {
		t.Errorf("Enter on the cell of %s opened %q", label[:10], h1)
	}
	settle(t, ctx, watch, "day view by keyboard")

	// Day view of an analytics day: the SHA-256 that strata catalog list prints.
	var day time.Time
	e.Pool.QueryRow(context.Background(), `SELECT max(day) FROM strata.objects WHERE dataset = 'orders' AND archive_type = 'analytics'`).Scan(&day)
	d := day.Format(time.DateOnly)
	visit(t, ctx, watch, base+"/console/day?dataset=orders&type=analytics&day="+d, "#objects")
	shoot(t, ctx, dir, "day.png")
	shas := eval[[]string](b, `[...document.querySelectorAll('#objects td.sha256')].map(e => e.textContent)`)
	keys := eval[[]string](b, `[...document.querySelectorAll('#objects code.key')].map(e => e.textContent)`)
	list := run(t, e.Vars, "catalog", "list", "--dataset", "orders", "--type", "analytics", "--objects")
	if len(shas) == 0 || len(shas) != len(keys) {
		t.Fatalf("the day view shows %d keys and %d SHA-256", len(keys), len(shas))
	}
	for i, k := range keys {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(k) + `\s+\d+\s+\S+ \S+\s+` + shas[i] + `\s`).MatchString(list.stdout) {
			t.Errorf("%s: SHA-256 %s is not what strata catalog list prints:\n%s", k, shas[i], list.stdout)
		}
	}
	if n := eval[int](b, `document.querySelectorAll('table.sample tbody tr').length`); n != 5 {
		t.Errorf("the sample shows %d rows, want the first 5 of the day's 20", n)
	}
	// The page's policy lets it fetch nothing, so the links are followed from here.
	for _, f := range []string{"csv", "jsonl", "parquet"} {
		href := eval[string](b, `document.querySelector('a[href*="format=`+f+`"]').href`)
		if code, body := get(t, href); code != 200 || len(body) == 0 {
			t.Errorf("the %s download %s answers %d", f, href, code)
		} else if f == "csv" && strings.Count(body, "\n") != 21 {
			t.Errorf("the CSV of %s has %d lines, want a header and the day's 20 rows", d, strings.Count(body, "\n"))
		}
	}
	settle(t, ctx, watch, "day view")

	// Lineage of today's ingest, then compare on demand.
	today := time.Now().UTC().Format(time.DateOnly)
	visit(t, ctx, watch, base+"/console/lineage?dataset=orders&from="+today+"&to="+today, "svg.lineage")
	if in, st := b.text("#records-in"), b.text("#statement"); in != "30" || st == "" {
		t.Errorf("lineage: records in %q (want 30), statement %q", in, st)
	}
	if n := eval[int](b, `document.querySelectorAll('svg.lineage g.node').length`); n < 3 {
		t.Errorf("the lineage graph has %d nodes, want the source object, its batch, the transform and more", n)
	}
	shoot(t, ctx, dir, "lineage.png")
	b.do(chromedp.Click(chromedp.CSS(`button[name=compare]`)), chromedp.WaitVisible(chromedp.CSS("#compare-verdict")))
	if m := b.text("#cmp-matched"); m != "30" {
		t.Errorf("compare matched %q, want 30", m)
	}
	shoot(t, ctx, dir, "lineage-compare.png")
	settle(t, ctx, watch, "lineage and compare")

	// Jobs: the runs the catalog records.
	visit(t, ctx, watch, base+"/console/jobs", "#runs")
	runs := eval[int](b, `document.querySelectorAll('#runs tbody tr[data-run]').length`)
	if want := e.Count(`SELECT count(*) FROM (SELECT row_number() OVER (PARTITION BY command, dataset, archive_type ORDER BY id DESC) n FROM strata.runs) r WHERE n <= 5`); int64(runs) != want || want == 0 {
		t.Errorf("the jobs view lists %d runs, want %d", runs, want)
	}
	if v := b.text(`#runs tr[data-run] td:nth-child(3)`); v == "" {
		t.Errorf("no command in the runs table")
	}
	if !strings.Contains(b.text("#runs"), "verify") {
		t.Errorf("the jobs view does not list the verify run")
	}
	shoot(t, ctx, dir, "jobs.png")

	// Every view at a phone's width: nothing wider than the screen but
	// inside its own scroller.
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	for name, u := range map[string]string{
		"day-phone.png":     base + "/console/day?dataset=orders&type=analytics&day=" + d,
		"lineage-phone.png": base + "/console/lineage?dataset=orders&from=" + today + "&to=" + today,
		"jobs-phone.png":    base + "/console/jobs",
	} {
		visit(t, ctx, watch, u, "h1")
		if eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth + 1`) {
			t.Errorf("%s is wider than a phone's screen (%d > %d px)", u,
				eval[int](b, `document.documentElement.scrollWidth`), eval[int](b, `window.innerWidth`))
		}
		shoot(t, ctx, dir, name)
	}
	t.Logf("screenshots in %s", dir)
}
