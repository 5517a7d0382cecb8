package cli_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/cli"
	"github.com/stratahq/strata/internal/demo"
	"github.com/stratahq/strata/internal/testenv"
)

// setupIntake makes the orders dataset with a Layer 3 table, the example
// transform and an empty Layer 2 table whose rows age out after a day,
// and writes n raw records, two days old, to a file for strata ingest.
func setupIntake(t *testing.T, n int) (cfg, archiveDir, records string) {
	t.Helper()
	e := testenv.New(t, testenv.Options{Prefix: "svc", Datasets: []testenv.Dataset{
		{Name: "orders", Source: true, Transform: "orders.sql", BatchMaxRows: 50, Retention: "1d"}}})
	var b strings.Builder
	for _, r := range demo.Records(demo.Datasets[2], 1, n, time.Now().Add(-48*time.Hour), rand.New(rand.NewPCG(3, 4))) {
		b.Write(r)
		b.WriteByte('\n')
	}
	return e.ConfigPath, e.ArchiveDir, e.WriteFile("records.jsonl", b.String())
}

func TestLineageShowsTheEvidenceChainThroughTheCommandLine(t *testing.T) {
	cfg, archiveDir, records := setupIntake(t, 120)
	env := map[string]string{"STRATA_CONFIG": cfg}
	if r := run(t, env, "ingest", "-d", "orders", records); r.code != 0 {
		t.Fatalf("ingest: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "archive", "--type", "analytics"); r.code != 0 {
		t.Fatalf("archive: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	from, to := time.Now().AddDate(0, 0, -7).Format(time.DateOnly), time.Now().AddDate(0, 0, 1).Format(time.DateOnly)

	r := run(t, env, "lineage", "-d", "orders", "--from", from, "--to", to, "--verify")
	if r.code != 0 {
		t.Fatalf("lineage: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"Lineage of dataset orders",
		"120 raw records received in 3 batch(es)",
		"received 50 raw records (Layer 3 ids 1 to 50) and archived them in:",
		"svc/source/orders/",
		"moved ", "svc/analytics/orders/",
		"(current)", "| SELECT", "{{source}}",
		"OK: every count adds up, and all",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text output lacks %q:\n%s", want, r.stdout)
		}
	}

	r = run(t, env, "lineage", "-d", "orders", "--from", from, "--to", to, "--format", "json")
	var rep struct {
		Batches []struct {
			Kind       string `json:"kind"`
			Layer3Rows int64  `json:"layer3_rows"`
		} `json:"batches"`
		Transforms []struct {
			Text    string `json:"text"`
			Current bool   `json:"current"`
		} `json:"transforms"`
		Totals struct {
			RecordsIn int64 `json:"records_in"`
		} `json:"totals"`
		Integrity struct {
			OK bool `json:"ok"`
		} `json:"integrity"`
	}
	if r.code != 0 {
		t.Fatalf("lineage json: exit %d\n%s", r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("lineage json does not parse: %v\n%s", err, r.stdout)
	}
	if rep.Totals.RecordsIn != 120 || !rep.Integrity.OK || len(rep.Transforms) != 1 || !rep.Transforms[0].Current ||
		!strings.Contains(rep.Transforms[0].Text, "json_to_record") {
		t.Errorf("json report: %+v", rep)
	}

	// A missing object is damage: exit 3, naming it.
	removeOneObject(t, archiveDir)
	r = run(t, env, "lineage", "-d", "orders", "--from", from, "--to", to, "--verify")
	if r.code != cli.ExitFound || !strings.Contains(r.stdout, "read back: missing") || !strings.Contains(r.stdout, "PROBLEMS FOUND") {
		t.Errorf("lineage --verify with an object gone: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestLineageRefusesBadInputWithExitTwo(t *testing.T) {
	cfg, _, _ := setupIntake(t, 1)
	env := map[string]string{"STRATA_CONFIG": cfg}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no dataset", []string{"lineage", "--from", "2024-11-01", "--to", "2024-11-02"}, "--dataset is required"},
		{"no period", []string{"lineage", "-d", "orders"}, "--from is required"},
		{"a reversed period", []string{"lineage", "-d", "orders", "--from", "2024-11-02", "--to", "2024-11-01"}, "before"},
		{"a malformed time", []string{"lineage", "-d", "orders", "--from", "last week", "--to", "2024-11-01"}, "RFC 3339"},
		{"an unknown format", []string{"lineage", "-d", "orders", "--from", "2024-11-01", "--to", "2024-11-02", "--format", "xml"}, "use text or json"},
		{"an unknown dataset", []string{"lineage", "-d", "nope", "--from", "2024-11-01", "--to", "2024-11-02"}, `no dataset "nope"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, env, c.args...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, c.want) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, c.want)
			}
		})
	}
}
