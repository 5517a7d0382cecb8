package cli_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/cli"
)

// writeCandidate writes the configured transform with old replaced by new
// as a candidate file beside it and returns its path.
func writeCandidate(t *testing.T, configured, name, old, new string) string {
	t.Helper()
	b, err := os.ReadFile(configured)
	if err != nil || !strings.Contains(string(b), old) {
		t.Fatalf("transform has no %q (%v)", old, err)
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// written counts what an apply writes: catalog rows and the PAID orders.
func written(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	if err := pool.QueryRow(context.Background(), `SELECT concat_ws(' ',
		(SELECT count(*) FROM strata.runs), (SELECT count(*) FROM strata.lineage), (SELECT count(*) FROM strata.transforms),
		(SELECT count(*) FROM strata.objects), (SELECT count(*) FROM orders WHERE status = 'PAID'))`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestACandidateIsTriedWithExitThreeThenAdoptedWithExitZero(t *testing.T) {
	env, pool, configured := setupOrders(t)
	before, err := os.ReadFile(configured)
	if err != nil {
		t.Fatal(err)
	}
	cand := writeCandidate(t, configured, "candidate.sql", "lower(x.status)", "upper(x.status)")
	day := time.Now().UTC().Format(time.DateOnly)
	period := []string{"--dataset", "orders", "--from", day, "--to", day, "--transform", cand}
	state := written(t, pool)

	r := run(t, env, append([]string{"compare", "--format", "json"}, period...)...)
	var rep struct {
		jsonReport
		Candidate map[string]string `json:"candidate"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != cli.ExitFound || rep.Changed != 20 || rep.Columns["status"] != 20 ||
		rep.Candidate["name"] != cand || rep.Candidate["configured_path"] != configured {
		t.Fatalf("compare --transform: exit %d %v %+v\n%s", r.code, err, rep, r.stderr)
	}
	r = run(t, env, append([]string{"compare"}, period...)...)
	for _, want := range []string{"CANDIDATE transform " + cand, "in place of the configured transform " + configured, "changed    20  status 20",
		`status: expected "PAID", found "paid"`, "adopting candidate " + cand + " would change the rows above (exit 3); nothing was written", "--transform " + cand + " --apply"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("compare --transform text lacks %q:\n%s", want, r.stdout)
		}
	}
	if r = run(t, env, append([]string{"replay"}, period...)...); r.code != cli.ExitOK || !strings.Contains(r.stdout, "dry run: nothing was changed (--apply adopts candidate") {
		t.Errorf("dry replay --transform: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if written(t, pool) != state {
		t.Fatalf("trying a candidate wrote something: %s, was %s", written(t, pool), state)
	}

	r = run(t, env, append([]string{"replay", "--apply"}, period...)...)
	for _, want := range []string{"applied: Layer 2 0 inserted, 20 updated", "adopted: candidate " + cand + " for this period, recorded in the catalog as transform version",
		"unchanged: the configured transform " + configured, "To make the candidate the default, copy " + cand + " over"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("replay --transform --apply lacks %q:\n%s", want, r.stdout)
		}
	}
	if after, _ := os.ReadFile(configured); r.code != cli.ExitOK || string(after) != string(before) || !strings.HasSuffix(written(t, pool), " 20") {
		t.Fatalf("replay --transform --apply: exit %d, configured transform unchanged %t, state %s\n%s", r.code, string(after) == string(before), written(t, pool), r.stderr)
	}
	state = written(t, pool)
	if r = run(t, env, append([]string{"replay", "--apply"}, period...)...); r.code != cli.ExitOK || !strings.Contains(r.stdout, "applied: nothing to change") || written(t, pool) != state {
		t.Errorf("second replay --transform --apply: exit %d, %s\n%s", r.code, written(t, pool), r.stdout)
	}
	if r = run(t, env, append([]string{"compare"}, period...)...); r.code != cli.ExitOK || !strings.Contains(r.stdout, "adopting it would change nothing") {
		t.Errorf("compare --transform after adopting: exit %d\n%s", r.code, r.stdout)
	}
	if r = run(t, env, "compare", "-d", "orders", "--from", day, "--to", day); r.code != cli.ExitFound {
		t.Errorf("compare with the configured transform after adopting the candidate: exit %d, want 3", r.code)
	}

	r = run(t, env, "lineage", "-d", "orders", "--from", day, "--to", day)
	for _, want := range []string{"re-ran a CANDIDATE transform " + cand, "(a candidate adopted by a replay; not the configured transform)",
		"Candidate transforms adopted in this period", "wrote Layer 2: 0 row(s) inserted, 20 updated; corrected 0 archived row(s)"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("lineage lacks %q:\n%s", want, r.stdout)
		}
	}
	var lr struct {
		Candidates []struct {
			Name          string `json:"name"`
			Layer2Updated int64  `json:"layer2_updated"`
		} `json:"candidates"`
	}
	r = run(t, env, "lineage", "-d", "orders", "--from", day, "--to", day, "--format", "json")
	if err := json.Unmarshal([]byte(r.stdout), &lr); err != nil || r.code != cli.ExitOK || len(lr.Candidates) != 1 || lr.Candidates[0].Name != cand || lr.Candidates[0].Layer2Updated != 20 {
		t.Fatalf("lineage --format json: exit %d %v %+v", r.code, err, lr)
	}
}

func TestABadCandidateExitsTwoWritingNothing(t *testing.T) {
	env, pool, configured := setupOrders(t)
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.sql")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	state := written(t, pool)
	for _, c := range []struct{ name, file, want string }{
		{"a missing file", filepath.Join(dir, "nosuch.sql"), "no such file"},
		{"a folder", dir, "is a folder"},
		{"an empty file", empty, "is empty"},
		{"no {{source}}", writeCandidate(t, configured, "nosource.sql", "FROM {{source}} AS r", "FROM source_orders AS r"), "has no {{source}}"},
		{"a division by zero", writeCandidate(t, configured, "div.sql", "nullif(x.items, '')::integer", "nullif(x.items, '')::integer / 0"), "division by zero (SQLSTATE 22012)"},
		{"an unknown column", writeCandidate(t, configured, "col.sql", "lower(x.status)", "lower(x.nosuch)"), `column x.nosuch does not exist`},
	} {
		for _, verb := range []string{"compare", "replay"} {
			args := []string{verb, "-d", "orders", "--from", day, "--to", day, "--transform", c.file}
			if verb == "replay" {
				args = append(args, "--apply")
			}
			r := run(t, env, args...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, c.want) {
				t.Errorf("%s with %s: exit %d, stderr %q; want exit 2 saying %q", verb, c.name, r.code, r.stderr, c.want)
			}
		}
	}
	if written(t, pool) != state {
		t.Fatalf("bad candidates wrote something: %s, was %s", written(t, pool), state)
	}
}
