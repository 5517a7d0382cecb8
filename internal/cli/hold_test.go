package cli_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/actor"
	"github.com/stratahq/strata/internal/cli"
)

func TestHoldAddListReleaseThroughTheCommandLine(t *testing.T) {
	e := setupEnv(t)
	cfg := []string{"--config", e.ConfigPath}
	if r := run(t, e.Vars, append([]string{"archive"}, cfg...)...); r.code != 0 {
		t.Fatalf("archive: %d %s", r.code, r.stderr)
	}
	var day time.Time
	if err := e.Pool.QueryRow(context.Background(), `SELECT min(day) FROM strata.objects`).Scan(&day); err != nil {
		t.Fatal(err)
	}
	d := day.UTC().Format(time.DateOnly)
	e.Exec(`UPDATE strata.objects SET expires_at = now() - interval '1 day', retain_until = NULL WHERE day = $1`, day)

	add := run(t, e.Vars, append([]string{"hold", "add", "-d", "orders", "--type", "analytics", "--from", d, "--to", d,
		"--reason", "case 24-117"}, cfg...)...)
	if add.code != 0 || strings.TrimSpace(add.stdout) != "1" || !strings.Contains(add.stderr, "1 object(s) held") {
		t.Fatalf("hold add: exit %d, stdout %q, stderr %q; want the id alone on stdout", add.code, add.stdout, add.stderr)
	}
	who := e.Count(`SELECT count(*) FROM strata.holds WHERE id = 1 AND created_by = $1 AND created_via = 'cli' AND reason = 'case 24-117'`, actor.OSUser())
	if who != 1 {
		t.Fatal("the hold is not recorded with the OS user via the cli")
	}

	purge := run(t, e.Vars, append([]string{"purge"}, cfg...)...)
	if purge.code != 0 || !strings.Contains(purge.stdout, `under legal hold 1 ("case 24-117")`) ||
		strings.Contains(purge.stdout, "expired svc/") {
		t.Fatalf("purge: exit %d\n%s%s", purge.code, purge.stdout, purge.stderr)
	}

	list := run(t, e.Vars, append([]string{"hold", "list", "--format", "json"}, cfg...)...)
	var hs []struct {
		ID      int64  `json:"id"`
		Reason  string `json:"reason"`
		Objects int64  `json:"objects"`
	}
	if err := json.Unmarshal([]byte(list.stdout), &hs); err != nil || list.code != 0 || len(hs) != 1 || hs[0].Objects != 1 {
		t.Fatalf("hold list: exit %d, %q (%v)", list.code, list.stdout, err)
	}
	if text := run(t, e.Vars, append([]string{"hold", "list"}, cfg...)...); !strings.Contains(text.stdout, "case 24-117") {
		t.Fatalf("hold list (text): %q", text.stdout)
	}

	rel := run(t, e.Vars, append([]string{"hold", "release", "1", "--reason", "settled"}, cfg...)...)
	if rel.code != 0 || !strings.Contains(rel.stdout, "released hold 1") {
		t.Fatalf("hold release: exit %d %q %q", rel.code, rel.stdout, rel.stderr)
	}
	again := run(t, e.Vars, append([]string{"hold", "release", "1", "--reason", "settled"}, cfg...)...)
	if again.code != cli.ExitUsage || !strings.Contains(again.stderr, "already released") {
		t.Fatalf("second release: exit %d %q", again.code, again.stderr)
	}
	if run(t, e.Vars, append([]string{"hold", "list"}, cfg...)...).stdout != "no holds\n" {
		t.Fatal("a released hold is listed without --all")
	}
	purge = run(t, e.Vars, append([]string{"purge"}, cfg...)...)
	if purge.code != 0 || !strings.Contains(purge.stdout, "expired svc/analytics/orders/"+strings.ReplaceAll(d, "-", "/")) {
		t.Fatalf("purge after release: exit %d\n%s%s", purge.code, purge.stdout, purge.stderr)
	}
}

func TestHoldBadInputExitsTwoAndSaysWhatToDo(t *testing.T) {
	e := setupEnv(t)
	for name, c := range map[string]struct {
		args []string
		want string
	}{
		"no subcommand":     {[]string{"hold"}, "hold add|list|release"},
		"no reason":         {[]string{"hold", "add", "-d", "orders", "--from", "2024-01-01", "--to", "2024-01-02"}, "--reason is required"},
		"no dataset":        {[]string{"hold", "add", "--from", "2024-01-01", "--to", "2024-01-02", "--reason", "r"}, "--dataset"},
		"a reversed period": {[]string{"hold", "add", "-d", "orders", "--from", "2024-02-01", "--to", "2024-01-01", "--reason", "r"}, "before"},
		"an unknown type":   {[]string{"hold", "add", "-d", "orders", "--type", "all", "--from", "2024-01-01", "--to", "2024-01-02", "--reason", "r"}, "source, analytics or both"},
		"an unknown dataset": {[]string{"hold", "add", "-d", "nope", "--from", "2024-01-01", "--to", "2024-01-02", "--reason", "r"},
			"no dataset"},
		"a missing layer":  {[]string{"hold", "add", "-d", "orders", "--type", "source", "--from", "2024-01-01", "--to", "2024-01-02", "--reason", "r"}, "no source table"},
		"a bad id":         {[]string{"hold", "release", "x1", "--reason", "r"}, "hold id"},
		"an unknown id":    {[]string{"hold", "release", "42", "--reason", "r"}, "no such hold"},
		"a release reason": {[]string{"hold", "release", "1"}, "--reason is required"},
		"a bad format":     {[]string{"hold", "list", "--format", "xml"}, "--format"},
	} {
		t.Run(name, func(t *testing.T) {
			r := run(t, e.Vars, append(c.args, "--config", e.ConfigPath)...)
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, c.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", r.code, r.stderr, c.want)
			}
		})
	}
	if n := e.Count(`SELECT count(*) FROM strata.holds`); n != 0 {
		t.Fatalf("%d holds recorded by bad requests", n)
	}
}
