package archive_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/hold"
	"github.com/stratahq/strata/internal/storage"
)

// holdDay places a hold on the events dataset's day (both archives).
func holdDay(t *testing.T, f *fixture, day time.Time, reason string) hold.Hold {
	t.Helper()
	h, err := hold.Add(context.Background(), f.pool, hold.Request{Dataset: "events", From: day, To: day.AddDate(0, 0, 1), Reason: reason})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// wantHeld fails unless err is a refusal naming exactly hold h.
func wantHeld(t *testing.T, err error, h hold.Hold) {
	t.Helper()
	var he *hold.HeldError
	if !errors.As(err, &he) || len(he.Holds) != 1 || he.Holds[0].ID != h.ID || he.Holds[0].Reason != h.Reason ||
		!strings.Contains(err.Error(), h.Reason) {
		t.Fatalf("got %v, want a refusal naming hold %d (%q)", err, h.ID, h.Reason)
	}
}

func TestSupersedeRefusesAHeldObjectBeforeWritingAnything(t *testing.T) {
	ctx := context.Background()
	f, _, day := correctionFixture(t)
	before := notes(t, f, day)
	state := `SELECT (SELECT count(*) FROM strata.uploads) * 1000 + (SELECT count(*) FROM strata.objects WHERE superseded_by IS NOT NULL)`
	was := count(t, f.pool, state)
	h := holdDay(t, f, day, "case 7")

	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	corrections(t, tx)
	_, err = f.arch.Supersede(ctx, tx, f.spec, "corr", []time.Time{day})
	tx.Rollback(ctx)
	wantHeld(t, err, h)
	if now := count(t, f.pool, state); now != was {
		t.Fatalf("uploads*1000+superseded went from %d to %d: something was written", was, now)
	}
	if got := notes(t, f, day); !mapsEqual(got, before) {
		t.Fatal("the held day's rows changed")
	}

	if _, err := hold.Release(ctx, f.pool, h.ID, "case closed"); err != nil {
		t.Fatal(err)
	}
	if rep := supersede(t, f, day); len(rep.Superseded) != 1 {
		t.Fatalf("after release: %+v, want one object superseded", rep)
	}
}

func mapsEqual(a, b map[int64]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestRestoreIntoLayer2RefusesAHeldDayButCopiesItElsewhere(t *testing.T) {
	ctx := context.Background()
	f, days := restoreFixture(t)
	h := holdDay(t, f, days[1], "audit 2025")
	_, err := f.arch.Restore(ctx, f.spec, archive.RestoreOptions{From: days[0], To: days[2]})
	wantHeld(t, err, h)
	if n := count(t, f.pool, `SELECT count(*) FROM strata.objects WHERE state <> 'committed'`); n != 0 {
		t.Fatalf("%d objects changed state", n)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM events`); n != 10 {
		t.Fatalf("Layer 2 has %d rows, want the 10 never archived", n)
	}
	rep, err := f.arch.Restore(ctx, f.spec, archive.RestoreOptions{From: days[1], To: days[1], Into: []string{"copy_of_held"}})
	if err != nil || rep.Rows != 10 {
		t.Fatalf("restore --into: %+v %v", rep, err)
	}
}

func TestExpiryKeepsHeldObjectsNamingTheHoldAndExpiresThemAfterRelease(t *testing.T) {
	ctx := context.Background()
	f, days := restoreFixture(t)
	exec(t, f.pool, `UPDATE strata.objects SET expires_at = now() - interval '1 day', retain_until = NULL`)
	h := holdDay(t, f, days[1], "litigation hold")
	var heldKey string
	if err := f.pool.QueryRow(ctx, `SELECT key FROM strata.objects WHERE day = $1`, days[1]).Scan(&heldKey); err != nil {
		t.Fatal(err)
	}
	dry, err := f.arch.Expire(ctx, "events", true)
	if err != nil || len(dry.Expired) != 2 || len(dry.Held) != 1 || slices.Contains(dry.Expired, heldKey) {
		t.Fatalf("dry run: %+v %v", dry, err)
	}
	exp, err := f.arch.Expire(ctx, "events", false)
	if err != nil || len(exp.Expired) != 2 || len(exp.Held) != 1 || exp.Held[0].Key != heldKey ||
		exp.Held[0].Holds[0].ID != h.ID || exp.Held[0].Holds[0].Reason != "litigation hold" {
		t.Fatalf("expire: %+v %v; want 2 expired and %s kept under hold %d", exp, err, heldKey, h.ID)
	}
	if _, err := f.arch.Store.Stat(ctx, storage.MustKey(strings.Split(heldKey, "/")...)); err != nil {
		t.Fatalf("the held object is gone from storage: %v", err)
	}
	if n := count(t, f.pool, `SELECT count(*) FROM strata.objects WHERE state = 'committed'`); n != 1 {
		t.Fatalf("%d committed objects, want the held one", n)
	}
	if _, err := hold.Release(ctx, f.pool, h.ID, "released by counsel"); err != nil {
		t.Fatal(err)
	}
	exp, err = f.arch.Expire(ctx, "events", false)
	if err != nil || len(exp.Expired) != 1 || exp.Expired[0] != heldKey || len(exp.Held) != 0 {
		t.Fatalf("after release: %+v %v", exp, err)
	}
	if _, err := f.arch.Store.Stat(ctx, storage.MustKey(strings.Split(heldKey, "/")...)); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("released object still in storage: %v", err)
	}
}
