package audit_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/actor"
	"github.com/stratahq/strata/internal/audit"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/pgtest"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/storage/local"
)

// The canonical form and hash of this record were computed with another
// tool (Python: json.dumps(r, sort_keys=True, separators=(',', ':'),
// ensure_ascii=False), then hashlib.sha256), as docs/COMPLIANCE.md tells
// an auditor to.
func TestCanonicalFormIsWhatAnotherToolComputes(t *testing.T) {
	from := time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC)
	r := audit.Record{Seq: 1, At: time.Date(2024, 3, 15, 11, 20, 30, 123456000, time.FixedZone("CET", 3600)),
		Actor: "alice", Via: "cli", DBRole: "strata", Action: "retrieve", Dataset: "orders", From: &from,
		Rows: 120, Objects: 2, Result: "ok", Detail: "where note = 'a\"b\\\\c\n\x01é'", PrevHash: audit.Genesis}
	want := `{"action":"retrieve","actor":"alice","addr":"","at":"2024-03-15T10:20:30.123456000Z","dataset":"orders","db_role":"strata","detail":"where note = 'a\"b\\\\c\n\u0001é'","error":"","from":"2024-03-15T00:00:00.000000000Z","objects":2,"prev":"0000000000000000000000000000000000000000000000000000000000000000","result":"ok","rows":120,"seq":1,"to":null,"via":"cli"}`
	if got := string(r.Canonical()); got != want {
		t.Fatalf("canonical form\n got %s\nwant %s", got, want)
	}
	if got := r.ComputeHash(); got != "78ce68b6820f7f292ec4910d349fb0bdfa30f1e381da6f387eb1b611c18fb566" {
		t.Fatalf("hash %s", got)
	}
}

// world is a migrated database, a local archive and a trail over them.
type world struct {
	url   string
	pool  *pgxpool.Pool
	store storage.Backend
	dir   storage.Key
	anc   *audit.Anchorer
	trail *audit.Trail
}

func newWorld(t testing.TB) *world {
	t.Helper()
	url, pool := pgtest.NewDB(t)
	cat, err := catalog.Open(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cat.Close)
	store, err := local.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := &world{url: url, pool: pool, store: store, dir: storage.MustKey("pfx", "audit")}
	w.anc = &audit.Anchorer{Store: store, Dir: w.dir, Every: time.Hour}
	w.trail = audit.New(pool, w.anc, nil)
	return w
}

func (w *world) record(t testing.TB, ctx context.Context, n int) {
	t.Helper()
	for i := range n {
		e := audit.Entry{Action: audit.ActionRetrieve, Dataset: "orders", Rows: int64(i),
			From: time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC), To: time.Date(2024, 3, 15, 23, 59, 59, 0, time.UTC)}
		if i%3 == 1 {
			e.Err = errors.New("boom")
		}
		if err := w.trail.Record(ctx, e); !errors.Is(err, e.Err) {
			t.Fatalf("record %d: %v", i, err)
		}
	}
}

func (w *world) verify(t testing.TB) *audit.Report {
	t.Helper()
	rep, err := audit.Verify(context.Background(), w.pool, w.store, w.dir)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestRecordsChainAndCarryWhoFromTheContext(t *testing.T) {
	w := newWorld(t)
	ctx := actor.With(context.Background(), actor.Actor{Name: "alice", Via: actor.ViaHTTP, Addr: "10.0.0.7"})
	w.record(t, ctx, 5)
	recs, err := audit.List(ctx, w.pool, audit.Filter{Dataset: "orders", Who: "alice"})
	if err != nil || len(recs) != 5 {
		t.Fatalf("list: %d records, %v", len(recs), err)
	}
	var role string
	if err := w.pool.QueryRow(ctx, `SELECT current_user`).Scan(&role); err != nil {
		t.Fatal(err)
	}
	prev := audit.Genesis
	for i, r := range recs {
		if r.Seq != int64(i+1) || r.PrevHash != prev || r.Hash != r.ComputeHash() {
			t.Errorf("record %d: seq %d prev %s hash %s", i, r.Seq, r.PrevHash, r.Hash)
		}
		if r.Actor != "alice" || r.Via != "http" || r.Addr != "10.0.0.7" || r.DBRole != role {
			t.Errorf("record %d: who %q via %q addr %q role %q (want role %q)", i, r.Actor, r.Via, r.Addr, r.DBRole, role)
		}
		wantResult := "ok"
		if i%3 == 1 {
			wantResult = "error"
		}
		if r.Result != wantResult || (wantResult == "error") != (r.Error == "boom") {
			t.Errorf("record %d: result %q error %q", i, r.Result, r.Error)
		}
		prev = r.Hash
	}
	if n, err := audit.List(ctx, w.pool, audit.Filter{Who: "bob"}); err != nil || len(n) != 0 {
		t.Errorf("who bob: %d records, %v", len(n), err)
	}
	if n, _ := audit.List(ctx, w.pool, audit.Filter{From: time.Date(2024, 3, 16, 0, 0, 0, 0, time.UTC), To: time.Date(2024, 3, 17, 0, 0, 0, 0, time.UTC)}); len(n) != 0 {
		t.Errorf("a period after the records' matched %d", len(n))
	}
	if rep := w.verify(t); !rep.OK() || rep.Records != 5 || rep.Anchors != 0 || rep.Unanchored != 5 || rep.Head.Seq != 5 {
		t.Errorf("verify: %+v", rep)
	}
}

func TestTheTableRefusesUpdateDeleteAndTruncate(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.record(t, ctx, 2)
	for _, sql := range []string{
		`UPDATE strata.audit SET actor = 'mallory' WHERE seq = 1`,
		`DELETE FROM strata.audit WHERE seq = 2`,
		`TRUNCATE strata.audit`,
	} {
		_, err := w.pool.Exec(ctx, sql)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: %v", sql, err)
		}
	}
	if rep := w.verify(t); !rep.OK() || rep.Records != 2 {
		t.Errorf("verify after refused changes: %+v", rep)
	}
}

