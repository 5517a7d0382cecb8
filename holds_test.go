package strata_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stratahq/strata"
	"github.com/stratahq/strata/internal/actor"
	"github.com/stratahq/strata/internal/archive"
	"github.com/stratahq/strata/internal/hold"
	"github.com/stratahq/strata/internal/storage"
	"github.com/stratahq/strata/internal/testenv"
	"github.com/stratahq/strata/internal/testenv/testsvc"
)

// holdWorld is orders over 95 days (3 rows a day) on storage of kind,
// its days past the 90-day retention archived, and every object made
// past its expiry (as if seven years had gone by).
func holdWorld(t *testing.T, kind string) *world {
	t.Helper()
	e := testenv.New(t, testenv.Options{Storage: kind, Datasets: []testenv.Dataset{{Name: "orders", Days: 95, PerDay: 3}}})
	w := &world{svc: testsvc.Open(t, e, strata.Options{}), pool: e.Pool}
	if rep, err := w.svc.ArchiveAnalytics(context.Background(), "orders", archive.Options{}); err != nil || len(rep.Days) < 3 {
		t.Fatalf("archive: %+v %v", rep, err)
	}
	if _, err := w.pool.Exec(context.Background(), `UPDATE strata.objects SET expires_at = now() - interval '1 day', retain_until = NULL`); err != nil {
		t.Fatal(err)
	}
	return w
}

// holdKinds are testenv's kinds and, with S3, a bucket with Object Lock,
// whose legal hold a plain S3 bucket lacks.
func holdKinds(t *testing.T) []string {
	kinds := testenv.Kinds(t)
	if slices.Contains(kinds, testenv.S3) {
		kinds = append(kinds, testenv.S3Locked)
	}
	return kinds
}

// legalHoldWorks says whether the world's storage keeps a legal hold: its
// backend has the call, and the store the feature (an S3 bucket without
// Object Lock and Azurite have not; there the backend says ErrUnsupported
// and Strata alone enforces the hold).
func legalHoldWorks(w *world, kind string) bool {
	return w.svc.Store().Caps().LegalHold && kind != testenv.S3 && kind != testenv.Azurite
}

