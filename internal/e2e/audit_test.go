package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/actor"
	"github.com/stratahq/strata/internal/audit"
)

// auditWorld is a world whose audit trail holds records of actions through
// the three doors and an archive run (which anchors the chain's head).
func auditWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t, backendLocal)
	w.createOrders(4, 50)
	period := []string{"--from", "2025-01-01", "--to", "2027-12-31"}
	w.mustSucceed(nil, append([]string{"retrieve", "-d", dataset, "--include-live"}, period...)...) // 1: CLI
	p := w.startServe(nil)                                                                          // 2: HTTP
	resp, err := http.Get(p.url + "/v1/datasets/orders/archive/analytics?from=2025-01-01&to=2027-12-31")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP retrieve: %s", resp.Status)
	}
	p.stop(t)
	goAPIRetrieve(t, w)                                                           // 3: Go API
	w.mustSucceed(withRetention("1d"), "archive")                                 // 4, anchored
	w.mustSucceed(nil, append([]string{"retrieve", "-d", dataset}, period...)...) // 5
	return w
}

// goAPIRetrieve retrieves through the Go API, as a program labelled
// "report-job" would.
func goAPIRetrieve(t *testing.T, w *world) {
	t.Helper()
	ctx := actor.With(context.Background(), actor.Actor{Name: "report-job", Via: actor.ViaAPI})
	svc, err := strata.Open(ctx, strata.Options{ConfigFile: w.config, Getenv: func(string) string { return "" }, SpoolDir: w.dir})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	rows, err := svc.RetrieveArchivedData(ctx, strata.RetrieveRequest{Table: dataset, IncludeLive: true,
		Start: mustTime(t, "2025-01-01"), End: mustTime(t, "2027-12-31")})
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	tm, err := strata.ParseTime(s, false)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}

// Each door's action is recorded once, with the right who and via, the
// database role and the rows it returned (checked against SQL).
func TestActionsThroughEveryDoorAreRecordedWithWhoDidThem(t *testing.T) {
	w := auditWorld(t)
	r := w.mustSucceed(nil, "audit", "list", "-d", dataset, "--format", "json")
	var recs []audit.Record
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var rec audit.Record
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		recs = append(recs, rec)
	}
	var role string
	if err := w.pool.QueryRow(context.Background(), `SELECT current_user`).Scan(&role); err != nil {
		t.Fatal(err)
	}
	osUser := actor.OSUser()
	want := []struct{ actor, via, action string }{
		{osUser, "cli", "retrieve"}, {"anonymous", "http", "retrieve"}, {"report-job", "api", "retrieve"},
		{osUser, "cli", "archive.analytics"}, {osUser, "cli", "retrieve"},
	}
	if len(recs) != len(want) {
		t.Fatalf("%d records, want %d:\n%s", len(recs), len(want), r.stdout)
	}
	all := w.count(`SELECT count(*) FROM orders`)
	archived := w.count(`SELECT coalesce(sum(rows), 0) FROM strata.objects`)
	for i, rec := range recs {
		if rec.Actor != want[i].actor || rec.Via != want[i].via || rec.Action != want[i].action || rec.DBRole != role || rec.Result != "ok" {
			t.Errorf("record %d: %s via %s role %s did %s (%s), want %+v", rec.Seq, rec.Actor, rec.Via, rec.DBRole, rec.Action, rec.Result, want[i])
		}
	}
	if recs[0].Rows != all+archived || recs[1].Rows != 0 || recs[3].Rows != archived || recs[4].Rows != archived {
		t.Errorf("rows %d %d %d %d, want %d (live), 0 (nothing archived yet), %d, %d", recs[0].Rows, recs[1].Rows, recs[3].Rows, recs[4].Rows, all+archived, archived, archived)
	}
	if archived == 0 {
		t.Fatal("the archive run archived nothing: the scenario tests nothing")
	}
	if recs[1].Addr != "127.0.0.1" {
		t.Errorf("HTTP record's address %q", recs[1].Addr)
	}
	w.mustSucceed(nil, "audit", "verify")
}

