package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stratahq/strata/internal/cli"
	"github.com/stratahq/strata/internal/parquetio"
	"github.com/stratahq/strata/internal/testenv"
)

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, env map[string]string, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, cli.Env{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Getenv: func(k string) string { return env[k] },
	})
	return result{code, out.String(), errb.String()}
}

// setup creates the orders example dataset with 100 days of rows and a
// strata.yaml pointing at it and a local-disk archive.
func setup(t *testing.T) (cfg string, archiveDir string) {
	t.Helper()
	e := setupEnv(t)
	return e.ConfigPath, e.ArchiveDir
}

// setupEnv is setup's environment.
func setupEnv(t *testing.T) *testenv.Env {
	t.Helper()
	return testenv.New(t, testenv.Options{Prefix: "svc",
		Datasets: []testenv.Dataset{{Name: "orders", Days: 100, PerDay: 20}}})
}

func TestBadUsageExitsTwoWithAMessageThatSaysWhatToDo(t *testing.T) {
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"an unknown flag", []string{"archive", "--nope"}, "unknown flag"},
		{"no configuration anywhere", []string{"archive"}, "--config"},
		{"a missing config file", []string{"archive", "--config", "/nonexistent/strata.yaml"}, "strata.yaml"},
		{"a reversed time range", []string{"retrieve", "-d", "orders", "--from", "2024-02-01", "--to", "2024-01-01"}, "before"},
		{"a malformed time", []string{"retrieve", "-d", "orders", "--from", "yesterday", "--to", "2024-01-01"}, "RFC 3339"},
		{"SQL in columns", []string{"retrieve", "-d", "orders", "--from", "2024-01-01", "--to", "2024-01-02", "--columns", "x; DROP TABLE y; --"}, "--columns"},
		{"an unknown format", []string{"retrieve", "-d", "orders", "--from", "2024-01-01", "--to", "2024-01-02", "--format", "xml"}, "--format"},
		{"an unknown archive type", []string{"archive", "--type", "sources"}, "--type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := run(t, nil, c.args...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and a message containing %q", r.code, r.stderr, c.want)
			}
		})
	}
}

func TestArchiveRetrieveVerifyThroughTheCommandLine(t *testing.T) {
	cfg, archiveDir := setup(t)
	env := map[string]string{"STRATA_CONFIG": cfg}

	if r := run(t, env, "archive", "--dry-run"); r.code != 0 || !strings.Contains(r.stdout, "would archive") {
		t.Fatalf("dry run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r := run(t, env, "archive")
	if r.code != 0 || !strings.Contains(r.stdout, "orders: archived") {
		t.Fatalf("archive: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "archive"); r.code != 0 || !strings.Contains(r.stdout, "nothing to archive") {
		t.Fatalf("second archive: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "catalog", "list")
	if r.code != 0 || !strings.Contains(r.stdout, "orders") || !strings.Contains(r.stdout, "analytics") {
		t.Fatalf("catalog list: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, env, "retrieve", "-d", "orders", "--from", "2000-01-01", "--to", "2100-01-01", "--columns", "order_id,total", "--format", "csv")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if r.code != 0 || lines[0] != "order_id,total" || len(lines) < 2 {
		t.Fatalf("retrieve csv: exit %d, first line %q, %d lines\n%s", r.code, lines[0], len(lines), r.stderr)
	}
	pq := run(t, env, "retrieve", "-d", "orders", "--from", "2000-01-01", "--to", "2100-01-01", "--columns", "order_id,total", "--format", "parquet")
	pr, err := parquetio.Open(strings.NewReader(pq.stdout), int64(len(pq.stdout)))
	if pq.code != 0 || err != nil {
		t.Fatalf("retrieve parquet: exit %d, open: %v\n%s", pq.code, err, pq.stderr)
	}
	if cols := pr.Schema().Columns(); pr.NumRows() != int64(len(lines)-1) || len(cols) != 2 || cols[1].Name != "total" {
		t.Fatalf("retrieve parquet: %d rows, columns %v; want %d rows of order_id,total", pr.NumRows(), cols, len(lines)-1)
	}
	if r := run(t, env, "retrieve", "-d", "orders", "--from", "2000-01-01", "--to", "2100-01-01", "--columns", "nope"); r.code != cli.ExitUsage {
		t.Fatalf("retrieve of an unknown column: exit %d, want 2\n%s", r.code, r.stderr)
	}
	// A period without any object: the columns are still checked, against
	// the table as the archive would hold it.
	empty := []string{"retrieve", "-d", "orders", "--from", "1990-01-01", "--to", "1990-01-02", "--format", "csv"}
	if r := run(t, env, append(empty, "--columns", "nope")...); r.code != cli.ExitUsage || !strings.Contains(r.stderr, `unknown column "nope"`) {
		t.Fatalf("retrieve of an unknown column over an empty period: exit %d, want 2\n%s", r.code, r.stderr)
	}
	if r := run(t, env, append(empty, "--columns", "order_id,total")...); r.code != 0 || strings.TrimSpace(r.stdout) != "order_id,total" {
		t.Fatalf("retrieve of known columns over an empty period: exit %d, stdout %q\n%s", r.code, r.stdout, r.stderr)
	}
	if r := run(t, env, "verify", "--deep"); r.code != 0 || !strings.Contains(r.stdout, "verify: ok") {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	removeOneObject(t, archiveDir)
	if r := run(t, env, "verify"); r.code != cli.ExitFound || !strings.Contains(r.stdout, "missing svc/analytics/orders/") {
		t.Fatalf("verify after deleting an object: exit %d, want 3 naming it\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func removeOneObject(t *testing.T, dir string) {
	t.Helper()
	var victim string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && victim == "" && strings.HasSuffix(p, ".parquet") && !strings.Contains(p, ".strata-") {
			victim = p
		}
		return nil
	})
	if victim == "" {
		t.Fatal("no object found to remove")
	}
	os.Chmod(filepath.Dir(victim), 0o755)
	if err := os.Remove(victim); err != nil {
		t.Fatal(err)
	}
}
