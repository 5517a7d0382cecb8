package hold_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/stratahq/strata/internal/actor"
	"github.com/stratahq/strata/internal/catalog"
	"github.com/stratahq/strata/internal/hold"
	"github.com/stratahq/strata/internal/pgtest"
)

// newDB returns a fresh database with the catalog's schema.
func newDB(t *testing.T) *pgxpool.Pool {
	t.Helper()
	_, pool := pgtest.NewDB(t)
	cat, err := catalog.Open(context.Background(), pool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cat.Close)
	return pool
}

var day0 = time.Date(2024, 11, 1, 0, 0, 0, 0, time.UTC)

// addObject inserts a committed catalog object of dataset and type on day
// (with rows between min and max, or no times when min is zero).
func addObject(t *testing.T, pool *pgxpool.Pool, id int64, dataset, typ string, day time.Time, minT, maxT time.Time) string {
	t.Helper()
	key := fmt.Sprintf("p/%s/%s/%s/chunk_%d.parquet", typ, dataset, day.Format("2006/01/02"), id)
	var mn, mx *time.Time
	if !minT.IsZero() {
		mn, mx = &minT, &maxT
	}
	_, err := pool.Exec(context.Background(), `INSERT INTO strata.objects (id, dataset, archive_type, day, key, state,
		source_table, rows, bytes, sha256, min_time, max_time, schema_fingerprint, expires_at)
		VALUES ($1, $2, $3, $4, $5, 'committed', 't', 1, 1, repeat('a', 64), $6, $7, 'f', now() - interval '1 day')`,
		id, dataset, typ, day, key, mn, mx)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func mustAdd(t *testing.T, ctx context.Context, pool *pgxpool.Pool, req hold.Request) hold.Hold {
	t.Helper()
	h, err := hold.Add(ctx, pool, req)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestAHoldIsRecordedWithWhoWhenAndWhyAndReleasedTheSame(t *testing.T) {
	pool := newDB(t)
	ctx := actor.With(context.Background(), actor.Actor{Name: "alice", Via: actor.ViaCLI})
	addObject(t, pool, 1, "orders", "analytics", day0, day0.Add(time.Hour), day0.Add(2*time.Hour))
	addObject(t, pool, 2, "orders", "source", day0, day0.Add(time.Hour), day0.Add(2*time.Hour))
	addObject(t, pool, 3, "orders", "analytics", day0.AddDate(0, 0, 5), time.Time{}, time.Time{})
	h := mustAdd(t, ctx, pool, hold.Request{Dataset: "orders", Type: hold.Analytics,
		From: day0, To: day0.AddDate(0, 0, 1), Reason: "  case 42  "})
	var role string
	if err := pool.QueryRow(ctx, `SELECT current_user`).Scan(&role); err != nil {
		t.Fatal(err)
	}
	if h.ID == 0 || h.Reason != "case 42" || h.Created.By != "alice" || h.Created.Via != "cli" || h.Created.DBRole != role ||
		h.Objects != 1 || !h.Active() || h.Type != hold.Analytics {
		t.Fatalf("added %+v", h)
	}
	ctx2 := actor.With(context.Background(), actor.Actor{Name: "bob-token", Via: actor.ViaHTTP, Addr: "10.0.0.1:5"})
	r, err := hold.Release(ctx2, pool, h.ID, "case settled")
	if err != nil {
		t.Fatal(err)
	}
	if r.Active() || r.Released.By != "bob-token" || r.Released.Via != "http" || r.Released.Addr != "10.0.0.1:5" ||
		r.Released.Reason != "case settled" || r.Released.DBRole != role || r.Objects != 0 {
		t.Fatalf("released %+v %+v", r, r.Released)
	}
	if _, err := hold.Release(ctx2, pool, h.ID, "again"); !errors.Is(err, hold.ErrReleased) {
		t.Fatalf("second release: %v", err)
	}
	if _, err := hold.Release(ctx2, pool, 999, "x"); !errors.Is(err, hold.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
	active, err := hold.List(ctx, pool, hold.Filter{})
	if err != nil || len(active) != 0 {
		t.Fatalf("active holds after release: %v %v", active, err)
	}
	all, err := hold.List(ctx, pool, hold.Filter{Dataset: "orders", All: true})
	if err != nil || len(all) != 1 || all[0].ID != h.ID {
		t.Fatalf("all holds: %v %v", all, err)
	}
}

func TestBadHoldRequestsAreRefusedAsInvalid(t *testing.T) {
	pool := newDB(t)
	ctx := context.Background()
	ok := hold.Request{Dataset: "orders", From: day0, To: day0.AddDate(0, 0, 1), Reason: "r"}
	for name, mod := range map[string]func(*hold.Request){
		"no reason":         func(r *hold.Request) { r.Reason = " \t" },
		"a reversed period": func(r *hold.Request) { r.From, r.To = r.To, r.From },
		"an empty period":   func(r *hold.Request) { r.To = r.From },
		"no period":         func(r *hold.Request) { r.From = time.Time{} },
		"an unknown type":   func(r *hold.Request) { r.Type = "both;drop" },
		"no dataset":        func(r *hold.Request) { r.Dataset = "" },
		"a NUL in reason":   func(r *hold.Request) { r.Reason = "a\x00b" },
		"a too long reason": func(r *hold.Request) { r.Reason = strings.Repeat("x", hold.MaxReason+1) },
	} {
		req := ok
		mod(&req)
		if _, err := hold.Add(ctx, pool, req); !errors.Is(err, hold.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	var n int64
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM strata.holds`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("holds recorded: %d %v", n, err)
	}
}

func TestCheckNamesTheHoldsCoveringAnObjectByItsTimesOrItsDay(t *testing.T) {
	pool := newDB(t)
	ctx := context.Background()
	inside := addObject(t, pool, 1, "orders", "analytics", day0, day0.Add(23*time.Hour), day0.Add(23*time.Hour))
	addObject(t, pool, 2, "orders", "analytics", day0, day0.Add(time.Hour), day0.Add(2*time.Hour))
	noTimes := addObject(t, pool, 3, "orders", "analytics", day0.AddDate(0, 0, 1), time.Time{}, time.Time{})
	addObject(t, pool, 4, "orders", "source", day0, day0.Add(23*time.Hour), day0.Add(23*time.Hour))
	addObject(t, pool, 5, "other", "analytics", day0, day0.Add(23*time.Hour), day0.Add(23*time.Hour))
	addObject(t, pool, 6, "orders", "analytics", day0.AddDate(0, 0, 2), time.Time{}, time.Time{})
	// [22:00 on day 0, end of day 1): object 2 (01:00-02:00) and day 2 lie outside.
	a := mustAdd(t, ctx, pool, hold.Request{Dataset: "orders", Type: hold.Analytics,
		From: day0.Add(22 * time.Hour), To: day0.AddDate(0, 0, 2), Reason: "first"})
	b := mustAdd(t, ctx, pool, hold.Request{Dataset: "orders", From: day0.Add(23 * time.Hour), To: day0.Add(24 * time.Hour), Reason: "second"})
	err := hold.Check(ctx, pool, "supersede", []int64{1, 2, 3, 4, 5, 6})
	var he *hold.HeldError
	if !errors.As(err, &he) || !errors.Is(err, hold.ErrHeld) {
		t.Fatalf("check: %v", err)
	}
	if fmt.Sprint(he.IDs()) != fmt.Sprint([]int64{a.ID, b.ID}) || len(he.Objects) != 3 ||
		he.Objects[0] != inside || he.Objects[1] != noTimes {
		t.Fatalf("refusal %+v", he)
	}
	for _, want := range []string{"supersede refused", `"first"`, `"second"`, "strata hold release"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q lacks %q", err, want)
		}
	}
	if err := hold.Check(ctx, pool, "supersede", []int64{2, 5, 6}); err != nil {
		t.Fatalf("objects outside every hold: %v", err)
	}
	cov, err := hold.Covering(ctx, pool, "orders", hold.Source, day0, day0.AddDate(0, 0, 1))
	if err != nil || len(cov) != 1 || cov[0].ID != b.ID {
		t.Fatalf("covering source: %v %v", cov, err)
	}
}

func TestTheCatalogRefusesToExpireSupersedeRestoreOrDeleteAHeldObject(t *testing.T) {
	pool := newDB(t)
	ctx := context.Background()
	key := addObject(t, pool, 1, "orders", "analytics", day0, day0.Add(time.Hour), day0.Add(time.Hour))
	addObject(t, pool, 2, "orders", "analytics", day0, day0.Add(time.Hour), day0.Add(time.Hour))
	h := mustAdd(t, ctx, pool, hold.Request{Dataset: "orders", From: day0, To: day0.AddDate(0, 0, 1), Reason: "audit"})
	for _, sql := range []string{
		`UPDATE strata.objects SET state = 'expired' WHERE id = 1`,
		`UPDATE strata.objects SET state = 'restored' WHERE id = 1`,
		`UPDATE strata.objects SET superseded_by = 2 WHERE id = 1`,
		`DELETE FROM strata.objects WHERE id = 1`,
	} {
		_, err := pool.Exec(ctx, sql)
		var he *hold.HeldError
		if err = hold.FromDB("test", err); !errors.As(err, &he) || he.Holds[0].ID != h.ID || he.Holds[0].Reason != "audit" || he.Objects[0] != key {
			t.Errorf("%s: %v", sql, err)
		}
	}
	if _, err := pool.Exec(ctx, `UPDATE strata.objects SET key_min = 'a' WHERE id = 1`); err != nil {
		t.Fatalf("an update that changes nothing held: %v", err)
	}
	if _, err := hold.Release(ctx, pool, h.ID, "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE strata.objects SET state = 'expired' WHERE id = 1`); err != nil {
		t.Fatalf("expire after release: %v", err)
	}
}
