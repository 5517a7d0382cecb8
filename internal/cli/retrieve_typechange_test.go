package cli_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/testenv"
)

// Issue 9's report: scor_metrics.value changed from double precision to
// numeric(12,3) between two archive runs; retrieve --where "value > 500"
// dropped the rows archived as double precision, with exit 0. It must
// return what PostgreSQL selects; and a change of type the archive cannot
// follow (made with USING) must exit 2, and be an HTTP 400, naming the
// column, the types and the objects.
func TestRetrieveFiltersAcrossAChangeOfTypeThroughTheCommandLine(t *testing.T) {
	ctx := context.Background()
	e := testenv.New(t, testenv.Options{Datasets: []testenv.Dataset{{Name: "scor_metrics", Days: 95, PerDay: 100}}})
	pool, env := e.Pool, e.Vars
	sql := func(q string) {
		t.Helper()
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	sql(`CREATE TABLE every_row AS TABLE scor_metrics`)
	if r := run(t, env, "archive"); r.code != 0 {
		t.Fatalf("archive: exit %d\n%s", r.code, r.stderr)
	}
	sql(`ALTER TABLE scor_metrics ALTER COLUMN value TYPE numeric(12,3)`)
	sql(`ALTER TABLE every_row ALTER COLUMN value TYPE numeric(12,3)`)
	sql(`UPDATE scor_metrics SET "timestamp" = "timestamp" - interval '30 days' WHERE "timestamp" < now() - interval '88 days'`)
	if r := run(t, env, "archive"); r.code != 0 {
		t.Fatalf("archive after the change: exit %d\n%s", r.code, r.stderr)
	}
	var want int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM every_row WHERE value > 500`).Scan(&want); err != nil || want < 100 {
		t.Fatalf("PostgreSQL selects %d rows (%v): the test needs more", want, err)
	}
	r := run(t, env, "retrieve", "-d", "scor_metrics", "--from", "2000-01-01", "--to", "2100-01-01", "--where", "value > 500",
		"--include-live", "--columns", "metric_id,value")
	if got := strings.Count(r.stdout, "\n"); r.code != 0 || got != want {
		t.Fatalf("retrieve --where \"value > 500\": exit %d, %d rows; PostgreSQL selects %d\n%s", r.code, got, want, r.stderr)
	}
	if strings.Count(r.stdout, `"value":"`) != want {
		t.Errorf("value is not a numeric (a JSON string) in every row:\n%.500s", r.stdout)
	}

	sql(`ALTER TABLE scor_metrics ALTER COLUMN unit TYPE integer USING length(unit)`)
	r = run(t, env, "retrieve", "-d", "scor_metrics", "--from", "2000-01-01", "--to", "2100-01-01", "--where", "unit > 1")
	if r.code != 2 || r.stdout != "" {
		t.Fatalf("retrieve over a change made with USING: exit %d, %d bytes of output; want exit 2 and none\n%s", r.code, len(r.stdout), r.stderr)
	}
	base, stop, _, _ := startServe(t, env, "--listen", "127.0.0.1:0", "--no-scheduler")
	defer stop()
	from := time.Now().AddDate(0, 0, -200).Format(time.DateOnly)
	code, body := get(t, base+"/v1/datasets/scor_metrics/archive/analytics?from="+from+"&to="+time.Now().AddDate(0, 0, 1).Format(time.DateOnly)+"&where="+
		url.QueryEscape("unit > 1"))
	if code != http.StatusBadRequest || !strings.Contains(body, `"error":`) {
		t.Errorf("HTTP: %d %s, want a 400 with a JSON error", code, body)
	}
	for _, s := range []string{`"unit"`, "text", "integer", "analytics/scor_metrics/", "USING"} {
		if !strings.Contains(r.stderr, s) || !strings.Contains(body, strings.ReplaceAll(s, `"`, `\"`)) {
			t.Errorf("the message does not mention %q:\n%s\n%s", s, r.stderr, body)
		}
	}
}
