package cli_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/testenv"
)

func TestEraseThroughTheCommandLine(t *testing.T) {
	e := testenv.New(t, testenv.Options{Extra: "erasure:\n  key_file: erasure.key",
		Datasets: []testenv.Dataset{{Name: "orders", Days: 100, PerDay: 20, Extra: "subject:\n  columns: [customer_id]"}}})
	env := map[string]string{"STRATA_CONFIG": e.ConfigPath}
	if r := run(t, env, "archive", "--dataset", "orders"); r.code != 0 {
		t.Fatalf("archive: %d %s", r.code, r.stderr)
	}
	live := e.Count(`SELECT count(*) FROM orders WHERE customer_id = 640`)
	if r := run(t, env, "erase", "-d", "orders", "--subject", "640"); r.code != 2 || !strings.Contains(r.stderr, "--reason") {
		t.Errorf("erase without --reason: exit %d, %q; want 2 naming --reason", r.code, r.stderr)
	}
	var dry struct {
		Status string `json:"status"`
		Layer2 struct {
			Rows int64 `json:"rows"`
		} `json:"layer2"`
		AnalyticsArchive struct {
			Rows int64 `json:"rows"`
		} `json:"analytics_archive"`
		ID int64 `json:"id"`
	}
	r := run(t, env, "erase", "-d", "orders", "--subject", "640", "--reason", "GDPR #9", "--dry-run")
	if err := json.Unmarshal([]byte(r.stdout), &dry); r.code != 0 || err != nil {
		t.Fatalf("erase --dry-run: exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
	}
	if dry.Status != "dry-run" || dry.Layer2.Rows != live || live == 0 || dry.AnalyticsArchive.Rows == 0 {
		t.Errorf("dry run: %+v; want %d Layer 2 rows and some archived", dry, live)
	}
	if n := e.Count(`SELECT count(*) FROM orders WHERE customer_id = 640`); n != live {
		t.Errorf("the dry run deleted rows: %d left of %d", n, live)
	}
	r = run(t, env, "erase", "-d", "orders", "--subject", "640", "--reason", "GDPR #9")
	var done = dry
	if err := json.Unmarshal([]byte(r.stdout), &done); r.code != 0 || err != nil || done.Status != "done" || done.ID == 0 {
		t.Fatalf("erase: exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
	}
	if r := run(t, env, "erase", "show", fmt.Sprint(done.ID)); r.code != 0 || !strings.Contains(r.stdout, `"status": "done"`) {
		t.Errorf("erase show: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "erase", "list"); r.code != 0 || !strings.Contains(r.stdout, `"reason": "GDPR #9"`) {
		t.Errorf("erase list: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "erase", "show", "999"); r.code != 2 {
		t.Errorf("erase show of no erasure: exit %d, want 2", r.code)
	}
	env["STRATA_DATASETS_ORDERS_RETENTION_BASIS"] = "AO §147: 10 years"
	r = run(t, env, "erase", "-d", "orders", "--subject", "634", "--reason", "GDPR #10")
	if r.code != 2 || !strings.Contains(r.stderr, "AO §147") || !strings.Contains(r.stdout, `"status": "refused"`) {
		t.Errorf("erase under a retention basis: exit %d, %s %s; want 2, the refusal's certificate and the statute", r.code, r.stdout, r.stderr)
	}
}