// tamperSQL runs SQL on the trail as a superuser could: the trigger that
// refuses changes dropped first, and put back after.
func (w *world) tamperSQL(sql ...string) {
	w.t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		for _, s := range append(append([]string{`DROP TRIGGER audit_append_only ON strata.audit`}, sql...),
			`CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON strata.audit FOR EACH ROW EXECUTE FUNCTION strata.audit_refuse()`) {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
}

// Edits, deletions and reorderings made with SQL (the trigger dropped, as
// a superuser can) are each caught by strata audit verify: exit 3, the
// record named. The trail is put back between cases, and verify passes
// again each time.
func TestAuditVerifyCatchesRecordsEditedDeletedOrReordered(t *testing.T) {
	w := auditWorld(t)
	w.exec(`CREATE TABLE audit_backup AS SELECT * FROM strata.audit`)
	cases := []struct {
		name string
		sql  []string
		want string
	}{
		{"an actor changed", []string{`UPDATE strata.audit SET actor = 'someone' WHERE seq = 2`}, "edited 2 record 2 was edited"},
		{"rows changed", []string{`UPDATE strata.audit SET rows = rows + 1 WHERE seq = 3`}, "edited 3 record 3 was edited"},
		{"a record deleted", []string{`DELETE FROM strata.audit WHERE seq = 2`}, "missing 3 records 2 to 2 are missing"},
		{"the last record deleted", []string{`DELETE FROM strata.audit WHERE seq = 4`}, "anchor 4 anchor "},
		{"two records swapped", []string{
			`UPDATE strata.audit SET seq = seq + 100 WHERE seq IN (2, 3)`,
			`UPDATE strata.audit SET seq = CASE seq WHEN 102 THEN 3 ELSE 2 END WHERE seq IN (102, 103)`,
		}, "broken_link 3 record 3 does not follow record 2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w.t = t
			w.tamperSQL(c.sql...)
			r := w.strata(nil, "audit", "verify")
			if r.code != 3 || !strings.Contains(r.stdout, c.want) {
				t.Errorf("want exit 3 naming %q, got %s", c.want, r)
			}
			w.tamperSQL(`DELETE FROM strata.audit`, `INSERT INTO strata.audit SELECT * FROM audit_backup`)
			w.mustSucceed(nil, "audit", "verify")
		})
	}
	w.t = t
}

// A chain rewritten from one record on with every hash recomputed is
// consistent in itself: only the anchor written at the archive run
// catches it, and verify names the anchored record.
func TestAuditVerifyCatchesAChainRewrittenConsistently(t *testing.T) {
	w := auditWorld(t)
	ctx := context.Background()
	rows, err := w.pool.Query(ctx, `SELECT seq, at, actor, via, addr, db_role, action, dataset, period_from, period_to,
		rows, objects, result, error, detail, prev_hash, hash FROM strata.audit ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (audit.Record, error) {
		var a audit.Record
		err := r.Scan(&a.Seq, &a.At, &a.Actor, &a.Via, &a.Addr, &a.DBRole, &a.Action, &a.Dataset, &a.From, &a.To,
			&a.Rows, &a.Objects, &a.Result, &a.Error, &a.Detail, &a.PrevHash, &a.Hash)
		return a, err
	})
	if err != nil {
		t.Fatal(err)
	}
	recs[1].Actor = "nobody" // hide who read over HTTP, and rewrite the chain after it
	var sql []string
	for i := 1; i < len(recs); i++ {
		recs[i].PrevHash = recs[i-1].Hash
		recs[i].Hash = recs[i].ComputeHash()
		sql = append(sql, fmt.Sprintf(`UPDATE strata.audit SET actor = %s, prev_hash = '%s', hash = '%s' WHERE seq = %d`,
			quote(recs[i].Actor), recs[i].PrevHash, recs[i].Hash, recs[i].Seq))
	}
	w.tamperSQL(sql...)
	r := w.strata(nil, "audit", "verify")
	if r.code != 3 || !strings.Contains(r.stdout, "anchor 4 record 4 does not match anchor") || strings.Contains(r.stdout, "edited") {
		t.Fatalf("want exit 3 naming record 4 and its anchor only, got %s", r)
	}
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