// tamper runs SQL with the trigger dropped, as a superuser could.
func (w *world) tamper(t testing.TB, sql ...string) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, w.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `ALTER TABLE strata.audit DISABLE TRIGGER USER`); err != nil {
			return err
		}
		for _, s := range sql {
			if _, err := tx.Exec(ctx, s); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		_, err := tx.Exec(ctx, `ALTER TABLE strata.audit ENABLE TRIGGER USER`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestVerifyNamesEveryKindOfTampering(t *testing.T) {
	cases := []struct {
		name string
		sql  []string
		kind string
		seq  int64
	}{
		{"an edited record", []string{`UPDATE strata.audit SET actor = 'someone else' WHERE seq = 4`}, audit.ProblemEdited, 4},
		{"an edited record given a new hash",
			[]string{`UPDATE strata.audit SET rows = 0, hash = repeat('a', 64) WHERE seq = 4`}, audit.ProblemLink, 5},
		{"a deleted record", []string{`DELETE FROM strata.audit WHERE seq = 3`}, audit.ProblemMissing, 4},
		{"the last records deleted", []string{`DELETE FROM strata.audit WHERE seq >= 5`}, audit.ProblemAnchor, 6},
		{"two records swapped", []string{
			`UPDATE strata.audit SET seq = seq + 1000 WHERE seq IN (3, 4)`,
			`UPDATE strata.audit SET seq = CASE seq WHEN 1003 THEN 4 ELSE 3 END WHERE seq IN (1003, 1004)`,
		}, audit.ProblemEdited, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			ctx := context.Background()
			w.record(t, ctx, 6)
			if err := w.anc.MaybeAnchor(ctx, w.pool, true); err != nil {
				t.Fatal(err)
			}
			w.tamper(t, c.sql...)
			rep := w.verify(t)
			if rep.OK() || !hasProblem(rep, c.kind, c.seq) {
				t.Fatalf("want %s at %d, got %+v", c.kind, c.seq, rep.Problems)
			}
		})
	}
}

func hasProblem(rep *audit.Report, kind string, seq int64) bool {
	for _, p := range rep.Problems {
		if p.Kind == kind && p.Seq == seq {
			return true
		}
	}
	return false
}

// A chain rewritten consistently (every hash recomputed) passes every
// check inside the database: only the anchors catch it.
func TestARewrittenChainIsCaughtByTheAnchors(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.record(t, ctx, 4)
	if err := w.anc.MaybeAnchor(ctx, w.pool, true); err != nil {
		t.Fatal(err)
	}
	w.record(t, ctx, 2)
	recs, err := audit.List(ctx, w.pool, audit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	recs[1].Actor = "nobody" // record 2, rewritten and the chain recomputed from there
	prev := recs[0].Hash
	var sql []string
	for i := 1; i < len(recs); i++ {
		recs[i].PrevHash = prev
		recs[i].Hash = recs[i].ComputeHash()
		prev = recs[i].Hash
		sql = append(sql, fmt.Sprintf(`UPDATE strata.audit SET actor = '%s', prev_hash = '%s', hash = '%s' WHERE seq = %d`,
			recs[i].Actor, recs[i].PrevHash, recs[i].Hash, recs[i].Seq))
	}
	w.tamper(t, sql...)
	rep := w.verify(t)
	if rep.OK() || len(rep.Problems) != 1 || !hasProblem(rep, audit.ProblemAnchor, 4) {
		t.Fatalf("want only an anchor problem at 4, got %+v", rep.Problems)
	}
	if rep.Unanchored != 2 {
		t.Errorf("unanchored %d, want 2", rep.Unanchored)
	}
}

func TestAnchorsAreWrittenWhenDueAndOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.anc.Every = time.Nanosecond // every record is due
	w.record(t, ctx, 3)
	if n := countAnchors(t, w); n != 3 {
		t.Fatalf("%d anchors after 3 records with anchor_every 1ns, want 3", n)
	}
	// Another process, anchoring every hour, finds in the catalog that an
	// anchor was just written, and writes none.
	other := &audit.Anchorer{Store: w.store, Dir: w.dir, Every: time.Hour}
	w.trail = audit.New(w.pool, other, nil)
	w.record(t, ctx, 2)
	if n := countAnchors(t, w); n != 3 {
		t.Fatalf("%d anchors after 2 more records within the hour, want 3", n)
	}
	// Forced (an archive run): the head is anchored; a second writer of the
	// same head (another process) finds the same bytes there and agrees.
	if err := other.MaybeAnchor(ctx, w.pool, true); err != nil {
		t.Fatal(err)
	}
	head, _, err := audit.Head(ctx, w.pool)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.anc.Write(ctx, w.pool, head); err != nil {
		t.Fatalf("anchoring the same head again: %v", err)
	}
	if rep := w.verify(t); !rep.OK() || rep.Anchors != 4 || rep.Unanchored != 0 || rep.Latest.Seq != 5 {
		t.Fatalf("verify: %+v", rep)
	}
}

func countAnchors(t *testing.T, w *world) int {
	t.Helper()
	anchors, bad, err := audit.ReadAnchors(context.Background(), w.store, w.dir)
	if err != nil || len(bad) > 0 {
		t.Fatal(err, bad)
	}
	return len(anchors)
}