// keysOfDay returns the keys of the objects of the day, by id.
func (w *world) keysOfDay(t *testing.T, day time.Time) []string {
	t.Helper()
	rows, err := w.pool.Query(context.Background(), `SELECT key FROM strata.objects WHERE day = $1 ORDER BY id`, day)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

// storageHeld reports whether the object carries the storage's legal hold
// (false where the storage has none).
func (w *world) storageHeld(t *testing.T, key string) bool {
	t.Helper()
	info, err := w.svc.Store().Stat(context.Background(), storage.MustKey(strings.Split(key, "/")...))
	if err != nil {
		t.Fatalf("stat %s: %v", key, err)
	}
	return info.Retention.LegalHold
}

func (w *world) purgeExpiry(t *testing.T) archive.ExpiryReport {
	t.Helper()
	rep, err := w.svc.Purge(context.Background(), "orders", false)
	if err != nil {
		t.Fatalf("purge: %v", err)
	}
	return rep.Expiry
}

func TestAHeldObjectOutlivesItsExpiryAndGoesAfterReleaseOnEveryStorage(t *testing.T) {
	for _, kind := range holdKinds(t) {
		t.Run(kind, func(t *testing.T) {
			ctx := actor.With(context.Background(), actor.Actor{Name: "counsel", Via: actor.ViaAPI})
			w := holdWorld(t, kind)
			legal := legalHoldWorks(w, kind)
			day := w.day(t, 93)
			end, _ := strata.ParseTime(day.Format(time.DateOnly), true) // the whole day, as --to 2024-11-01 means
			h, err := w.svc.AddHold(ctx, strata.HoldRequest{Dataset: "orders", Type: "analytics", From: day, To: end, Reason: "case 24-117"})
			if err != nil {
				t.Fatal(err)
			}
			held := w.keysOfDay(t, day)
			if len(held) != 1 || h.Objects != 1 || h.Created.By != "counsel" || h.To != day.AddDate(0, 0, 1) {
				t.Fatalf("hold %+v over %v", h, held)
			}
			if got := w.storageHeld(t, held[0]); got != legal || h.StorageHeld != map[bool]int64{true: 1}[legal] {
				t.Fatalf("storage legal hold %v (recorded %d); the storage has one: %v", got, h.StorageHeld, legal)
			}

			exp := w.purgeExpiry(t)
			if len(exp.Held) != 1 || exp.Held[0].Key != held[0] || exp.Held[0].Holds[0].ID != h.ID || slices.Contains(exp.Expired, held[0]) ||
				len(exp.Expired) == 0 {
				t.Fatalf("purge: %+v; want %s kept under hold %d and the rest expired", exp, held[0], h.ID)
			}
			w.storageHeld(t, held[0]) // still there

			// A row arriving late for the held day is archived into it and held at once.
			if _, err := w.pool.Exec(ctx, `INSERT INTO orders SELECT (jsonb_populate_record(o,
				jsonb_build_object('order_id', o.order_id + 1000000, 'ordered_at', $1::timestamptz + interval '1 hour'))).*
				FROM orders o ORDER BY order_id LIMIT 1`, day); err != nil {
				t.Fatal(err)
			}
			if rep, err := w.svc.ArchiveAnalytics(ctx, "orders", archive.Options{}); err != nil || rep.Rows() != 1 {
				t.Fatalf("archive the late row: %+v %v", rep, err)
			}
			held = w.keysOfDay(t, day)
			if len(held) != 2 || w.storageHeld(t, held[1]) != legal {
				t.Fatalf("the late chunk %v: storage legal hold %v, want %v", held, !legal, legal)
			}
			if hs, err := w.svc.ListHolds(ctx, strata.HoldFilter{Dataset: "orders"}); err != nil || len(hs) != 1 || hs[0].Objects != 2 {
				t.Fatalf("list: %+v %v", hs, err)
			}

			rel, err := w.svc.ReleaseHold(ctx, h.ID, "case settled")
			if err != nil || rel.Released == nil || rel.Released.Reason != "case settled" || rel.StorageHeld != 0 {
				t.Fatalf("release: %+v %v", rel, err)
			}
			for _, k := range held {
				if w.storageHeld(t, k) {
					t.Fatalf("%s still carries the storage legal hold after release", k)
				}
			}
			if _, err := w.pool.Exec(ctx, `UPDATE strata.objects SET expires_at = now() - interval '1 day', retain_until = NULL`); err != nil {
				t.Fatal(err)
			}
			exp = w.purgeExpiry(t)
			if len(exp.Held) != 0 || len(exp.Expired) != 2 || !slices.Contains(exp.Expired, held[0]) || !slices.Contains(exp.Expired, held[1]) {
				t.Fatalf("purge after release: %+v; want %v expired", exp, held)
			}
			for _, k := range held {
				if _, err := w.svc.Store().Stat(ctx, storage.MustKey(strings.Split(k, "/")...)); !errors.Is(err, storage.ErrNotExist) {
					t.Fatalf("%s still in storage after expiry: %v", k, err)
				}
			}
		})
	}
}

// A crash between a hold's commit and the storage calls leaves held objects
// without the storage's flag; the next list sets it. On storage without a
// legal hold the flags stay unset and Strata alone enforces the hold.
func TestHoldListRepairsStorageLegalHoldsACrashLeftUnset(t *testing.T) {
	for _, kind := range holdKinds(t) {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			w := holdWorld(t, kind)
			legal := legalHoldWorks(w, kind)
			day := w.day(t, 92)
			// hold.Add alone is the hold committed and the process dead before the storage calls.
			h, err := hold.Add(ctx, w.svc.Pool(), hold.Request{Dataset: "orders", From: day, To: day.AddDate(0, 0, 1), Reason: "crash test"})
			if err != nil {
				t.Fatal(err)
			}
			key := w.keysOfDay(t, day)[0]
			if w.storageHeld(t, key) {
				t.Fatal("flag set before any reconciliation")
			}
			hs, err := w.svc.ListHolds(ctx, strata.HoldFilter{})
			if err != nil || len(hs) != 1 || hs[0].ID != h.ID {
				t.Fatalf("list: %+v %v", hs, err)
			}
			if got := w.storageHeld(t, key); got != legal || hs[0].StorageHeld != map[bool]int64{true: 1}[legal] {
				t.Fatalf("after list: storage legal hold %v (recorded %d), want %v", got, hs[0].StorageHeld, legal)
			}
			if legal {
				if err := w.svc.Store().Delete(ctx, storage.MustKey(strings.Split(key, "/")...)); !errors.Is(err, storage.ErrImmutable) {
					t.Fatalf("deleting a held object from storage directly: %v, want ErrImmutable", err)
				}
			}
			sync, err := w.svc.ReconcileHolds(ctx)
			if err != nil || sync.Set != 0 || sync.Cleared != 0 || sync.Unsupported == legal {
				t.Fatalf("a second reconciliation: %+v %v, want nothing to do", sync, err)
			}
		})
	}
}

func TestHoldRequestsTheAPIRefuses(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t)
	day := w.day(t, 93)
	for name, c := range map[string]struct {
		req  strata.HoldRequest
		kind error
	}{
		"an unknown dataset":        {strata.HoldRequest{Dataset: "nope", From: day, To: day, Reason: "r"}, strata.ErrNotFound},
		"a layer the dataset lacks": {strata.HoldRequest{Dataset: "orders", Type: "source", From: day, To: day, Reason: "r"}, strata.ErrNotFound},
		"a bad type":                {strata.HoldRequest{Dataset: "orders", Type: "all", From: day, To: day, Reason: "r"}, strata.ErrInvalid},
		"no reason":                 {strata.HoldRequest{Dataset: "orders", From: day, To: day}, strata.ErrInvalid},
		"a reversed period":         {strata.HoldRequest{Dataset: "orders", From: day, To: day.AddDate(0, 0, -2), Reason: "r"}, strata.ErrInvalid},
		"no period":                 {strata.HoldRequest{Dataset: "orders", Reason: "r"}, strata.ErrInvalid},
	} {
		if _, err := w.svc.AddHold(ctx, c.req); !errors.Is(err, c.kind) {
			t.Errorf("%s: %v, want %v", name, err, c.kind)
		}
	}
	if _, err := w.svc.ReleaseHold(ctx, 12345, "r"); !errors.Is(err, strata.ErrNotFound) {
		t.Errorf("release of an unknown hold: %v", err)
	}
	h, err := w.svc.AddHold(ctx, strata.HoldRequest{Dataset: "orders", From: day, To: day, Reason: "r"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.ReleaseHold(ctx, h.ID, "done"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.svc.ReleaseHold(ctx, h.ID, "again"); !errors.Is(err, strata.ErrConflict) {
		t.Errorf("second release: %v, want ErrConflict", err)
	}
	if n := w.count(t, `SELECT count(*) FROM strata.holds`); n != 1 {
		t.Fatalf("%d holds recorded, want 1", n)
	}
}
